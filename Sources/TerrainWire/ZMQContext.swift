import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A ZeroMQ context (`zmq_ctx_new`): the I/O thread(s) and the namespace of `inproc://`
/// endpoints shared by the sockets created in it.
///
/// A libzmq context is thread-safe, so this class is `Sendable`: it may be shared between the
/// threads that each own one of its sockets.
///
/// Lifetime: `deinit` calls `zmq_ctx_term`, which blocks until every socket of the context is
/// closed. Each `ZMQSocket` keeps a strong reference to its context, so the context can only be
/// released after all of its sockets are closed and released; sockets are created with
/// `ZMQ_LINGER` 0 by default, so termination then returns promptly. Keep any other linger
/// values small, or termination waits for unsent messages.
public final class ZMQContext: @unchecked Sendable {
    /// The libzmq context handle (valid until deinit).
    let handle: UnsafeMutableRawPointer

    /// Creates a context with libzmq's defaults (one I/O thread).
    /// - Throws: `ZMQError` when libzmq cannot create a context (e.g. `EMFILE`).
    public init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.current }
        self.handle = handle
    }

    /// Shuts the context down (`zmq_ctx_shutdown`) without destroying it: every blocking or
    /// future operation on its sockets fails with `ZMQError.terminated`, which tells each
    /// socket's owner thread to close its socket. Safe to call from any thread, more than once.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    /// Terminates the context (`zmq_ctx_term`, retried on `EINTR`). Only reached after every
    /// socket has been closed (sockets retain their context).
    deinit {
        _ = retryingEINTR { zmq_ctx_term(handle) }
    }
}
