import Foundation
import TerrainWire
import XCTest

/// CURVE servers guarded by a ZAPAuthenticator, with real TCP clients.
final class ZAPAuthenticatorTests: XCTestCase {
    private struct Decision: Equatable {
        var key: [UInt8]
        var address: String
        var allowed: Bool
    }

    /// Records decisions and lets a test wait for the first denial.
    private final class DecisionLog: @unchecked Sendable {
        private let lock = NSLock()
        private var decisions: [Decision] = []
        private let denied = DispatchSemaphore(value: 0)

        func record(_ key: [UInt8], _ address: String, _ allowed: Bool) {
            lock.lock()
            decisions.append(Decision(key: key, address: address, allowed: allowed))
            let first = !allowed && !decisions.dropLast().contains { !$0.allowed }
            lock.unlock()
            if first { denied.signal() }
        }

        var all: [Decision] {
            lock.lock()
            defer { lock.unlock() }
            return decisions
        }

        func waitForDenial(seconds: Double) -> Bool {
            denied.wait(timeout: .now() + seconds) == .success
        }
    }

    private struct Server {
        let context: ZMQContext
        let authenticator: ZAPAuthenticator
        let router: ZMQSocket
        let endpoint: String
        let keys: CurveKeyPair
        let log: DecisionLog

        /// Closes the guarded socket first, then stops the handler (a CURVE server without a
        /// ZAP handler would admit anyone).
        func close() {
            router.close()
            authenticator.stop()
        }
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func startServer(allowing allowed: Set<[UInt8]>) throws -> Server {
        let context = try ZMQContext()
        let keys = try CurveKeyPair.generate()
        let log = DecisionLog()
        let authenticator = try ZAPAuthenticator(
            context: context, allowedClientKeys: allowed,
            onDecision: { key, address, allowed in log.record(key, address, allowed) })
        authenticator.start()
        let router = try ZMQSocket(context, .router)
        try router.makeCurveServer(secretKey: keys.secretKey)
        try router.setReceiveTimeout(5000)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        return Server(context: context, authenticator: authenticator, router: router, endpoint: endpoint, keys: keys, log: log)
    }

    private func curveClient(of server: Server, keys: CurveKeyPair) throws -> ZMQSocket {
        let dealer = try ZMQSocket(server.context, .dealer)
        try dealer.makeCurveClient(serverPublicKey: server.keys.publicKey, publicKey: keys.publicKey, secretKey: keys.secretKey)
        try dealer.setReceiveTimeout(5000)
        try dealer.connect(server.endpoint)
        return dealer
    }

    func testCurveClientWithAllowedKeyExchangesMessagesWithGuardedServer() throws {
        let clientKeys = try CurveKeyPair.generate()
        let server = try startServer(allowing: [clientKeys.publicKey])
        defer { server.close() }
        let client = try curveClient(of: server, keys: clientKeys)
        defer { client.close() }

        XCTAssertTrue(try client.send([bytes("hello"), [0, 1, 2]]))
        let request = try XCTUnwrap(try server.router.receive())
        XCTAssertEqual(Array(request.dropFirst()), [bytes("hello"), [0, 1, 2]])
        XCTAssertTrue(try server.router.send([request[0], bytes("welcome")]))
        XCTAssertEqual(try client.receive(), [bytes("welcome")])

        XCTAssertEqual(server.log.all.first, Decision(key: clientKeys.publicKey, address: "127.0.0.1", allowed: true))
    }

    func testCurveClientWithUnknownKeyGetsNothingAndIsReportedDenied() throws {
        let allowedKeys = try CurveKeyPair.generate()
        let intruderKeys = try CurveKeyPair.generate()
        let server = try startServer(allowing: [allowedKeys.publicKey])
        defer { server.close() }

        let intruder = try curveClient(of: server, keys: intruderKeys)
        defer { intruder.close() }
        XCTAssertTrue(try intruder.send([bytes("let me in")], dontWait: true))
        XCTAssertTrue(server.log.waitForDenial(seconds: 5), "no denial reported")
        try server.router.setReceiveTimeout(1000)
        XCTAssertNil(try server.router.receive(), "the intruder's message arrived")
        XCTAssertTrue(server.log.all.allSatisfy { $0.key == intruderKeys.publicKey && !$0.allowed })
        XCTAssertEqual(server.log.all.first?.address, "127.0.0.1")

        // The server keeps serving allowed clients meanwhile.
        let member = try curveClient(of: server, keys: allowedKeys)
        defer { member.close() }
        try server.router.setReceiveTimeout(5000)
        XCTAssertTrue(try member.send([bytes("member")]))
        XCTAssertEqual(try server.router.receive()?.last, bytes("member"))
        try server.router.setReceiveTimeout(500)
        XCTAssertNil(try server.router.receive())
    }

