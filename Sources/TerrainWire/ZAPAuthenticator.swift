import Foundation

/// A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is in an
/// allow-list and refuses everyone else.
///
/// libzmq asks the handler bound at `inproc://zeromq.zap.01` in a context about every incoming
/// handshake on that context's CURVE server sockets. `init` binds a ROUTER there before it
/// returns; `start()` answers requests on a dedicated thread that owns the socket; `stop()`
/// ends and joins that thread and closes the socket.
///
/// Order matters, because libzmq 4.3 without DRAFT APIs fails open: a CURVE server that finds
/// no handler bound admits every client key (`ZMQ_ZAP_ENFORCE_DOMAIN` is a DRAFT option).
/// So: create and `start()` the authenticator before the server socket binds, and stop it only
/// after the server socket is closed (or the context is shut down). While it is bound but not
/// yet started, handshakes simply wait.
///
/// Replies: "200" (user id = Z85 of the client key) for an allowed CURVE key; "400" for other
/// CURVE keys and for every other mechanism (NULL, PLAIN); "500" for malformed requests;
/// requests without a valid envelope are dropped. The handler never blocks on a reply
/// (`ZMQ_DONTWAIT`) and never traps on malformed input. A plain (non-CURVE) client of a CURVE
/// server fails the ZMTP greeting before ZAP is consulted, so it never reaches this handler.
///
/// Thread safety: `start()` and `stop()` may be called from any thread; `deinit` stops.
public final class ZAPAuthenticator: @unchecked Sendable {
    /// The endpoint libzmq queries for ZAP (RFC 27): `inproc://zeromq.zap.01`.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// The client public keys (32 bytes each) that are admitted.
    public let allowedClientKeys: Set<[UInt8]>

    private enum State {
        case bound
        case running
        case stopped
    }

    private let worker: Worker
    private let lock = NSLock()
    private var state = State.bound
    private let finished = DispatchGroup()

    /// Binds the ZAP handler socket in `context` (so it is in place before any server socket
    /// binds). Requests queue until `start()`.
    ///
    /// - Parameters:
    ///   - context: the context of the CURVE server sockets to guard.
    ///   - allowedClientKeys: the admitted client public keys, 32 raw bytes each.
    ///   - onDecision: called on the handler thread for every allow/deny decision with the client
    ///     key (empty for non-CURVE mechanisms), the peer address (e.g. "127.0.0.1") and the
    ///     outcome. It must return quickly: handshakes wait for it. A refused client keeps
    ///     reconnecting, so expect repeated denials.
    /// - Throws: `ZMQError.invalidEndpoint("inproc://zeromq.zap.01")` if another handler is
    ///   already bound in this context; `ZMQError.terminated` after context shutdown.
    public init(
        context: ZMQContext,
        allowedClientKeys: Set<[UInt8]>,
        onDecision: (@Sendable (_ clientKey: [UInt8], _ address: String, _ allowed: Bool) -> Void)? = nil
    ) throws {
        let socket = try ZMQSocket(context, .router)
        try socket.bind(Self.endpoint)
        self.allowedClientKeys = allowedClientKeys
        self.worker = Worker(socket: socket, allowedClientKeys: allowedClientKeys, onDecision: onDecision)
    }

    deinit {
        stop()
    }

    /// Starts answering ZAP requests on a new thread named "terrain-zap". Does nothing if
    /// already started or stopped.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard state == .bound else { return }
        state = .running
        let worker = self.worker
        let finished = self.finished
        finished.enter()
        let thread = Thread {
            worker.run()
            finished.leave()
        }
        thread.name = "terrain-zap"
        thread.start()
    }

    /// Whether the handler thread has ended, waiting up to `seconds` for it: it ends after
    /// ``stop()``, or on its own when its context shuts down. `false` if it never started.
    public func handlerHasEnded(within seconds: Double) -> Bool {
        lock.lock()
        let started = state != .bound
        lock.unlock()
        return started && finished.wait(timeout: .now() + seconds) == .success
    }

    /// Stops the handler thread, waits for it to finish (at most about one poll interval,
    /// 100 ms) and closes the handler socket, unbinding the ZAP endpoint. Idempotent; callable
    /// from any thread except the handler thread itself (i.e. not from `onDecision`).
    ///
    /// Stop only after the guarded server sockets are closed: see the type's documentation.
    public func stop() {
        lock.lock()
        let previous = state
        state = .stopped
        lock.unlock()
        switch previous {
        case .bound:
            worker.closeUnstarted()
        case .running:
            worker.requestStop()
            finished.wait()
        case .stopped:
            finished.wait()
        }
    }
}

