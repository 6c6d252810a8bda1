import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call, with errno mapped to a case in one place (`init(code:)`).
///
/// `EINTR` never appears here: every wrapper in TerrainWire retries an interrupted call.
/// "Nothing to do right now" outcomes are usually not errors either: `ZMQSocket.send` returns
/// `false` and `ZMQSocket.receive` returns `nil` on `EAGAIN`; `.wouldBlock` is thrown only
/// where no such return value exists.
public enum ZMQError: Error, Equatable, CustomStringConvertible {
    /// `EAGAIN`: the operation would block (non-blocking call, high-water mark, or timeout).
    case wouldBlock
    /// `EHOSTUNREACH`: a ROUTER with `ZMQ_ROUTER_MANDATORY` was asked to send to a routing id
    /// it has no connected peer for.
    case hostUnreachable
    /// `ETERM`: the context was shut down or terminated; the socket should be closed.
    case terminated
    /// A bind, connect, unbind or disconnect failed for this endpoint (bad syntax, unknown
    /// transport, address in use, nothing bound there, …). The associated value is the endpoint
    /// exactly as passed in.
    case invalidEndpoint(String, reason: String)
    /// Any other errno, with libzmq's text for it (`zmq_strerror`).
    case other(code: Int32, message: String)

    /// Maps a libzmq errno value to a case. `EINTR` maps to `.other`; callers retry it first.
    public init(code: Int32) {
        switch code {
        case EAGAIN: self = .wouldBlock
        case EHOSTUNREACH: self = .hostUnreachable
        case ETERM: self = .terminated
        default: self = .other(code: code, message: String(cString: zmq_strerror(code)))
        }
    }

    /// Maps the errno of a failed bind/connect/unbind/disconnect: `ETERM` stays `.terminated`,
    /// everything else becomes `.invalidEndpoint(endpoint)`.
    init(code: Int32, endpoint: String) {
        guard code != ETERM else {
            self = .terminated
            return
        }
        var reason = String(cString: zmq_strerror(code))
        if !endpoint.contains("://") { reason += "; write tcp://host:port or ipc:///path" }
        self = .invalidEndpoint(endpoint, reason: reason)
    }

    /// The error for the calling thread's current libzmq errno (`zmq_errno()`).
    static var current: ZMQError { ZMQError(code: zmq_errno()) }

    /// An `EINVAL` error with a TerrainWire-specific explanation (bad argument caught in Swift
    /// before calling libzmq).
    static func invalidArgument(_ message: String) -> ZMQError {
        .other(code: EINVAL, message: message)
    }

    /// The error used when a closed socket is used (`ENOTSOCK`).
    static var closedSocket: ZMQError {
        .other(code: ENOTSOCK, message: "socket is closed")
    }

    /// Human-readable text naming the failure.
    public var description: String {
        switch self {
        case .wouldBlock: return "ZeroMQ operation would block (EAGAIN)"
        case .hostUnreachable: return "ZeroMQ peer unreachable: no connected peer with that routing id (EHOSTUNREACH)"
        case .terminated: return "ZeroMQ context terminated (ETERM)"
        case .invalidEndpoint(let endpoint, let reason): return "ZeroMQ endpoint \(endpoint) failed: \(reason)"
        case .other(let code, let message): return "ZeroMQ error \(code): \(message)"
        }
    }
}

/// Calls `body` until it does not fail with `EINTR`; returns its final result (`-1` on failure,
/// with `zmq_errno()` still describing the failure).
@inline(__always)
func retryingEINTR(_ body: () -> Int32) -> Int32 {
    while true {
        let rc = body()
        if rc == -1 && zmq_errno() == EINTR { continue }
        return rc
    }
}
