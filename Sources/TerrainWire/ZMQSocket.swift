import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One ZeroMQ socket with typed options and whole-message (multipart) send and receive.
///
/// A libzmq socket is not thread-safe, so this class is deliberately not `Sendable`: create it,
/// use it and close it on one owner thread (hand a freshly created socket to the thread that
/// will own it, and touch it nowhere else). To talk between threads, use `inproc://` PAIR
/// sockets in a shared `ZMQContext`.
///
/// The socket keeps its context alive; `close()` (also run by `deinit`) releases the libzmq
/// socket. Sockets are created with `ZMQ_LINGER` 0, so closing discards unsent messages at once
/// and context termination never hangs.
///
/// Every call on a closed socket throws `ZMQError.other(code: ENOTSOCK, …)`. Once the context
/// is shut down, calls throw `ZMQError.terminated`; the owner should then `close()` the socket.
public final class ZMQSocket {
    /// The socket types available in libzmq 4.3 without DRAFT APIs.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        case router, dealer, pair, rep, req, push, pull

        /// The libzmq constant (`ZMQ_ROUTER`, …).
        var zmqType: Int32 {
            switch self {
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .pair: return ZMQ_PAIR
            case .rep: return ZMQ_REP
            case .req: return ZMQ_REQ
            case .push: return ZMQ_PUSH
            case .pull: return ZMQ_PULL
            }
        }

