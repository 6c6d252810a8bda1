/// The ranges every number and list of a message must lie in (docs/protocol.md, "Field
/// ranges"). ``WireCodec/decode(_:)`` checks them, so a message that breaks one is refused as
/// ``WireError/malformed(_:)`` naming the field before any receiver sees it; the receivers'
/// arithmetic on what remains cannot trap.
public enum WireRanges {
    /// `hello.slots`: tasks a worker runs at once.
    public static let slots: ClosedRange<UInt64> = 1 ... 64
    /// Entries of `hello.kinds`.
    public static let kinds: ClosedRange<Int> = 1 ... 64
    /// Bytes of a name: `hello.worker`, `hello.host`, a kind, a blob name.
    public static let nameBytes: ClosedRange<Int> = 1 ... 255
    /// Task ids and attempts are counted from 1; they are stored as SQLite integers.
    public static let ids: ClosedRange<UInt64> = 1 ... UInt64(Int64.max)
    /// A checkpoint's step and a result's start step (stored as SQLite integers).
    public static let steps: ClosedRange<UInt64> = 0 ... UInt64(Int64.max)
    /// `result.elapsed`, seconds.
    public static let elapsed: ClosedRange<Double> = 0 ... 1e9
    /// Task ids a `heartbeat` or `ack` may list.
    public static let listedTasks = 4096
    /// Hashes one `fetch` may ask for.
    public static let fetchedHashes: ClosedRange<Int> = 1 ... 256
    /// `welcome.heartbeat_ms`.
    public static let heartbeatMilliseconds: ClosedRange<UInt64> = 10 ... 3_600_000
    /// `welcome.liveness`.
    public static let liveness: ClosedRange<UInt64> = 2 ... 1000

    static func check<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ field: String) throws(WireError) {
        guard range.contains(value) else {
            throw WireError.malformed("field '\(field)' is \(value), outside \(range.lowerBound)…\(range.upperBound)")
        }
    }

    static func name(_ value: String, _ field: String) throws(WireError) {
        try check(value.utf8.count, in: nameBytes, "\(field)' length ('\(value.prefix(16))")
    }
}
