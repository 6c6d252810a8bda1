import Foundation

/// The `runtime:` section of a sweep spec: how the coordinator treats workers and tasks.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    /// Failed attempts (the kind's error, a crash its worker reports, a timeout) before a task
    /// is quarantined as failed.
    public var maxAttempts: Int
    /// Distinct, otherwise healthy workers a task may take down in a row before it is
    /// quarantined (docs/protocol.md, "Liveness, leases and retries").
    public var maxLostWorkers: Int
    /// Heartbeat interval, milliseconds.
    public var heartbeatMs: Int
    /// Missed heartbeats before a peer is presumed dead.
    public var liveness: Int
    /// Per-task time limit in seconds (`nil`: none).
    public var taskTimeout: Double?
    /// Longest wait before accepted results are committed, milliseconds.
    public var commitIntervalMs: Int
    /// Distinct workers whose results must agree before a task is done: 1, or 2 to catch
    /// faulty nodes (each task then runs at least twice).
    public var verify: Int
    /// Tasks a worker may hold beyond its slots, whatever credit it asks for.
    public var maxPrefetch: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts = "max_attempts", maxLostWorkers = "max_lost_workers", heartbeatMs = "heartbeat_ms", liveness
        case taskTimeout = "task_timeout", commitIntervalMs = "commit_interval_ms", verify, maxPrefetch = "max_prefetch"
    }

    /// The keys a `runtime:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a runtime section with the documented defaults.
    public init(maxAttempts: Int = 3, maxLostWorkers: Int = 8, heartbeatMs: Int = 1000, liveness: Int = 5, taskTimeout: Double? = nil,
                commitIntervalMs: Int = 5, verify: Int = 1, maxPrefetch: Int = 2) {
        self.maxAttempts = maxAttempts
        self.maxLostWorkers = maxLostWorkers
        self.heartbeatMs = heartbeatMs
        self.liveness = liveness
        self.taskTimeout = taskTimeout
        self.commitIntervalMs = commitIntervalMs
        self.verify = verify
        self.maxPrefetch = maxPrefetch
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RuntimeSpec()
        self.init(maxAttempts: try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? d.maxAttempts,
                  maxLostWorkers: try c.decodeIfPresent(Int.self, forKey: .maxLostWorkers) ?? d.maxLostWorkers,
                  heartbeatMs: try c.decodeIfPresent(Int.self, forKey: .heartbeatMs) ?? d.heartbeatMs,
                  liveness: try c.decodeIfPresent(Int.self, forKey: .liveness) ?? d.liveness,
                  taskTimeout: try c.decodeIfPresent(Double.self, forKey: .taskTimeout),
                  commitIntervalMs: try c.decodeIfPresent(Int.self, forKey: .commitIntervalMs) ?? d.commitIntervalMs,
                  verify: try c.decodeIfPresent(Int.self, forKey: .verify) ?? d.verify,
                  maxPrefetch: try c.decodeIfPresent(Int.self, forKey: .maxPrefetch) ?? d.maxPrefetch)
    }

    func validate(_ source: String) throws {
        func fail(_ m: String) throws -> Never { throw SpecError(file: source, message: m) }
        if maxAttempts < 1 || maxAttempts > 1000 { try fail("runtime.max_attempts must be in 1…1000, got \(maxAttempts)") }
        if heartbeatMs < 10 || heartbeatMs > 3_600_000 { try fail("runtime.heartbeat_ms must be in 10…3600000 (one hour), got \(heartbeatMs)") }
        if liveness < 2 || liveness > 1000 { try fail("runtime.liveness must be in 2…1000 heartbeats, got \(liveness)") }
        if let t = taskTimeout, !(t > 0 && t <= 10_000_000) {
            try fail("runtime.task_timeout must be positive seconds up to 10000000 (about 116 days), got \(t)")
        }
        if maxLostWorkers < 1 || maxLostWorkers > 1000 { try fail("runtime.max_lost_workers must be in 1…1000, got \(maxLostWorkers)") }
        if verify < 1 || verify > 2 { try fail("runtime.verify must be 1 or 2 (distinct workers whose results must agree), got \(verify)") }
        if maxPrefetch < 0 || maxPrefetch > 16 { try fail("runtime.max_prefetch must be in 0…16, got \(maxPrefetch)") }
        if commitIntervalMs < 0 || commitIntervalMs > 60_000 { try fail("runtime.commit_interval_ms must be in 0…60000, got \(commitIntervalMs)") }
    }
}
