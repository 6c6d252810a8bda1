import Foundation
import TerrainWire
import XCTest

/// Real sockets in a fresh context per test. Receive timeouts are generous (5 s) and only keep
/// a broken test from hanging; "nothing arrives" checks wait about a second.
final class ZMQSocketTests: XCTestCase {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Sends a multipart message dealer → router and a reply back, over `bindEndpoint`.
    private func assertRouterDealerRoundTrip(bindEndpoint: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.setReceiveTimeout(5000)
        let endpoint = try router.bind(bindEndpoint)
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setReceiveTimeout(5000)
        try dealer.connect(endpoint)

        let payload: [[UInt8]] = [bytes("hello"), [], [UInt8](repeating: 0xAB, count: 300_000), [0, 1, 2, 255]]
        XCTAssertTrue(try dealer.send(payload), file: file, line: line)
        let received = try XCTUnwrap(try router.receive(), "router got nothing", file: file, line: line)
        XCTAssertEqual(received.count, payload.count + 1, file: file, line: line)
        XCTAssertEqual(Array(received.dropFirst()), payload, file: file, line: line)

        XCTAssertTrue(try router.send([received[0], bytes("world"), []]), file: file, line: line)
        XCTAssertEqual(try dealer.receive(), [bytes("world"), []], file: file, line: line)
        dealer.close()
        router.close()
        return endpoint
    }

    func testRouterDealerMultipartRoundTripOverInproc() throws {
        let endpoint = try assertRouterDealerRoundTrip(bindEndpoint: "inproc://round-trip")
        XCTAssertEqual(endpoint, "inproc://round-trip")
    }

    func testRouterDealerMultipartRoundTripOverTCP() throws {
        let endpoint = try assertRouterDealerRoundTrip(bindEndpoint: "tcp://127.0.0.1:*")
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
        let port = Int(endpoint.split(separator: ":").last ?? "")
        XCTAssertNotNil(port, endpoint)
        XCTAssertGreaterThan(port ?? 0, 0)
    }

    func testRouterDealerMultipartRoundTripOverIPC() throws {
        let path = NSTemporaryDirectory() + "terrain-wire-\(UUID().uuidString.prefix(8)).ipc"
        defer { unlink(path) }
        let endpoint = try assertRouterDealerRoundTrip(bindEndpoint: "ipc://" + path)
        XCTAssertEqual(endpoint, "ipc://" + path)
    }

    func testRoutingIDSetByDealerIsSeenByRouter() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.setRouterMandatory(true)
        try router.setReceiveTimeout(5000)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setReceiveTimeout(5000)
        try dealer.setRoutingID(bytes("worker-7"))
        XCTAssertEqual(try dealer.routingID, bytes("worker-7"))
        try dealer.connect(endpoint)