    func testPlainClientGetsNothingFromCurveServer() throws {
        let server = try startServer(allowing: [try CurveKeyPair.generate().publicKey])
        defer { server.close() }
        let plain = try ZMQSocket(server.context, .dealer)
        defer { plain.close() }
        try plain.setReceiveTimeout(1000)
        try plain.connect(server.endpoint)
        XCTAssertTrue(try plain.send([bytes("plaintext")], dontWait: true))

        try server.router.setReceiveTimeout(1000)
        XCTAssertNil(try server.router.receive(), "a plain client's message arrived")
        XCTAssertNil(try plain.receive())
        XCTAssertFalse(server.log.all.contains { $0.allowed })
    }

    func testClientWithWrongServerKeyGetsNothing() throws {
        let clientKeys = try CurveKeyPair.generate()
        let server = try startServer(allowing: [clientKeys.publicKey])
        defer { server.close() }
        let impostorServerKey = try CurveKeyPair.generate().publicKey
        let client = try ZMQSocket(server.context, .dealer)
        defer { client.close() }
        try client.makeCurveClient(serverPublicKey: impostorServerKey, publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey)
        try client.connect(server.endpoint)
        XCTAssertTrue(try client.send([bytes("hello")], dontWait: true))
        try server.router.setReceiveTimeout(1000)
        XCTAssertNil(try server.router.receive())
    }

    func testHandlerAnswersRawRequestsAndSurvivesMalformedOnes() throws {
        let context = try ZMQContext()
        let member = try CurveKeyPair.generate().publicKey
        let log = DecisionLog()
        let authenticator = try ZAPAuthenticator(
            context: context, allowedClientKeys: [member],
            onDecision: { key, address, allowed in log.record(key, address, allowed) })
        authenticator.start()
        defer { authenticator.stop() }
        // Talk to the handler the way libzmq does: [empty delimiter][request frames…].
        let requester = try ZMQSocket(context, .dealer)
        defer { requester.close() }
        try requester.setReceiveTimeout(5000)
        try requester.connect(ZAPAuthenticator.endpoint)
        func request(_ mechanism: String, _ credentials: [[UInt8]]) -> [[UInt8]] {
            [[], bytes("1.0"), bytes("req-1"), bytes(""), bytes("10.0.0.9"), bytes(""), bytes(mechanism)] + credentials
        }

        XCTAssertTrue(try requester.send([bytes("no delimiter")]))  // dropped
        XCTAssertTrue(try requester.send([[], bytes("2.0")]))  // bad version → 500
        XCTAssertEqual(try requester.receive()?[3], bytes("500"))
        XCTAssertTrue(try requester.send(request("CURVE", [[1, 2, 3]])))  // bad key length → 500
        XCTAssertEqual(try requester.receive()?[3], bytes("500"))
        XCTAssertTrue(try requester.send(request("NULL", [])))  // other mechanism → 400
        XCTAssertEqual(try requester.receive()?[3], bytes("400"))
        XCTAssertTrue(try requester.send(request("CURVE", [[UInt8](repeating: 9, count: 32)])))
        XCTAssertEqual(try requester.receive()?[3], bytes("400"))

        XCTAssertTrue(try requester.send(request("CURVE", [member])))
        let reply = try XCTUnwrap(try requester.receive())
        XCTAssertEqual(reply, [[], bytes("1.0"), bytes("req-1"), bytes("200"), bytes("OK"), bytes(try Z85.encode(member)), []])
        XCTAssertEqual(log.all.last, Decision(key: member, address: "10.0.0.9", allowed: true))
        XCTAssertEqual(log.all.count, 3)
    }

    func testSecondAuthenticatorInSameContextIsRejectedAndStopIsIdempotent() throws {
        let context = try ZMQContext()
        let first = try ZAPAuthenticator(context: context, allowedClientKeys: [])
        XCTAssertThrowsError(try ZAPAuthenticator(context: context, allowedClientKeys: [])) { error in
            guard case .invalidEndpoint(let failed, _)? = error as? ZMQError else { return XCTFail("\(error)") }; XCTAssertEqual(failed, ZAPAuthenticator.endpoint)
        }
        first.start()
        first.start()
        first.stop()
        first.stop()
        // Stopping released the endpoint; a never-started authenticator stops cleanly too.
        let second = try ZAPAuthenticator(context: context, allowedClientKeys: [])
        second.stop()
    }

    func testContextShutdownEndsHandlerThread() throws {
        let context = try ZMQContext()
        let authenticator = try ZAPAuthenticator(context: context, allowedClientKeys: [])
        XCTAssertFalse(authenticator.handlerHasEnded(within: 0), "not started: no thread to end")
        authenticator.start()
        XCTAssertFalse(authenticator.handlerHasEnded(within: 0.3), "a started handler keeps serving")
        context.shutdown()
        // The thread ends by itself once its context shuts down (generous bound: a hang guard).
        XCTAssertTrue(authenticator.handlerHasEnded(within: 30), "the handler thread did not notice the context shutting down")
        authenticator.stop()
    }
}
