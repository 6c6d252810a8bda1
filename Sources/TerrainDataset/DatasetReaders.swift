import Foundation
import GRDB

extension SweepDataset {
    /// A snapshot of progress, written by the coordinator twice a second.
    public struct Progress: Sendable, Equatable {
        public var state: String
        public var done = 0, failed = 0, running = 0, queued = 0, waiting = 0, workers = 0
        /// Tasks finished per second over the last ~10 s.
        public var rate = 0.0
        /// Unix seconds of the last update and of the coordinator's start.
        public var updated = 0.0, started = 0.0
        /// The coordinator's process id.
        public var pid = 0
        /// All tasks.
        public var total: Int { done + failed + running + queued + waiting }
        /// Creates a snapshot.
        public init(state: String) { self.state = state }
    }

    /// Replaces the progress row.
    public func writeProgress(_ p: Progress) throws {
        try write("writing the progress row") { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO progress(id, updated, pid, state, done, failed, running, queued, waiting, workers, rate, started)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [p.updated, p.pid, p.state, p.done, p.failed, p.running, p.queued, p.waiting, p.workers, p.rate, p.started])
        }
    }

    /// Progress as stored, with task counts taken from the tasks table (authoritative).
    public func readProgress() throws -> Progress {
        try read { db in
            var p = Progress(state: "unknown")
            if let row = try Row.fetchOne(db, sql: "SELECT state, workers, rate, updated, started, pid FROM progress WHERE id = 1") {
                p.state = row[0] ?? "unknown"
                p.workers = row[1] ?? 0
                p.rate = row[2] ?? 0
                p.updated = row[3] ?? 0
                p.started = row[4] ?? 0
                p.pid = row[5] ?? 0
            }
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM tasks GROUP BY status") {
                let n: Int = row[1]
                switch TaskStatus(rawValue: row[0]) {
                case .done: p.done = n
                case .failed: p.failed = n
                case .running: p.running = n
                case .queued: p.queued = n
                case .waiting: p.waiting = n
                case nil: break
                }
            }
            return p
        }
    }

    /// An entry of the event log.
    public struct Event: Sendable, Equatable {
        /// Unix seconds.
        public var time: Double
        /// The task it concerns, if any.
        public var task: UInt64?
        /// The worker it concerns, if any.
        public var worker: String?
        /// What happened.
        public var detail: String
    }

    /// The tasks that are `failed` now (quarantined, or a dependency of theirs was), with their
    /// last error, in id order.
    public func failedTasks() throws -> [(task: UInt64, error: String?)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, error FROM tasks WHERE status = 'failed' ORDER BY id").map { (UInt64($0[0] as Int64), $0[1]) }
        }
    }

    /// Event-log entries of one kind (`quarantined`, `determinism-violation`, …), oldest first.
    public func events(kind: String) throws -> [Event] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT time, task, worker, detail FROM events WHERE kind = ? ORDER BY id", arguments: [kind]).map {
                Event(time: $0[0], task: ($0[1] as Int64?).map { UInt64($0) }, worker: $0[2], detail: $0[3])
            }
        }
    }

    /// A task with a committed result: its kind, parameters and output.
    public struct CompletedTask: Sendable, Equatable {
        public var task: UInt64
        public var kind: String
        public var params: [UInt8]
        public var output: [UInt8]
    }

    /// Every task with a result, in task order.
    public func completedOutputs() throws -> [CompletedTask] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT t.id, t.kind, t.params, r.output FROM tasks t JOIN results r ON r.task = t.id ORDER BY t.id").map {
                CompletedTask(task: UInt64($0[0] as Int64), kind: $0[1], params: [UInt8]($0[2] as Data), output: [UInt8]($0[3] as Data))
            }
        }
    }

    /// Every task's kind and parameters, in task order (finished or not).
    public func taskParameters() throws -> [(task: UInt64, kind: String, params: [UInt8])] {
        try loadTasks().map { ($0.id, $0.kind, $0.params) }
    }

    /// Stores derived results (JSON values) under their keys.
    public func writeSummaries(_ summaries: [String: String]) throws {
        try write("writing summaries") { db in
            for (k, v) in summaries { try db.execute(sql: "INSERT OR REPLACE INTO summaries(key, value) VALUES (?, ?)", arguments: [k, v]) }
        }
    }

    /// Derived results by key.
    public func summaries() throws -> [String: String] {
        try read { db in
            var out = [String: String]()
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM summaries") { out[row[0]] = row[1] }
            return out
        }
    }
}