        XCTAssertTrue(try dealer.send([bytes("hello")]))
        XCTAssertEqual(try router.receive(), [bytes("worker-7"), bytes("hello")])
        XCTAssertTrue(try router.send([bytes("worker-7"), bytes("task")]))
        XCTAssertEqual(try dealer.receive(), [bytes("task")])
    }

    func testRouterMandatorySendToUnknownRoutingIDThrowsHostUnreachable() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.setRouterMandatory(true)
        try router.bind("inproc://mandatory")
        XCTAssertThrowsError(try router.send([bytes("nobody"), bytes("payload")])) { error in
            XCTAssertEqual(error as? ZMQError, .hostUnreachable)
        }
        // The failed send left no partial message behind: a known peer still gets whole messages.
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setRoutingID(bytes("somebody"))
        try dealer.setReceiveTimeout(5000)
        try dealer.connect("inproc://mandatory")
        XCTAssertTrue(try dealer.send([bytes("hi")]))
        try router.setReceiveTimeout(5000)
        XCTAssertEqual(try router.receive(), [bytes("somebody"), bytes("hi")])
        XCTAssertTrue(try router.send([bytes("somebody"), bytes("payload")]))
        XCTAssertEqual(try dealer.receive(), [bytes("payload")])
    }

    func testSocketWithPendingMessagesClosesPromptlyWithLingerZero() throws {
        // A port nobody listens on: bind, read the port, close.
        let probeContext = try ZMQContext()
        let probe = try ZMQSocket(probeContext, .router)
        let deadEndpoint = try probe.bind("tcp://127.0.0.1:*")
        probe.close()

        let outcome = Locked<String?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            do {
                let context = try ZMQContext()
                let dealer = try ZMQSocket(context, .dealer)
                let linger = try dealer.linger
                try dealer.connect(deadEndpoint)
                var queued = 0
                for index in 0..<100 {
                    if try dealer.send([Array("pending \(index)".utf8)], dontWait: true) { queued += 1 }
                }
                dealer.close()
                // Leaving this scope releases the context: zmq_ctx_term must not wait for the
                // 100 undeliverable messages.
                outcome.set("linger=\(linger) queued=\(queued)")
            } catch {
                outcome.set("error: \(error)")
            }
            finished.signal()
        }
        thread.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "context termination hung")
        XCTAssertEqual(outcome.get(), "linger=0 queued=100")
    }

    func testPollReturnsFalseAfterTimeoutAndTrueWhenMessageQueued() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("inproc://poll")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect("inproc://poll")

        XCTAssertEqual(try ZMQPoller.poll([router, dealer], timeoutMilliseconds: 50), [false, false])
        XCTAssertEqual(try ZMQPoller.poll([router], timeoutMilliseconds: 0), [false])
        XCTAssertTrue(try dealer.send([bytes("ping")]))
        XCTAssertEqual(try ZMQPoller.poll([router, dealer], timeoutMilliseconds: 5000), [true, false])
        let message = try XCTUnwrap(try router.receive(dontWait: true))
        XCTAssertEqual(message.last, bytes("ping"))
        XCTAssertNil(try router.receive(dontWait: true))
        XCTAssertEqual(try ZMQPoller.poll([router], timeoutMilliseconds: 10), [false])
        XCTAssertEqual(try ZMQPoller.poll([], timeoutMilliseconds: 1), [])

        dealer.close()
        XCTAssertThrowsError(try ZMQPoller.poll([router, dealer], timeoutMilliseconds: 0))
    }

    func testOversizedMessageDisconnectsDealerAndRouterKeepsServingOthers() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.setMaxMessageSize(1024)
        XCTAssertEqual(try router.maxMessageSize, 1024)
        try router.setReceiveTimeout(5000)
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        let hostile = try ZMQSocket(context, .dealer)
        try hostile.setRoutingID(bytes("hostile"))
        try hostile.connect(endpoint)
        XCTAssertTrue(try hostile.send([bytes("small first")]))
        XCTAssertEqual(try router.receive(), [bytes("hostile"), bytes("small first")])
        XCTAssertTrue(try hostile.send([[UInt8](repeating: 7, count: 4096)]))

        let honest = try ZMQSocket(context, .dealer)
        try honest.setRoutingID(bytes("honest"))
        try honest.setReceiveTimeout(5000)
        try honest.connect(endpoint)
        XCTAssertTrue(try honest.send([bytes("hello")]))
        XCTAssertEqual(try router.receive(), [bytes("honest"), bytes("hello")])

        XCTAssertTrue(try router.send([bytes("honest"), bytes("reply")]))
        XCTAssertEqual(try honest.receive(), [bytes("reply")])
        XCTAssertTrue(try honest.send([bytes("again"), [UInt8](repeating: 1, count: 1000)]))
        XCTAssertEqual(try router.receive(), [bytes("honest"), bytes("again"), [UInt8](repeating: 1, count: 1000)])

        // The oversized message never arrives (its connection was dropped instead).
        try router.setReceiveTimeout(1000)
        XCTAssertNil(try router.receive())
    }

    func testReceiveTimeoutReturnsNilAndSendTimeoutReturnsFalse() throws {
        let context = try ZMQContext()
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setReceiveTimeout(20)
        try dealer.setSendTimeout(20)
        XCTAssertEqual(try dealer.receiveTimeout, 20)
        XCTAssertEqual(try dealer.sendTimeout, 20)
        XCTAssertNil(try dealer.receive())
        XCTAssertNil(try dealer.receive(dontWait: true))
        // A DEALER with no peer at all cannot queue: EAGAIN, reported as false.
        XCTAssertFalse(try dealer.send([bytes("nowhere")]))
        XCTAssertFalse(try dealer.send([bytes("nowhere")], dontWait: true))
    }

    func testOptionsRoundTripAndBadArgumentsThrow() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, .router)
        try socket.setSendHighWaterMark(50)
        try socket.setReceiveHighWaterMark(60)
        try socket.setImmediate(true)
        try socket.setZAPDomain("terrain")
        try socket.setLinger(250)
        try socket.setRouterHandover(true)
        try socket.setHeartbeat(interval: 1000, timeout: 3000, ttl: 5000)
        XCTAssertEqual(try socket.sendHighWaterMark, 50)
        XCTAssertEqual(try socket.receiveHighWaterMark, 60)
        XCTAssertTrue(try socket.immediate)
        XCTAssertEqual(try socket.zapDomain, "terrain")
        XCTAssertEqual(try socket.linger, 250)
        XCTAssertEqual(try socket.lastEndpoint, "")

        XCTAssertThrowsError(try socket.setRoutingID([]))
        XCTAssertThrowsError(try socket.setLinger(Int(Int32.max) + 1))
        XCTAssertThrowsError(try socket.makeCurveServer(secretKey: [1, 2, 3]))
        XCTAssertThrowsError(try socket.send([]))
    }

    func testBadEndpointsThrowInvalidEndpointNamingTheEndpoint() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, .router)
        for endpoint in ["nonsense", "bogus://x", "tcp://127.0.0.1:notaport"] {
            XCTAssertThrowsError(try socket.bind(endpoint)) { error in
                guard case .invalidEndpoint(let failed, _)? = error as? ZMQError else { return XCTFail("\(error)") }; XCTAssertEqual(failed, endpoint)
                XCTAssertTrue("\(error)".contains(endpoint))
            }
        }
        XCTAssertThrowsError(try socket.connect("nonsense")) { error in
            guard case .invalidEndpoint(let failed, _)? = error as? ZMQError else { return XCTFail("\(error)") }; XCTAssertEqual(failed, "nonsense")
        }
        let bound = try socket.bind("tcp://127.0.0.1:*")
        let other = try ZMQSocket(context, .router)
        XCTAssertThrowsError(try other.bind(bound)) { error in
            guard case .invalidEndpoint(let failed, _)? = error as? ZMQError else { return XCTFail("\(error)") }; XCTAssertEqual(failed, bound)
        }
        try socket.unbind(bound)
        XCTAssertThrowsError(try socket.unbind(bound))
        XCTAssertThrowsError(try socket.disconnect("tcp://127.0.0.1:1"))
    }

    func testClosedSocketIsIdempotentAndRejectsUse() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, .pair)
        XCTAssertFalse(socket.isClosed)
        socket.close()
        socket.close()
        XCTAssertTrue(socket.isClosed)
        XCTAssertThrowsError(try socket.send([[1]]))
        XCTAssertThrowsError(try socket.receive(dontWait: true))
        XCTAssertThrowsError(try socket.bind("inproc://closed"))
    }

    func testContextShutdownMakesBlockingReceiveThrowTerminated() throws {
        let context = try ZMQContext()
        let outcome = Locked<String?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            do {
                let pair = try ZMQSocket(context, .pair)
                try pair.bind("inproc://shutdown")
                _ = try pair.receive()
                outcome.set("returned")
            } catch {
                outcome.set("\(error)")
            }
            finished.signal()
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.05)
        context.shutdown()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(outcome.get(), "\(ZMQError.terminated)")
    }

    func testPairSocketsConnectThreadsOverInproc() throws {
        let context = try ZMQContext()
        let main = try ZMQSocket(context, .pair)
        try main.setReceiveTimeout(5000)
        try main.bind("inproc://threads")
        let thread = Thread {
            guard let peer = try? ZMQSocket(context, .pair) else { return }
            try? peer.setReceiveTimeout(5000)
            try? peer.connect("inproc://threads")
            if let message = try? peer.receive() {
                _ = try? peer.send(Array(message.reversed()))
            }
            peer.close()
        }
        thread.start()
        XCTAssertTrue(try main.send([bytes("a"), bytes("b"), bytes("c")]))
        XCTAssertEqual(try main.receive(), [bytes("c"), bytes("b"), bytes("a")])
    }
}

/// A value shared with helper threads in tests.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
    func update(_ body: (inout Value) -> Void) { lock.lock(); body(&value); lock.unlock() }
}