/// The handler loop and the state it owns. The socket is used only by the handler thread once
/// started (or closed by `stop()` if it never started), which is why this is `@unchecked`.
private final class Worker: @unchecked Sendable {
    private let socket: ZMQSocket
    private let allowedClientKeys: Set<[UInt8]>
    private let onDecision: (@Sendable ([UInt8], String, Bool) -> Void)?
    private let lock = NSLock()
    private var stopRequested = false

    private static let version = Array("1.0".utf8)
    private static let curve = Array("CURVE".utf8)

    init(
        socket: ZMQSocket, allowedClientKeys: Set<[UInt8]>,
        onDecision: (@Sendable ([UInt8], String, Bool) -> Void)?
    ) {
        self.socket = socket
        self.allowedClientKeys = allowedClientKeys
        self.onDecision = onDecision
    }

    func requestStop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    func closeUnstarted() {
        closeSocket()
    }

    /// Unbinds explicitly before closing: `zmq_close` frees an inproc endpoint only later, on
    /// libzmq's reaper thread, so a new handler binding right after `stop()` could fail.
    private func closeSocket() {
        try? socket.unbind(ZAPAuthenticator.endpoint)
        socket.close()
    }

    func run() {
        defer { closeSocket() }
        while !shouldStop {
            do {
                guard try ZMQPoller.poll([socket], timeoutMilliseconds: 100)[0] else { continue }
                while !shouldStop, let request = try socket.receive(dontWait: true) {
                    try handle(request)
                }
            } catch ZMQError.terminated {
                return
            } catch {
                // Keep the endpoint bound (a missing handler would admit everyone); back off.
                usleep(10_000)
            }
        }
    }

    /// Answers one request: [routing id][empty][version][request id][domain][address]
    /// [identity][mechanism][credentials…].
    private func handle(_ frames: [[UInt8]]) throws {
        guard frames.count >= 2, frames[1].isEmpty else { return }  // not a REQ-style envelope: drop
        let peer = frames[0]
        guard frames.count >= 8, frames[2] == Self.version else {
            try reply(peer, requestID: frames.count > 3 ? frames[3] : [], status: "500",
                      text: "malformed ZAP request", userID: "")
            return
        }
        let requestID = frames[3]
        let address = String(decoding: frames[5], as: UTF8.self)
        let mechanism = frames[7]
        guard mechanism == Self.curve else {
            onDecision?([], address, false)
            try reply(peer, requestID: requestID, status: "400", text: "only CURVE is accepted", userID: "")
            return
        }
        guard frames.count == 9, frames[8].count == CurveKeyPair.keyLength else {
            try reply(peer, requestID: requestID, status: "500", text: "malformed CURVE credentials", userID: "")
            return
        }
        let clientKey = frames[8]
        let allowed = allowedClientKeys.contains(clientKey)
        onDecision?(clientKey, address, allowed)
        if allowed {
            try reply(peer, requestID: requestID, status: "200", text: "OK",
                      userID: (try? Z85.encode(clientKey)) ?? "")
        } else {
            try reply(peer, requestID: requestID, status: "400", text: "client key not allowed", userID: "")
        }
    }

    private func reply(_ peer: [UInt8], requestID: [UInt8], status: String, text: String, userID: String) throws {
        let frames: [[UInt8]] = [
            peer, [], Self.version, requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), [],
        ]
        do {
            _ = try socket.send(frames, dontWait: true)  // false: requester gone or full; drop
        } catch ZMQError.terminated {
            throw ZMQError.terminated
        } catch {
            // An unroutable or otherwise failed reply is dropped; the handshake times out.
        }
    }
}
