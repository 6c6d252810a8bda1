import Foundation

/// The `runtime:` section of a sweep spec: how the coordinator treats workers and tasks.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    /// Attempts before a task is quarantined as failed.
    public var maxAttempts: Int
    /// Heartbeat interval, milliseconds.
    public var heartbeatMs: Int
    /// Missed heartbeats before a peer is presumed dead.
    public var liveness: Int
    /// Per-task time limit in seconds (`nil`: none).
    public var taskTimeout: Double?
    /// Longest wait before accepted results are committed, milliseconds.
    public var commitIntervalMs: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts = "max_attempts", heartbeatMs = "heartbeat_ms", liveness, taskTimeout = "task_timeout"
        case commitIntervalMs = "commit_interval_ms"
    }

    /// The keys a `runtime:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a runtime section with the documented defaults.
    public init(maxAttempts: Int = 3, heartbeatMs: Int = 1000, liveness: Int = 5, taskTimeout: Double? = nil, commitIntervalMs: Int = 5) {
        self.maxAttempts = maxAttempts
        self.heartbeatMs = heartbeatMs
        self.liveness = liveness
        self.taskTimeout = taskTimeout
        self.commitIntervalMs = commitIntervalMs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(maxAttempts: try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 3,
                  heartbeatMs: try c.decodeIfPresent(Int.self, forKey: .heartbeatMs) ?? 1000,
                  liveness: try c.decodeIfPresent(Int.self, forKey: .liveness) ?? 5,
                  taskTimeout: try c.decodeIfPresent(Double.self, forKey: .taskTimeout),
                  commitIntervalMs: try c.decodeIfPresent(Int.self, forKey: .commitIntervalMs) ?? 5)
    }

    func validate(_ source: String) throws {
        func fail(_ m: String) throws -> Never { throw SpecError(file: source, message: m) }
        if maxAttempts < 1 { try fail("runtime.max_attempts must be ≥ 1, got \(maxAttempts)") }
        if heartbeatMs < 10 { try fail("runtime.heartbeat_ms must be ≥ 10, got \(heartbeatMs)") }
        if liveness < 2 { try fail("runtime.liveness must be ≥ 2 heartbeats, got \(liveness)") }
        if let t = taskTimeout, !(t > 0) { try fail("runtime.task_timeout must be positive seconds, got \(t)") }
        if commitIntervalMs < 0 { try fail("runtime.commit_interval_ms must be ≥ 0") }
    }
}