        /// The lower-case name of the type ("router", …).
        public var description: String {
            switch self {
            case .router: return "router"
            case .dealer: return "dealer"
            case .pair: return "pair"
            case .rep: return "rep"
            case .req: return "req"
            case .push: return "push"
            case .pull: return "pull"
            }
        }
    }

    /// The context this socket was created in (kept alive by the socket).
    public let context: ZMQContext
    /// The socket type.
    public let kind: Kind
    /// The libzmq socket handle; `nil` once closed.
    private(set) var handle: UnsafeMutableRawPointer?

    /// Creates a socket of `kind` in `context` and sets `ZMQ_LINGER` to `linger` milliseconds
    /// (default 0: unsent messages are discarded on close; -1 waits forever, which can hang
    /// context termination).
    /// - Throws: `ZMQError.terminated` if the context is shut down, `ZMQError.other` for
    ///   e.g. `EMFILE` (too many sockets) or a rejected linger value.
    public init(_ context: ZMQContext, _ kind: Kind, linger: Int = 0) throws {
        guard let handle = zmq_socket(context.handle, kind.zmqType) else { throw ZMQError.current }
        self.context = context
        self.kind = kind
        self.handle = handle
        do {
            try setLinger(linger)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Whether `close()` has been called.
    public var isClosed: Bool { handle == nil }

    /// Closes the socket (`zmq_close`). Idempotent; also called by `deinit`. With linger 0,
    /// pending outgoing messages are dropped immediately.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        _ = zmq_close(handle)
    }

    @inline(__always)
    private func liveHandle() throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError.closedSocket }
        return handle
    }

    // MARK: - Endpoints

    /// Binds to `endpoint` (`tcp://host:port`, `ipc:///path`, `inproc://name`) and returns the
    /// endpoint actually bound (`ZMQ_LAST_ENDPOINT`): binding `tcp://127.0.0.1:*` returns e.g.
    /// `tcp://127.0.0.1:40123`, the address to give to peers and to `unbind`.
    /// - Throws: `ZMQError.invalidEndpoint(endpoint)` for a malformed endpoint, unsupported
    ///   transport, address in use or unavailable; `ZMQError.terminated` after context shutdown.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        let handle = try liveHandle()
        if retryingEINTR({ zmq_bind(handle, endpoint) }) != 0 {
            throw ZMQError(code: zmq_errno(), endpoint: endpoint)
        }
        return try lastEndpoint
    }

    /// Connects to `endpoint`. For TCP and IPC the connection is made (and remade after
    /// failures) in the background; this call only fails for endpoints libzmq cannot parse or
    /// whose transport is unsupported.
    /// - Throws: `ZMQError.invalidEndpoint(endpoint)`, or `ZMQError.terminated`.
    public func connect(_ endpoint: String) throws {
        let handle = try liveHandle()
        if retryingEINTR({ zmq_connect(handle, endpoint) }) != 0 {
            throw ZMQError(code: zmq_errno(), endpoint: endpoint)
        }
    }

    /// Disconnects from an endpoint previously passed to `connect` (same spelling).
    /// - Throws: `ZMQError.invalidEndpoint(endpoint)` if not connected there.
    public func disconnect(_ endpoint: String) throws {
        let handle = try liveHandle()
        if retryingEINTR({ zmq_disconnect(handle, endpoint) }) != 0 {
            throw ZMQError(code: zmq_errno(), endpoint: endpoint)
        }
    }

    /// Stops listening on an endpoint previously bound; for wildcard binds pass the endpoint
    /// returned by `bind`.
    /// - Throws: `ZMQError.invalidEndpoint(endpoint)` if not bound there.
    public func unbind(_ endpoint: String) throws {
        let handle = try liveHandle()
        if retryingEINTR({ zmq_unbind(handle, endpoint) }) != 0 {
            throw ZMQError(code: zmq_errno(), endpoint: endpoint)
        }
    }

    /// The last endpoint bound (`ZMQ_LAST_ENDPOINT`), with wildcards resolved; "" if none.
    public var lastEndpoint: String {
        get throws { try getString(ZMQ_LAST_ENDPOINT, capacity: 1024) }
    }

    // MARK: - Messaging

    /// Sends one multipart message: every frame but the last is sent with `ZMQ_SNDMORE`.
    /// ZeroMQ delivers the message whole or not at all. For a ROUTER the first frame is the
    /// destination routing id.
    ///
    /// - Parameters:
    ///   - frames: the frames, at least one; frames may be empty.
    ///   - dontWait: `ZMQ_DONTWAIT`: fail immediately instead of blocking at the high-water mark
    ///     (or when no peer is connected for socket types that need one).
    /// - Returns: `true` when queued for sending; `false` when it could not be queued (`EAGAIN`):
    ///   with `dontWait`, or when `sendTimeout` expired, or at a ROUTER_MANDATORY peer's
    ///   high-water mark. Nothing of the message was sent in that case.
    /// - Throws: `ZMQError.hostUnreachable` when a ROUTER with `routerMandatory` has no peer with
    ///   that routing id; `ZMQError.terminated` after context shutdown; `ZMQError.other` (e.g.
    ///   `EFSM` for a REQ/REP sent out of turn, `EINVAL` for an empty frame list).
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        let handle = try liveHandle()
        guard !frames.isEmpty else { throw ZMQError.invalidArgument("cannot send a message with no frames") }
        let baseFlags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        let last = frames.count - 1
        var index = 0
        while index <= last {
            let flags = index == last ? baseFlags : baseFlags | ZMQ_SNDMORE
            let rc = frames[index].withUnsafeBytes { raw in
                retryingEINTR { zmq_send(handle, raw.baseAddress, raw.count, flags) }
            }
            if rc == -1 {
                let code = zmq_errno()
                // libzmq decides on the first frame; later frames of an accepted message are not
                // refused with EAGAIN (it drops a message whose peer vanishes mid-way itself).
                if code == EAGAIN && index == 0 { return false }
                throw ZMQError(code: code)
            }
            index += 1
        }
        return true
    }

    /// Receives one whole multipart message (all frames up to the one without `ZMQ_RCVMORE`).
    /// A ROUTER's first frame is the sender's routing id. Frames of any size are supported.
    ///
    /// - Parameter dontWait: `ZMQ_DONTWAIT`: return `nil` at once if nothing is queued.
    /// - Returns: the frames, or `nil` when nothing arrived (`EAGAIN`: `dontWait`, or
    ///   `receiveTimeout` milliseconds passed).
    /// - Throws: `ZMQError.terminated` after context shutdown; `ZMQError.other` (e.g. `EFSM`).
    public func receive(dontWait: Bool = false) throws -> [[UInt8]]? {
        let handle = try liveHandle()
        let flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        var message = zmq_msg_t()
        return try withUnsafeMutablePointer(to: &message) { msg -> [[UInt8]]? in
            _ = zmq_msg_init(msg)
            defer { _ = zmq_msg_close(msg) }
            var frames: [[UInt8]] = []
            while true {
                // zmq_msg_recv releases the previous frame's content before filling `msg` again.
                if retryingEINTR({ zmq_msg_recv(msg, handle, flags) }) == -1 {
                    let code = zmq_errno()
                    if code == EAGAIN && frames.isEmpty { return nil }
                    throw ZMQError(code: code)
                }
                let size = zmq_msg_size(msg)
                let frame = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                    if size > 0, let source = zmq_msg_data(msg) {
                        buffer.baseAddress!.update(from: source.assumingMemoryBound(to: UInt8.self), count: size)
                    }
                    count = size
                }
                frames.append(frame)
                if zmq_msg_more(msg) == 0 { return frames }
            }
        }
    }

    // MARK: - Options

    /// `ZMQ_LINGER` in milliseconds: how long `close()` keeps unsent messages (0 = drop at once,
    /// -1 = forever).
    public var linger: Int {
        get throws { Int(try getInt32(ZMQ_LINGER)) }
    }

    /// Sets `ZMQ_LINGER` (milliseconds; 0 drops unsent messages on close, -1 waits forever).
    /// - Throws: `ZMQError.other` (`EINVAL`) for values below -1 or beyond `Int32`.
    public func setLinger(_ milliseconds: Int) throws {
        try setInt32(ZMQ_LINGER, milliseconds, name: "linger")
    }

    /// `ZMQ_ROUTING_ID`: the identity a ROUTER peer sees for this socket.
    public var routingID: [UInt8] {
        get throws { try getBytes(ZMQ_ROUTING_ID, capacity: 256) }
    }

    /// Sets `ZMQ_ROUTING_ID` (1…255 bytes). Must be set before `connect`; it applies to
    /// connections made afterwards. Without it a DEALER gets a random id per connection.
    /// - Throws: `ZMQError.other` (`EINVAL`) for an empty or over-long id.
    public func setRoutingID(_ id: [UInt8]) throws {
        guard (1...255).contains(id.count) else {
            throw ZMQError.invalidArgument("routing id must be 1...255 bytes, got \(id.count)")
        }
        try setBytes(ZMQ_ROUTING_ID, id)
    }

    /// Sets `ZMQ_ROUTER_MANDATORY` (ROUTER only): when on, sending to an unknown routing id
    /// throws `ZMQError.hostUnreachable` and a full peer makes `send` return `false` instead of
    /// silently dropping the message.
    public func setRouterMandatory(_ on: Bool) throws {
        try setInt32(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, name: "routerMandatory")
    }

    /// Sets `ZMQ_ROUTER_HANDOVER` (ROUTER only): when on, a new connection presenting a routing
    /// id already in use takes it over (the old connection's pipe is dropped) instead of being
    /// refused.
    public func setRouterHandover(_ on: Bool) throws {
        try setInt32(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, name: "routerHandover")
    }

    /// Configures ZMTP heartbeats, all in milliseconds. libzmq's I/O thread sends a PING every
    /// `interval` (`ZMQ_HEARTBEAT_IVL`; 0 disables) and closes the connection if nothing arrives
    /// for `timeout` (`ZMQ_HEARTBEAT_TIMEOUT`; `nil` leaves libzmq's default, the interval).
    /// `ttl` (`ZMQ_HEARTBEAT_TTL`; `nil` leaves the default) asks the remote peer to time the
    /// connection out after that long without traffic; libzmq keeps it in deciseconds, so it is
    /// rounded down to a multiple of 100 and must be at most 6_553_500.
    /// Detects dead hosts and cut links, not a hung application thread. Applies to connections
    /// made afterwards: set before `bind`/`connect`.
    public func setHeartbeat(interval: Int, timeout: Int? = nil, ttl: Int? = nil) throws {
        try setInt32(ZMQ_HEARTBEAT_IVL, interval, name: "heartbeat interval")
        if let timeout { try setInt32(ZMQ_HEARTBEAT_TIMEOUT, timeout, name: "heartbeat timeout") }
        if let ttl { try setInt32(ZMQ_HEARTBEAT_TTL, ttl, name: "heartbeat ttl") }
    }

    /// `ZMQ_MAXMSGSIZE` in bytes (-1 = unlimited).
    public var maxMessageSize: Int64 {
        get throws { try getInt64(ZMQ_MAXMSGSIZE) }
    }

    /// Sets `ZMQ_MAXMSGSIZE` in bytes (-1 = unlimited): a peer whose inbound message (any single
    /// frame) exceeds it is disconnected by libzmq. Enforced by the TCP/IPC decoders only, not
    /// on `inproc://`. Set before `bind`/`connect`.
    public func setMaxMessageSize(_ bytes: Int64) throws {
        try setInt64(ZMQ_MAXMSGSIZE, bytes)
    }

    /// `ZMQ_SNDHWM`: the per-peer limit of queued outgoing messages (0 = none; default 1000).
    public var sendHighWaterMark: Int {
        get throws { Int(try getInt32(ZMQ_SNDHWM)) }
    }

    /// Sets `ZMQ_SNDHWM` (messages per peer, 0 = unlimited). Applies to connections made after.
    public func setSendHighWaterMark(_ messages: Int) throws {
        try setInt32(ZMQ_SNDHWM, messages, name: "sendHighWaterMark")
    }

    /// `ZMQ_RCVHWM`: the per-peer limit of queued incoming messages (0 = none; default 1000).
    public var receiveHighWaterMark: Int {
        get throws { Int(try getInt32(ZMQ_RCVHWM)) }
    }

    /// Sets `ZMQ_RCVHWM` (messages per peer, 0 = unlimited). Applies to connections made after.
    public func setReceiveHighWaterMark(_ messages: Int) throws {
        try setInt32(ZMQ_RCVHWM, messages, name: "receiveHighWaterMark")
    }

    /// `ZMQ_SNDTIMEO` in milliseconds (-1 = block forever, the default; 0 = never block).
    public var sendTimeout: Int {
        get throws { Int(try getInt32(ZMQ_SNDTIMEO)) }
    }

    /// Sets `ZMQ_SNDTIMEO` in milliseconds: a blocking `send` gives up (returns `false`) after it.
    public func setSendTimeout(_ milliseconds: Int) throws {
        try setInt32(ZMQ_SNDTIMEO, milliseconds, name: "sendTimeout")
    }

    /// `ZMQ_RCVTIMEO` in milliseconds (-1 = block forever, the default; 0 = never block).
    public var receiveTimeout: Int {
        get throws { Int(try getInt32(ZMQ_RCVTIMEO)) }
    }

    /// Sets `ZMQ_RCVTIMEO` in milliseconds: a blocking `receive` gives up (returns `nil`) after it.
    public func setReceiveTimeout(_ milliseconds: Int) throws {
        try setInt32(ZMQ_RCVTIMEO, milliseconds, name: "receiveTimeout")
    }

    /// `ZMQ_IMMEDIATE`: whether messages are queued only to completed connections.
    public var immediate: Bool {
        get throws { try getInt32(ZMQ_IMMEDIATE) != 0 }
    }

    /// Sets `ZMQ_IMMEDIATE`: when on, messages are queued only for peers whose connection is
    /// complete, so a send with no live peer blocks / returns `false` instead of piling up for
    /// a peer that may never come. Set before `connect`.
    public func setImmediate(_ on: Bool) throws {
        try setInt32(ZMQ_IMMEDIATE, on ? 1 : 0, name: "immediate")
    }

    /// `ZMQ_ZAP_DOMAIN`: the domain passed to the ZAP handler for this socket's connections.
    public var zapDomain: String {
        get throws { try getString(ZMQ_ZAP_DOMAIN, capacity: 256) }
    }

    /// Sets `ZMQ_ZAP_DOMAIN` (at most 254 bytes of UTF-8). Set before `bind`.
    public func setZAPDomain(_ domain: String) throws {
        let bytes = Array(domain.utf8)
        guard bytes.count < 255 else {
            throw ZMQError.invalidArgument("ZAP domain longer than 254 bytes")
        }
        try setBytes(ZMQ_ZAP_DOMAIN, bytes)
    }

    /// Makes this socket a CURVE server (`ZMQ_CURVE_SERVER` = 1, `ZMQ_CURVE_SECRETKEY`).
    /// Traffic is encrypted; clients must know the matching public key. CURVE alone admits any
    /// client key: bind a `ZAPAuthenticator` in the same context first to enforce an allow-list.
    /// Call before `bind`.
    /// - Throws: `ZMQError.other` (`EINVAL`) unless the key is 32 bytes; `ZMQError.other`
    ///   (`ENOTSUP`/`EINVAL`) if libzmq lacks CURVE.
    public func makeCurveServer(secretKey: [UInt8]) throws {
        try Self.checkKey(secretKey, "secret key")
        try setInt32(ZMQ_CURVE_SERVER, 1, name: "curveServer")
        try setBytes(ZMQ_CURVE_SECRETKEY, secretKey)
    }

    /// Makes this socket a CURVE client of the server whose long-term public key is
    /// `serverPublicKey`, authenticating with its own key pair (`ZMQ_CURVE_SERVERKEY`,
    /// `ZMQ_CURVE_PUBLICKEY`, `ZMQ_CURVE_SECRETKEY`). All keys are 32 raw bytes. Call before
    /// `connect`. A wrong server key or a rejected client key shows up only as silence: the
    /// handshake fails and libzmq keeps retrying in the background.
    /// - Throws: `ZMQError.other` (`EINVAL`) unless each key is 32 bytes.
    public func makeCurveClient(serverPublicKey: [UInt8], publicKey: [UInt8], secretKey: [UInt8]) throws {
        try Self.checkKey(serverPublicKey, "server public key")
        try Self.checkKey(publicKey, "public key")
        try Self.checkKey(secretKey, "secret key")
        try setBytes(ZMQ_CURVE_SERVERKEY, serverPublicKey)
        try setBytes(ZMQ_CURVE_PUBLICKEY, publicKey)
        try setBytes(ZMQ_CURVE_SECRETKEY, secretKey)
    }

    private static func checkKey(_ key: [UInt8], _ what: String) throws {
        guard key.count == 32 else {
            throw ZMQError.invalidArgument("CURVE \(what) must be 32 bytes, got \(key.count)")
        }
    }

    // MARK: - Raw option access

    private func setInt32(_ option: Int32, _ value: Int, name: String) throws {
        guard let value32 = Int32(exactly: value) else {
            throw ZMQError.invalidArgument("\(name) \(value) does not fit a C int")
        }
        try setCInt(option, value32, name: name)
    }

    private func setCInt(_ option: Int32, _ value: Int32, name: String) throws {
        let handle = try liveHandle()
        var value = value
        if retryingEINTR({ zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) }) != 0 {
            let code = zmq_errno()
            if code == EINVAL { throw ZMQError.invalidArgument("libzmq rejected \(name) = \(value) (EINVAL)") }
            throw ZMQError(code: code)
        }
    }

    private func setInt64(_ option: Int32, _ value: Int64) throws {
        let handle = try liveHandle()
        var value = value
        if retryingEINTR({ zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size) }) != 0 {
            throw ZMQError.current
        }
    }

    private func setBytes(_ option: Int32, _ bytes: [UInt8]) throws {
        let handle = try liveHandle()
        let rc = bytes.withUnsafeBytes { raw in
            retryingEINTR { zmq_setsockopt(handle, option, raw.baseAddress, raw.count) }
        }
        if rc != 0 { throw ZMQError.current }
    }

    private func getInt32(_ option: Int32) throws -> Int32 {
        let handle = try liveHandle()
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if retryingEINTR({ zmq_getsockopt(handle, option, &value, &size) }) != 0 { throw ZMQError.current }
        return value
    }

    private func getInt64(_ option: Int32) throws -> Int64 {
        let handle = try liveHandle()
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        if retryingEINTR({ zmq_getsockopt(handle, option, &value, &size) }) != 0 { throw ZMQError.current }
        return value
    }

    private func getBytes(_ option: Int32, capacity: Int) throws -> [UInt8] {
        let handle = try liveHandle()
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        let rc = buffer.withUnsafeMutableBytes { raw in
            retryingEINTR { zmq_getsockopt(handle, option, raw.baseAddress, &size) }
        }
        if rc != 0 { throw ZMQError.current }
        buffer.removeSubrange(min(size, capacity)...)
        return buffer
    }

    private func getString(_ option: Int32, capacity: Int) throws -> String {
        var bytes = try getBytes(option, capacity: capacity)
        if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
