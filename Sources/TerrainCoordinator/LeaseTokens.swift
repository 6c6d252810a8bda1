import TerrainCore
import TerrainProtocol

/// Lease tokens (docs/protocol.md, "Leases"): each attempt of a task is sent with a token
/// derived from a secret of the dataset — SHA-256(secret ‖ task ‖ attempt, u64 little-endian),
/// its first 16 bytes — that only the peers sent the attempt know. A `result`, `failure` or
/// `checkpoint` is considered only with the token of an attempt that was made, so a peer
/// cannot report on tasks it was never given. Derived, not stored: they survive a restart.
struct LeaseTokens: Sendable {
    private let secret: [UInt8]

    init(secret: [UInt8]) { self.secret = secret }

    /// The token of `attempt` of `task`.
    func token(task: UInt64, attempt: UInt64) -> [UInt8] {
        var h = SHA256()
        h.update(secret)
        withUnsafeBytes(of: task.littleEndian) { h.update(Array($0)) }
        withUnsafeBytes(of: attempt.littleEndian) { h.update(Array($0)) }
        return Array(h.finalize().prefix(WireCodec.leaseBytes))
    }

    /// Whether `lease` is the token of `attempt` of `task` (compared in constant time).
    func verify(_ lease: [UInt8], task: UInt64, attempt: UInt64) -> Bool {
        let expected = token(task: task, attempt: attempt)
        guard lease.count == expected.count else { return false }
        return zip(lease, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
