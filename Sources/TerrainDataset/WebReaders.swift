import Foundation
import GRDB

/// Readers for the HTTP side and the HTML report (issue 13): small aggregate queries, each
/// one read transaction, safe on a dataset a coordinator is writing (WAL).
extension SweepDataset {
    /// A task as the live page lists it.
    public struct TaskRow: Sendable, Equatable, Codable {
        public var id: UInt64
        public var kind: String
        public var status: String
        public var attempts: Int
        public var failures: Int
        public var worker: String?
        public var error: String?
        /// Unix seconds of the current or last attempt's start and of its end.
        public var started: Double?, finished: Double?
    }

    /// Tasks in a status (`queued`, `running`, `done`, `failed`, `waiting`), or every task, in
    /// id order, at most `limit`.
    public func taskRows(status: String?, limit: Int) throws -> [TaskRow] {
        try read { db in
            let filter = status == nil ? "" : "WHERE status = ?"
            let args: StatementArguments = status.map { [$0, limit] } ?? [limit]
            return try Row.fetchAll(db, sql: "SELECT id, kind, status, attempts, failures, worker, error, started, finished FROM tasks \(filter) ORDER BY id LIMIT ?",
                                    arguments: args).map {
                TaskRow(id: UInt64($0[0] as Int64), kind: $0[1], status: $0[2], attempts: $0[3], failures: $0[4], worker: $0[5], error: $0[6],
                        started: $0[7], finished: $0[8])
            }
        }
    }

    /// Tasks by status (every status present), plus the sums of attempts and failures.
    public func taskCounts() throws -> (byStatus: [String: Int], attempts: Int, failures: Int) {
        try read { db in
            var counts = [String: Int]()
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) FROM tasks GROUP BY status") { counts[row[0]] = row[1] }
            let sums = try Row.fetchOne(db, sql: "SELECT coalesce(sum(max(attempts - 1, 0)), 0), coalesce(sum(failures), 0) FROM tasks")
            return (counts, sums?[0] ?? 0, sums?[1] ?? 0)
        }
    }

    /// An event with its kind.
    public struct LoggedEvent: Sendable, Equatable, Codable {
        public var id: Int64
        public var time: Double
        public var kind: String
        public var task: UInt64?
        public var worker: String?
        public var detail: String
    }

    /// The latest `limit` events, newest first.
    public func recentEvents(limit: Int) throws -> [LoggedEvent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, time, kind, task, worker, detail FROM events ORDER BY id DESC LIMIT ?", arguments: [limit]).map {
                LoggedEvent(id: $0[0], time: $0[1], kind: $0[2], task: ($0[3] as Int64?).map { UInt64($0) }, worker: $0[4], detail: $0[5])
            }
        }
    }

    /// Event counts by kind.
    public func eventKindCounts() throws -> [String: Int] {
        try read { db in
            var out = [String: Int]()
            for row in try Row.fetchAll(db, sql: "SELECT kind, count(*) FROM events GROUP BY kind") { out[row[0]] = row[1] }
            return out
        }
    }

    /// A worker as the dataset remembers it: from its results, its running tasks and the
    /// event log (for a dataset no live coordinator describes).
    public struct WorkerActivity: Sendable, Equatable, Codable {
        public var name: String
        /// `host pid N`, from its `worker-joined` event.
        public var host: String?
        public var results: Int
        public var running: [UInt64]
        /// Unix seconds of its latest result or event.
        public var lastSeen: Double?
        /// Seconds of compute its results report.
        public var busySeconds: Double
    }

    /// Every worker named by a result, a running task or an event, by name.
    public func workerActivity() throws -> [WorkerActivity] {
        try read { db in
            var byName = [String: WorkerActivity]()
            func entry(_ name: String) -> WorkerActivity { byName[name] ?? WorkerActivity(name: name, host: nil, results: 0, running: [], lastSeen: nil, busySeconds: 0) }
            for row in try Row.fetchAll(db, sql: "SELECT worker, count(*), max(received), coalesce(sum(elapsed), 0) FROM results GROUP BY worker") {
                var w = entry(row[0])
                w.results = row[1]
                w.lastSeen = row[2]
                w.busySeconds = row[3]
                byName[w.name] = w
            }
            for row in try Row.fetchAll(db, sql: "SELECT worker, id FROM tasks WHERE status = 'running' AND worker IS NOT NULL ORDER BY id") {
                var w = entry(row[0])
                w.running.append(UInt64(row[1] as Int64))
                byName[w.name] = w
            }
            for row in try Row.fetchAll(db, sql: "SELECT worker, max(time), max(CASE WHEN kind = 'worker-joined' THEN id END) FROM events WHERE worker IS NOT NULL GROUP BY worker") {
                var w = entry(row[0])
                let t: Double? = row[1]
                w.lastSeen = max(w.lastSeen ?? 0, t ?? 0)
                if let id: Int64 = row[2], let detail = try String.fetchOne(db, sql: "SELECT detail FROM events WHERE id = ?", arguments: [id]) {
                    w.host = detail.components(separatedBy: ", kinds").first
                }
                byName[w.name] = w
            }
            return byName.values.sorted { $0.name < $1.name }
        }
    }

    /// Results committed, and per task kind the compute seconds each result reported.
    public func resultTimings() throws -> (count: Int, byKind: [String: [Double]]) {
        try read { db in
            var byKind = [String: [Double]]()
            var count = 0
            for row in try Row.fetchAll(db, sql: "SELECT t.kind, r.elapsed FROM results r JOIN tasks t ON t.id = r.task") {
                count += 1
                if let e: Double = row[1] { byKind[row[0], default: []].append(e) }
            }
            return (count, byKind)
        }
    }

    /// Results committed so far (one cheap query: the live page's change detector).
    public func resultCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM results") ?? 0 }
    }

    /// When results first and last arrived (Unix seconds), `nil` without results.
    public func resultSpan() throws -> (first: Double, last: Double)? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT min(received), max(received) FROM results"), let a: Double = row[0], let b: Double = row[1] else { return nil }
            return (a, b)
        }
    }
}
