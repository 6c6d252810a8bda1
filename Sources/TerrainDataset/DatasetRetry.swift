import Foundation
import GRDB

extension SweepDataset {
    /// Puts quarantined tasks back in the queue (`terrain retry`), with every task that failed
    /// because they did (`dependency N failed`, transitively): their failure counts and errors
    /// are cleared, a `retry` event records each, and the sweep's summaries are dropped (they
    /// are computed again when it finishes). The next coordinator on the dataset runs them.
    ///
    /// - Parameter tasks: the tasks to retry; `nil` retries every failed task.
    /// - Returns: the ids put back, in order.
    /// - Throws: ``DatasetError/notRetryable(_:)`` for a task that does not exist or is not
    ///   `failed`, or that depends on a failed task not being retried with it (retry that one:
    ///   its dependents come along).
    public func retry(_ tasks: [UInt64]?, time: Double = Date().timeIntervalSince1970) throws -> [UInt64] {
        let state = try read { db -> (status: [UInt64: String], error: [UInt64: String], dependencies: [(UInt64, UInt64)]) in
            var status = [UInt64: String](), error = [UInt64: String]()
            for row in try Row.fetchAll(db, sql: "SELECT id, status, error FROM tasks") {
                let id = UInt64(row[0] as Int64)
                status[id] = row[1]
                error[id] = row[2]
            }
            let deps = try Row.fetchAll(db, sql: "SELECT task, dependency FROM dependencies").map { (UInt64($0[0] as Int64), UInt64($0[1] as Int64)) }
            return (status, error, deps)
        }
        let named = tasks ?? state.status.filter { $0.value == TaskStatus.failed.rawValue }.map(\.key)
        for id in named where state.status[id] != TaskStatus.failed.rawValue {
            let what = state.status[id].map { "is \($0), not failed" } ?? "does not exist"
            throw DatasetError.notRetryable("\(path): task \(id) \(what); only failed tasks can be retried")
        }
        var dependents = [UInt64: [UInt64]]()
        for (task, dependency) in state.dependencies { dependents[dependency, default: []].append(task) }
        var chosen = Set(named)
        var stack = named
        while let id = stack.popLast() {
            for child in dependents[id] ?? [] where state.status[child] == TaskStatus.failed.rawValue && chosen.insert(child).inserted {
                stack.append(child)
            }
        }
        for (task, dependency) in state.dependencies.sorted(by: { $0 < $1 })
        where chosen.contains(task) && !chosen.contains(dependency) && state.status[dependency] == TaskStatus.failed.rawValue {
            throw DatasetError.notRetryable("\(path): task \(task) depends on task \(dependency), which failed; retry task \(dependency) (its dependents come along)")
        }
        let ids = chosen.sorted()
        guard !ids.isEmpty else { return [] }
        try write("re-queueing failed tasks") { db in
            let update = try db.makeStatement(sql: "UPDATE tasks SET status = 'queued', failures = 0, error = NULL, finished = NULL, worker = NULL WHERE id = ?")
            let event = try db.makeStatement(sql: "INSERT INTO events(time, kind, task, detail) VALUES (?, 'retry', ?, ?)")
            for id in ids {
                try update.execute(arguments: [Int64(id)])
                try event.execute(arguments: [time, Int64(id), "re-queued by terrain retry (it had failed: \(state.error[id] ?? "no error recorded"))"])
            }
            try db.execute(sql: "DELETE FROM summaries")
            try db.execute(sql: "UPDATE progress SET state = 'stopped', workers = 0")
        }
        return ids
    }

    /// The dataset's secret for lease tokens (docs/protocol.md, "Leases"): 32 random bytes kept
    /// in `meta.lease_secret`, created on first use. Tokens derived from it survive a
    /// coordinator restart, so results of earlier attempts are still recognised.
    public func leaseSecret() throws -> [UInt8] {
        if let hex = try meta("lease_secret"), hex.count == 64 {
            let bytes = stride(from: 0, to: 64, by: 2).compactMap { i -> UInt8? in
                let a = hex.index(hex.startIndex, offsetBy: i)
                return UInt8(hex[a ..< hex.index(a, offsetBy: 2)], radix: 16)
            }
            if bytes.count == 32 { return bytes }
        }
        var rng = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        try setMeta("lease_secret", secret.map { String(format: "%02x", $0) }.joined())
        return secret
    }
}
