import Foundation
import GRDB

extension SweepDataset {
    /// A result waiting for the next commit.
    public struct PendingResult: Sendable {
        public var task: UInt64, attempt: UInt64, worker: String
        public var output: [UInt8], digest: [UInt8], elapsed: Double, received: Double
        /// Output artifacts: name, SHA-256 (computed once by the caller) and bytes.
        public var blobs: [(name: String, hash: [UInt8], data: [UInt8])]
        /// The step the attempt resumed from (training kinds).
        public var startStep: UInt64?
        /// Rows of the `runs` and `curve_points` tables this result adds, when its kind
        /// tabulates its output (lottery levels, training runs).
        public var rows: RunRows?
        /// Rows of the `paths` and `path_points` tables this result adds (evaluated paths).
        public var pathRows: PathRows?

        /// Creates a pending result.
        public init(task: UInt64, attempt: UInt64, worker: String, output: [UInt8], digest: [UInt8], elapsed: Double,
                    received: Double, blobs: [(name: String, hash: [UInt8], data: [UInt8])], startStep: UInt64? = nil,
                    rows: RunRows? = nil, pathRows: PathRows? = nil) {
            self.task = task; self.attempt = attempt; self.worker = worker; self.output = output; self.digest = digest
            self.elapsed = elapsed; self.received = received; self.blobs = blobs; self.startStep = startStep; self.rows = rows
            self.pathRows = pathRows
        }
    }

    /// A running task's checkpoint waiting for the next commit.
    public struct PendingCheckpoint: Sendable {
        public var task: UInt64, attempt: UInt64, step: UInt64, hash: [UInt8], data: [UInt8], received: Double
        /// Creates a pending checkpoint.
        public init(task: UInt64, attempt: UInt64, step: UInt64, hash: [UInt8], data: [UInt8], received: Double) {
            self.task = task; self.attempt = attempt; self.step = step; self.hash = hash; self.data = data; self.received = received
        }
    }

    /// A task status change waiting for the next commit.
    public struct StatusUpdate: Sendable {
        public var task: UInt64, status: TaskStatus, attempts: Int, failures: Int, worker: String?, error: String?, time: Double
        /// Creates an update.
        public init(task: UInt64, status: TaskStatus, attempts: Int, failures: Int = 0, worker: String?, error: String?, time: Double) {
            self.task = task; self.status = status; self.attempts = attempts; self.failures = failures; self.worker = worker
            self.error = error; self.time = time
        }
    }

    /// An event-log entry waiting for the next commit.
    public struct EventRecord: Sendable {
        public var time: Double, kind: String, task: UInt64?, worker: String?, detail: String
        /// Creates an entry.
        public init(time: Double, kind: String, task: UInt64?, worker: String?, detail: String) {
            self.time = time; self.kind = kind; self.task = task; self.worker = worker; self.detail = detail
        }
    }

    /// Writes results (marking their tasks done), status changes, events and checkpoints in
    /// one transaction. When this returns, they are durable.
    public func commit(results: [PendingResult], statuses: [StatusUpdate], events: [EventRecord],
                       checkpoints: [PendingCheckpoint] = [], workers: [WorkerChange] = []) throws {
        if results.isEmpty && statuses.isEmpty && events.isEmpty && checkpoints.isEmpty && workers.isEmpty { return }
        try write("committing results") { db in
            try Self.write(workers, db)
            try Self.write(checkpoints, db)
            try Self.write(statuses, db)
            try Self.write(results, db)
            let insert = try db.cachedStatement(sql: "INSERT INTO events(time, kind, task, worker, detail) VALUES (?, ?, ?, ?, ?)")
            for e in events {
                try insert.execute(arguments: [e.time, e.kind, e.task.map { Int64($0) }, e.worker, e.detail])
            }
        }
    }

    private static func write(_ checkpoints: [PendingCheckpoint], _ db: Database) throws {
        guard !checkpoints.isEmpty else { return }
        let artifact = try db.cachedStatement(sql: "INSERT OR IGNORE INTO artifacts(hash, size, data) VALUES (?, ?, ?)")
        let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO checkpoints(task, attempt, step, hash, received) VALUES (?, ?, ?, ?, ?)")
        for c in checkpoints {
            let old = try Row.fetchOne(db, sql: "SELECT step, hash FROM checkpoints WHERE task = ?", arguments: [Int64(c.task)])
            // A checkpoint never replaces one further along.
            if let old, Int64(clamping: c.step) < (old[0] as Int64) { continue }
            try artifact.execute(arguments: [Data(c.hash), c.data.count, Data(c.data)])
            try upsert.execute(arguments: [Int64(c.task), Int64(clamping: c.attempt), Int64(clamping: c.step), Data(c.hash), c.received])
            if let old { try dropUnreferencedArtifact(old[1] as Data, db) }
        }
    }

    private static func write(_ statuses: [StatusUpdate], _ db: Database) throws {
        guard !statuses.isEmpty else { return }
        let running = try db.cachedStatement(sql: "UPDATE tasks SET status = ?, attempts = ?, failures = ?, worker = ?, error = ?, started = ? WHERE id = ?")
        let other = try db.cachedStatement(sql: "UPDATE tasks SET status = ?, attempts = ?, failures = ?, error = COALESCE(?, error), finished = CASE WHEN ? = 'failed' THEN ? ELSE finished END WHERE id = ?")
        for s in statuses {
            if s.status == .running {
                try running.execute(arguments: [s.status.rawValue, s.attempts, s.failures, s.worker, s.error, s.time, Int64(s.task)])
            } else {
                try other.execute(arguments: [s.status.rawValue, s.attempts, s.failures, s.error, s.status.rawValue, s.time, Int64(s.task)])
            }
        }
    }

    private static func write(_ results: [PendingResult], _ db: Database) throws {
        guard !results.isEmpty else { return }
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO results(task, attempt, worker, output, digest, elapsed, received) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let done = try db.cachedStatement(sql: "UPDATE tasks SET status = 'done', worker = ?, finished = ?, error = NULL WHERE id = ?")
        let artifact = try db.cachedStatement(sql: "INSERT OR IGNORE INTO artifacts(hash, size, data) VALUES (?, ?, ?)")
        let link = try db.cachedStatement(sql: "INSERT OR REPLACE INTO result_artifacts(task, name, hash) VALUES (?, ?, ?)")
        let start = try db.cachedStatement(sql: "UPDATE results SET start_step = ? WHERE task = ? AND start_step IS NULL")
        for r in results {
            try insert.execute(arguments: [Int64(r.task), Int64(r.attempt), r.worker, Data(r.output), Data(r.digest), r.elapsed, r.received])
            if let s = r.startStep { try start.execute(arguments: [Int64(clamping: s), Int64(r.task)]) }
            try done.execute(arguments: [r.worker, r.received, Int64(r.task)])
            for b in r.blobs {
                try artifact.execute(arguments: [Data(b.hash), b.data.count, Data(b.data)])
                try link.execute(arguments: [Int64(r.task), b.name, Data(b.hash)])
            }
            if let rows = r.rows { try rows.insert(task: r.task, db) }
            if let rows = r.pathRows { try rows.insert(task: r.task, db) }
        }
    }
}
