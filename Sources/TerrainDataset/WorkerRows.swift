import Foundation
import GRDB

extension SweepDataset {
    /// A change to the `workers` table waiting for the next commit: a worker said hello, or
    /// left / was lost.
    public enum WorkerChange: Sendable, Equatable {
        /// A worker joined: its name (the connection's identity, as in `results.worker`), host,
        /// pid, placement (``WorkerRow/placement``) and the wall time.
        case joined(worker: String, host: String, pid: UInt64, placement: String, time: Double)
        /// A worker left or was lost, and why.
        case left(worker: String, reason: String, time: Double)
    }

    /// One row of the `workers` table: a connection of a worker process to a coordinator.
    public struct WorkerRow: Sendable, Equatable {
        /// The connection's identity (`results.worker` and `events.worker` name it).
        public var worker: String
        /// The worker's host name and process id.
        public var host: String, pid: UInt64
        /// Where it ran as its batch system saw it (`slurm job 812 (array 810_2) step 0 task 1
        /// node n2`, `kubernetes pod terrain-worker-3 node k1`); empty outside a batch system.
        public var placement: String
        /// When it joined and, if it has, left (seconds since 1970).
        public var joined: Double, left: Double?
        /// Why it left (`left: worker stopping (signal)`, `unreachable`, …).
        public var reason: String?
    }

    static func write(_ changes: [WorkerChange], _ db: Database) throws {
        guard !changes.isEmpty else { return }
        let join = try db.cachedStatement(sql: "INSERT OR REPLACE INTO workers(worker, host, pid, placement, joined, left, reason) VALUES (?, ?, ?, ?, ?, NULL, NULL)")
        let leave = try db.cachedStatement(sql: "UPDATE workers SET left = ?, reason = ? WHERE worker = ? AND left IS NULL")
        for c in changes {
            switch c {
            case let .joined(worker, host, pid, placement, time):
                try join.execute(arguments: [worker, host, Int64(clamping: pid), placement, time])
            case let .left(worker, reason, time):
                try leave.execute(arguments: [time, reason, worker])
            }
        }
    }

    /// The `workers` table, oldest connection first (empty for a dataset older than schema 4).
    public func workerRows() throws -> [WorkerRow] {
        try read { db in
            guard try db.tableExists("workers") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT worker, host, pid, placement, joined, left, reason FROM workers ORDER BY joined, worker").map {
                WorkerRow(worker: $0[0], host: $0[1], pid: UInt64(clamping: $0[2] as Int64), placement: $0[3] ?? "", joined: $0[4],
                          left: $0[5], reason: $0[6])
            }
        }
    }
}
