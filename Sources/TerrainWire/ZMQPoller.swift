import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits until one of several sockets has a message to receive (`zmq_poll` with `ZMQ_POLLIN`).
///
/// All sockets must belong to the calling thread (see `ZMQSocket`).
public struct ZMQPoller {
    /// Polls `sockets` for readability.
    ///
    /// - Parameters:
    ///   - sockets: the sockets to watch (may be empty: then this just sleeps for the timeout).
    ///   - timeoutMilliseconds: how long to wait at most, in milliseconds; 0 returns at once,
    ///     -1 waits until a socket is readable. An interrupted wait (`EINTR`) is resumed for the
    ///     time that remains.
    /// - Returns: one flag per socket, in order: `true` if a `receive` would return a message now.
    ///   All `false` means the timeout passed.
    /// - Throws: `ZMQError.terminated` after context shutdown; `ZMQError.other` (`ENOTSOCK`) if
    ///   a socket is closed.
    public static func poll(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws -> [Bool] {
        let count = sockets.count
        return try withUnsafeTemporaryAllocation(of: zmq_pollitem_t.self, capacity: max(count, 1)) { items in
            for index in 0..<count {
                guard let handle = sockets[index].handle else { throw ZMQError.closedSocket }
                items.initializeElement(
                    at: index,
                    to: zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
            }
            defer { if count > 0 { items.baseAddress!.deinitialize(count: count) } }

            let infinite = timeoutMilliseconds < 0
            let deadline = infinite ? 0 : monotonicMilliseconds() + UInt64(timeoutMilliseconds)
            var remaining = timeoutMilliseconds
            while true {
                let rc = zmq_poll(items.baseAddress, Int32(count), infinite ? -1 : remaining)
                if rc >= 0 { break }
                let code = zmq_errno()
                guard code == EINTR else { throw ZMQError(code: code) }
                if !infinite {
                    let now = monotonicMilliseconds()
                    remaining = now >= deadline ? 0 : Int(deadline - now)
                }
            }
            var readable = [Bool](repeating: false, count: count)
            for index in 0..<count where items[index].revents & Int16(ZMQ_POLLIN) != 0 {
                readable[index] = true
            }
            return readable
        }
    }

    private static func monotonicMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}
