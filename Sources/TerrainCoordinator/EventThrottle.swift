/// Bounds the events peers can make the coordinator write (docs/protocol.md, "Events from
/// peers are aggregated"). Within each interval, an event kind is written for one peer at most
/// `perPeer` times and for all peers together at most `perKind` times; the rest are counted and
/// written as one `suppressed` event per kind and peer when the interval ends (at most
/// `summaries` of them — beyond that, one line for the other peers). However many messages a
/// peer sends, or under however many identities, the event log grows by a bounded amount per
/// interval.
struct EventThrottle {
    /// Interval, seconds.
    let interval: Double
    let perPeer: Int
    let perKind: Int
    /// Kinds with a lower per-peer allowance than `perPeer` (expected noise, such as messages
    /// in flight to a coordinator that restarted).
    let perPeerOf: [String: Int]
    let summaries: Int
    private var windowStart: Double
    private var written: [String: Int] = [:]
    private var writtenPerKind: [String: Int] = [:]
    private var held: [Key: Int] = [:]
    private var heldElsewhere: [String: Int] = [:]

    private struct Key: Hashable { var kind: String, peer: String }

    init(now: Double, interval: Double = 60, perPeer: Int = 10, perKind: Int = 100, summaries: Int = 50,
         perPeerOf: [String: Int] = ["unknown-peer": 1]) {
        windowStart = now
        self.interval = interval
        self.perPeer = perPeer
        self.perPeerOf = perPeerOf
        self.perKind = perKind
        self.summaries = summaries
    }

    /// Whether an event of `kind` about `peer` may be written now; if not, it is counted.
    mutating func admit(_ kind: String, peer: String) -> Bool {
        let key = kind + "\u{0}" + peer
        if written[key, default: 0] < perPeerOf[kind, default: perPeer] && writtenPerKind[kind, default: 0] < perKind {
            written[key, default: 0] += 1
            writtenPerKind[kind, default: 0] += 1
            return true
        }
        let k = Key(kind: kind, peer: peer)
        if held[k] != nil || held.count < summaries {
            held[k, default: 0] += 1
        } else {
            heldElsewhere[kind, default: 0] += 1
        }
        return false
    }

    /// When the interval has ended (or `force`): the `suppressed` summaries (kind, peer,
    /// detail) to write, and a new interval.
    mutating func expire(now: Double, force: Bool = false) -> [(peer: String?, detail: String)] {
        guard force || now - windowStart >= interval else { return [] }
        let seconds = Int((now - windowStart).rounded())
        var out = held.sorted { ($0.key.kind, $0.key.peer) < ($1.key.kind, $1.key.peer) }.map { entry in
            (peer: Optional(entry.key.peer), detail: "\(entry.value) more \(entry.key.kind) events from this peer in the last \(seconds) s")
        }
        for (kind, n) in heldElsewhere.sorted(by: { $0.key < $1.key }) {
            out.append((peer: nil, detail: "\(n) more \(kind) events from other peers in the last \(seconds) s"))
        }
        windowStart = now
        written = [:]
        writtenPerKind = [:]
        held = [:]
        heldElsewhere = [:]
        return out
    }
}
