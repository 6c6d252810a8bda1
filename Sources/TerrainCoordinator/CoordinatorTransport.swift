import TerrainProtocol
import TerrainWire

/// Where the coordinator's shell sends frames: the ROUTER socket in production
/// (``RouterTransport``), a recording fake in tests.
public protocol CoordinatorTransport: AnyObject {
    /// Sends `frames` to `peer` without blocking. Returns false when the peer cannot be
    /// reached (unknown routing id, full queue); throws when the socket failed.
    func send(_ frames: [[UInt8]], to peer: PeerID) throws -> Bool
}

/// The coordinator's ROUTER socket as a transport (`ZMQ_ROUTER_MANDATORY` on, so an
/// unroutable peer is reported instead of dropped silently).
final class RouterTransport: CoordinatorTransport {
    let socket: ZMQSocket

    init(_ socket: ZMQSocket) { self.socket = socket }

    func send(_ frames: [[UInt8]], to peer: PeerID) throws -> Bool {
        try socket.send([peer] + frames, dontWait: true)
    }
}

/// The clocks the shell reads: monotonic seconds for timers, wall-clock Unix seconds for the
/// dataset's timestamps. Tests pass a virtual clock.
public protocol CoordinatorClock: AnyObject {
    /// Monotonic seconds (any origin).
    var now: Double { get }
    /// Unix seconds.
    var wall: Double { get }
}
