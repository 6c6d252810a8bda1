import Foundation
import Yams

/// The diagnostic task family `probe`: tasks that sleep, echo a deterministic payload,
/// fail, crash or stall on demand — for exercising the runtime in tests and benchmarks.
///
/// ```yaml
/// kind: probe
/// probe:
///   tasks: 100          # how many
///   sleep_ms: 20        # compute time per task
///   payload_bytes: 32   # size of each result's output
///   blob_bytes: 0       # size of an output artifact per task (chains force ≥ 32)
///   chain: 0            # > 0: tasks form dependency chains of this length
///   fail: [7]           # these task ids fail on every attempt (poison)
///   crash: []           # these task ids kill their worker on every attempt
///   crash_once: [3]     # these crash their worker on the first attempt only
/// ```
public struct ProbeSpec: SweepKind, Codable, Equatable {
    public static let name = "probe"
    public static let sections = ["probe"]

    public var tasks: Int
    public var sleepMs: Int
    public var payloadBytes: Int
    public var blobBytes: Int
    public var chain: Int
    public var fail: [UInt64]
    public var crash: [UInt64]
    public var crashOnce: [UInt64]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case tasks, sleepMs = "sleep_ms", payloadBytes = "payload_bytes", blobBytes = "blob_bytes", chain, fail, crash
        case crashOnce = "crash_once"
    }

    /// The keys a `probe:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a probe sweep description.
    public init(tasks: Int, sleepMs: Int = 0, payloadBytes: Int = 32, blobBytes: Int = 0, chain: Int = 0,
                fail: [UInt64] = [], crash: [UInt64] = [], crashOnce: [UInt64] = []) {
        self.tasks = tasks
        self.sleepMs = sleepMs
        self.payloadBytes = payloadBytes
        self.blobBytes = blobBytes
        self.chain = chain
        self.fail = fail
        self.crash = crash
        self.crashOnce = crashOnce
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(tasks: try c.decode(Int.self, forKey: .tasks),
                  sleepMs: try c.decodeIfPresent(Int.self, forKey: .sleepMs) ?? 0,
                  payloadBytes: try c.decodeIfPresent(Int.self, forKey: .payloadBytes) ?? 32,
                  blobBytes: try c.decodeIfPresent(Int.self, forKey: .blobBytes) ?? 0,
                  chain: try c.decodeIfPresent(Int.self, forKey: .chain) ?? 0,
                  fail: try c.decodeIfPresent([UInt64].self, forKey: .fail) ?? [],
                  crash: try c.decodeIfPresent([UInt64].self, forKey: .crash) ?? [],
                  crashOnce: try c.decodeIfPresent([UInt64].self, forKey: .crashOnce) ?? [])
    }

    func validate(_ source: String) throws {
        func fail(_ m: String) throws -> Never { throw SpecError(file: source, message: m) }
        if tasks < 1 || tasks > SweepLimits.tasks { try fail("probe.tasks must be in 1…\(SweepLimits.tasks) (the limit of tasks per sweep), got \(tasks)") }
        if sleepMs < 0 || sleepMs > SweepLimits.probeSleepMs { try fail("probe.sleep_ms must be in 0…\(SweepLimits.probeSleepMs), got \(sleepMs)") }
        if payloadBytes < 0 || payloadBytes > 64 << 20 { try fail("probe.payload_bytes must be in 0…64 MiB") }
        if blobBytes < 0 || blobBytes > 256 << 20 { try fail("probe.blob_bytes must be in 0…256 MiB") }
        if chain < 0 || chain > tasks { try fail("probe.chain must be in 0…\(tasks) (the number of tasks), got \(chain)") }
        for (name, ids) in [("fail", self.fail), ("crash", crash), ("crash_once", crashOnce)] {
            if let bad = ids.first(where: { $0 < 1 || $0 > UInt64(tasks) }) {
                try fail("probe.\(name): task id \(bad) is outside 1…\(tasks)")
            }
        }
    }

    public static func parse(_ root: Node, source: String, baseDirectory: String) throws -> ProbeSpec {
        guard let p = root["probe"] else { throw SpecError(file: source, message: "missing section 'probe:' for kind: probe") }
        try SpecYAML.checkKeys(p, allowed: allowedKeys, section: "probe", source: source)
        let probe: ProbeSpec = try SpecYAML.decode(p, section: "probe", source: source)
        try probe.validate(source)
        return probe
    }

    public var referencedFiles: [String] { [] }

    public func expand(source: String) throws -> [ExpandedTask] {
        let failSet = Set(fail), crashSet = Set(crash), onceSet = Set(crashOnce)
        let blob = chain > 0 ? max(blobBytes, 32) : blobBytes
        return try (1...UInt64(tasks)).map { id in
            let p = ProbeKind.Params(index: id, sleepMs: sleepMs, payloadBytes: payloadBytes, blobBytes: blob,
                                     fail: failSet.contains(id), crash: crashSet.contains(id), crashOnce: onceSet.contains(id))
            let deps: [UInt64] = (chain > 0 && (id - 1) % UInt64(chain) != 0) ? [id - 1] : []
            return ExpandedTask(id: id, kind: ProbeKind.name, dependencies: deps, params: try ProbeKind.encode(p))
        }
    }
}

extension SweepSpec {
    /// The `probe:` section, for `kind: probe`.
    public var probe: ProbeSpec? { family as? ProbeSpec }
}
