import Foundation
import GRDB
import TerrainCore

/// The sweep's one SQLite file (docs/dataset.md): the spec and its hash, every task with its
/// status, attempts, worker and timings, results, content-addressed artifacts, an event log
/// and a progress row for `terrain status`.
///
/// Opened in WAL mode with `synchronous=FULL`: a transaction that returned is on disk, so a
/// result is durable before the coordinator acknowledges it. Writes are batched by the
/// caller into one transaction per commit interval.
public final class SweepDataset: @unchecked Sendable {
    /// The file.
    public let path: String
    let db: DatabaseQueue

    /// The schema version this build writes.
    public static let schemaVersion = 1

    /// Opens (creating if needed) a dataset. Throws ``DatasetError`` naming the file.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = .timeout(10)
        if !readOnly { config.journalMode = .wal }
        config.prepareDatabase { db in
            if !readOnly { try db.execute(sql: "PRAGMA synchronous = FULL") }
        }
        do {
            if readOnly && !FileManager.default.fileExists(atPath: path) {
                throw DatasetError.io("\(path): no such dataset")
            }
            db = try DatabaseQueue(path: path, configuration: config)
            if readOnly {
                let isSweep = try db.read { try Bool.fetchOne($0, sql: "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'") } ?? false
                guard isSweep else { throw DatasetError.io("\(path): not a Terrain sweep dataset (no meta table)") }
            } else {
                try migrate()
            }
        } catch let e as DatasetError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB {
            throw DatasetError.io("\(path): not a Terrain sweep dataset (not an SQLite file)")
        } catch {
            throw DatasetError.io("\(path): cannot open the dataset: \(error)")
        }
    }

    private func migrate() throws {
        try db.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS tasks(
                    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, params BLOB NOT NULL,
                    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    worker TEXT, error TEXT, started REAL, finished REAL);
                CREATE TABLE IF NOT EXISTS dependencies(
                    task INTEGER NOT NULL, dependency INTEGER NOT NULL, PRIMARY KEY(task, dependency));
                CREATE TABLE IF NOT EXISTS results(
                    task INTEGER PRIMARY KEY, attempt INTEGER NOT NULL, worker TEXT NOT NULL,
                    output BLOB NOT NULL, digest BLOB NOT NULL, elapsed REAL, received REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS artifacts(hash BLOB PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS summaries(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS task_inputs(
                    task INTEGER NOT NULL, name TEXT NOT NULL, hash BLOB NOT NULL, PRIMARY KEY(task, name));
                CREATE TABLE IF NOT EXISTS result_artifacts(
                    task INTEGER NOT NULL, name TEXT NOT NULL, hash BLOB NOT NULL, PRIMARY KEY(task, name));
                CREATE TABLE IF NOT EXISTS events(
                    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, kind TEXT NOT NULL,
                    task INTEGER, worker TEXT, detail TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS progress(
                    id INTEGER PRIMARY KEY CHECK (id = 1), updated REAL, pid INTEGER, state TEXT,
                    done INTEGER, failed INTEGER, running INTEGER, queued INTEGER, waiting INTEGER,
                    workers INTEGER, rate REAL, started REAL);
                """)
        }
    }

    // MARK: Creation and resumption

    /// The stored spec hash, if the dataset holds a sweep.
    public func specHash() throws -> String? {
        try db.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'spec_hash'") }
    }

    /// Sets a metadata value.
    public func setMeta(_ key: String, _ value: String) throws {
        try db.write { try $0.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [key, value]) }
    }

    /// A metadata value.
    public func meta(_ key: String) throws -> String? {
        try db.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    /// Writes a new sweep: spec text and hash and all tasks, in one transaction.
    public func create(spec: String, specHash: String, kind: String, tasks: [(descriptor: TaskDescriptor, params: [UInt8])],
                       inputs: [UInt64: [(name: String, hash: [UInt8])]] = [:], artifacts: [[UInt8]: [UInt8]] = [:]) throws {
        try db.write { db in
            let artifact = try db.makeStatement(sql: "INSERT OR IGNORE INTO artifacts(hash, size, data) VALUES (?, ?, ?)")
            for (hash, data) in artifacts { try artifact.execute(arguments: [Data(hash), data.count, Data(data)]) }
            let link = try db.makeStatement(sql: "INSERT INTO task_inputs(task, name, hash) VALUES (?, ?, ?)")
            for (task, list) in inputs { for i in list { try link.execute(arguments: [Int64(task), i.name, Data(i.hash)]) } }
            let now = Date().timeIntervalSince1970
            for (k, v) in [("spec", spec), ("spec_hash", specHash), ("kind", kind), ("schema_version", String(Self.schemaVersion)),
                           ("created", String(now)), ("task_count", String(tasks.count))] {
                try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [k, v])
            }
            let insert = try db.makeStatement(sql: "INSERT INTO tasks(id, kind, params, status, attempts) VALUES (?, ?, ?, ?, 0)")
            let dep = try db.makeStatement(sql: "INSERT INTO dependencies(task, dependency) VALUES (?, ?)")
            for (d, params) in tasks {
                try insert.execute(arguments: [Int64(d.id), d.kind, Data(params), d.status.rawValue])
                for x in d.dependencies { try dep.execute(arguments: [Int64(d.id), Int64(x)]) }
            }
            try db.execute(sql: "INSERT INTO events(time, kind, detail) VALUES (?, 'sweep-created', ?)",
                           arguments: [now, "\(tasks.count) tasks of kind \(kind)"])
        }
    }

    /// The fixed inputs of every task: task → [(name, hash)].
    public func loadStaticInputs() throws -> [UInt64: [(name: String, hash: [UInt8])]] {
        try db.read { db in
            var out = [UInt64: [(name: String, hash: [UInt8])]]()
            for row in try Row.fetchAll(db, sql: "SELECT task, name, hash FROM task_inputs ORDER BY task, name") {
                out[UInt64(row[0] as Int64), default: []].append((row[1], [UInt8](row[2] as Data)))
            }
            return out
        }
    }

    /// Every task with its status, attempts, dependencies and parameters, for resuming.
    public func loadTasks() throws -> [(descriptor: TaskDescriptor, params: [UInt8])] {
        try db.read { db in
            var deps = [UInt64: [UInt64]]()
            for row in try Row.fetchAll(db, sql: "SELECT task, dependency FROM dependencies ORDER BY task, dependency") {
                deps[UInt64(row[0] as Int64), default: []].append(UInt64(row[1] as Int64))
            }
            return try Row.fetchAll(db, sql: "SELECT t.id, t.kind, t.params, t.status, t.attempts, r.digest FROM tasks t LEFT JOIN results r ON r.task = t.id ORDER BY t.id").map { row in
                let id = UInt64(row[0] as Int64)
                let status = TaskStatus(rawValue: row[3]) ?? .queued
                let digest = (row[5] as Data?).map { [UInt8]($0) }
                return (TaskDescriptor(id: id, kind: row[1], dependencies: deps[id] ?? [], status: status, attempts: row[4], digest: digest),
                        [UInt8](row[2] as Data))
            }
        }
    }

    /// Marks tasks left `running` by a stopped coordinator as `queued` (their attempts stay counted).
    public func requeueRunning() throws {
        try db.write { try $0.execute(sql: "UPDATE tasks SET status = 'queued', worker = NULL WHERE status = 'running'") }
    }

    // MARK: Batched writes

    /// A result waiting for the next commit.
    public struct PendingResult: Sendable {
        public var task: UInt64, attempt: UInt64, worker: String
        public var output: [UInt8], digest: [UInt8], elapsed: Double, received: Double
        public var blobs: [(name: String, hash: [UInt8], data: [UInt8])]

        /// Creates a pending result.
        public init(task: UInt64, attempt: UInt64, worker: String, output: [UInt8], digest: [UInt8], elapsed: Double,
                    received: Double, blobs: [(name: String, hash: [UInt8], data: [UInt8])]) {
            self.task = task; self.attempt = attempt; self.worker = worker; self.output = output; self.digest = digest
            self.elapsed = elapsed; self.received = received; self.blobs = blobs
        }
    }

    /// A task status change waiting for the next commit.
    public struct StatusUpdate: Sendable {
        public var task: UInt64, status: TaskStatus, attempts: Int, worker: String?, error: String?, time: Double
        /// Creates an update.
        public init(task: UInt64, status: TaskStatus, attempts: Int, worker: String?, error: String?, time: Double) {
            self.task = task; self.status = status; self.attempts = attempts; self.worker = worker; self.error = error; self.time = time
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

    /// Writes results (marking their tasks done), status changes and events in one
    /// transaction. When this returns, they are durable.
    public func commit(results: [PendingResult], statuses: [StatusUpdate], events: [EventRecord]) throws {
        if results.isEmpty && statuses.isEmpty && events.isEmpty { return }
        try db.write { db in
            if !statuses.isEmpty {
                let running = try db.cachedStatement(sql: "UPDATE tasks SET status = ?, attempts = ?, worker = ?, error = ?, started = ? WHERE id = ?")
                let other = try db.cachedStatement(sql: "UPDATE tasks SET status = ?, attempts = ?, error = COALESCE(?, error), finished = CASE WHEN ? = 'failed' THEN ? ELSE finished END WHERE id = ?")
                for s in statuses {
                    if s.status == .running {
                        try running.execute(arguments: [s.status.rawValue, s.attempts, s.worker, s.error, s.time, Int64(s.task)])
                    } else {
                        try other.execute(arguments: [s.status.rawValue, s.attempts, s.error, s.status.rawValue, s.time, Int64(s.task)])
                    }
                }
            }
            if !results.isEmpty {
                let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO results(task, attempt, worker, output, digest, elapsed, received) VALUES (?, ?, ?, ?, ?, ?, ?)")
                let done = try db.cachedStatement(sql: "UPDATE tasks SET status = 'done', worker = ?, finished = ?, error = NULL WHERE id = ?")
                let artifact = try db.cachedStatement(sql: "INSERT OR IGNORE INTO artifacts(hash, size, data) VALUES (?, ?, ?)")
                let link = try db.cachedStatement(sql: "INSERT OR REPLACE INTO result_artifacts(task, name, hash) VALUES (?, ?, ?)")
                for r in results {
                    try insert.execute(arguments: [Int64(r.task), Int64(r.attempt), r.worker, Data(r.output), Data(r.digest), r.elapsed, r.received])
                    try done.execute(arguments: [r.worker, r.received, Int64(r.task)])
                    for b in r.blobs {
                        try artifact.execute(arguments: [Data(b.hash), b.data.count, Data(b.data)])
                        try link.execute(arguments: [Int64(r.task), b.name, Data(b.hash)])
                    }
                }
            }
            if !events.isEmpty {
                let insert = try db.cachedStatement(sql: "INSERT INTO events(time, kind, task, worker, detail) VALUES (?, ?, ?, ?, ?)")
                for e in events {
                    try insert.execute(arguments: [e.time, e.kind, e.task.map { Int64($0) }, e.worker, e.detail])
                }
            }
        }
    }

    /// An artifact's bytes.
    public func artifact(_ hash: [UInt8]) throws -> [UInt8]? {
        try db.read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM artifacts WHERE hash = ?", arguments: [Data(hash)]).map { [UInt8]($0) }
        }
    }

    /// The named output artifacts of a task: (name, hash).
    public func outputs(of task: UInt64) throws -> [(name: String, hash: [UInt8])] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT name, hash FROM result_artifacts WHERE task = ? ORDER BY name", arguments: [Int64(task)])
                .map { ($0[0], [UInt8]($0[1] as Data)) }
        }
    }

    // MARK: Progress

    /// A snapshot of progress, written by the coordinator twice a second.
    public struct Progress: Sendable, Equatable {
        public var state: String
        public var done = 0, failed = 0, running = 0, queued = 0, waiting = 0, workers = 0
        public var rate = 0.0
        public var updated = 0.0, started = 0.0
        public var pid = 0
        /// All tasks.
        public var total: Int { done + failed + running + queued + waiting }
        /// Creates a snapshot.
        public init(state: String) { self.state = state }
    }

    /// Replaces the progress row.
    public func writeProgress(_ p: Progress) throws {
        try db.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO progress(id, updated, pid, state, done, failed, running, queued, waiting, workers, rate, started)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [p.updated, p.pid, p.state, p.done, p.failed, p.running, p.queued, p.waiting, p.workers, p.rate, p.started])
        }
    }

    /// Progress as stored, with task counts taken from the tasks table (authoritative).
    public func readProgress() throws -> Progress {
        try db.read { db in
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

    // MARK: Queries for tests and tools

    /// (task, attempt, worker, received) of every stored result.
    public func resultRows() throws -> [(task: UInt64, attempt: UInt64, worker: String, received: Double)] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT task, attempt, worker, received FROM results ORDER BY task").map {
                (UInt64($0[0] as Int64), UInt64($0[1] as Int64), $0[2], $0[3])
            }
        }
    }

    /// Event-log entries of one kind: (task, worker, detail).
    public func events(kind: String) throws -> [(task: UInt64?, worker: String?, detail: String)] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT task, worker, detail FROM events WHERE kind = ? ORDER BY id", arguments: [kind]).map {
                (($0[0] as Int64?).map { UInt64($0) }, $0[1], $0[2])
            }
        }
    }

    /// Status, attempts and last error of a task.
    public func task(_ id: UInt64) throws -> (status: TaskStatus, attempts: Int, error: String?)? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT status, attempts, error FROM tasks WHERE id = ?", arguments: [Int64(id)]).map {
                (TaskStatus(rawValue: $0[0]) ?? .queued, $0[1], $0[2])
            }
        }
    }
}

/// A dataset that cannot be used.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be opened or written.
    case io(String)
    /// The file holds another sweep.
    case specMismatch(String)

    public var description: String {
        switch self {
        case .io(let m): return m
        case .specMismatch(let m): return m
        }
    }
}

extension SweepDataset {
    /// Kind, parameters and output of every task with a result, in task order.
    public func completedOutputs() throws -> [(task: UInt64, kind: String, params: [UInt8], output: [UInt8])] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT t.id, t.kind, t.params, r.output FROM tasks t JOIN results r ON r.task = t.id ORDER BY t.id").map {
                (UInt64($0[0] as Int64), $0[1], [UInt8]($0[2] as Data), [UInt8]($0[3] as Data))
            }
        }
    }

    /// The fixed input artifacts of a task by name (e.g. the surface directions `d1`, `d2`).
    public func staticInputs(of task: UInt64) throws -> [String: [UInt8]] {
        var out = [String: [UInt8]]()
        for (name, hash) in try loadStaticInputs()[task] ?? [] { out[name] = try artifact(hash) }
        return out
    }

    /// Stores derived results (JSON values) under their keys.
    public func writeSummaries(_ summaries: [String: String]) throws {
        try db.write { db in
            for (k, v) in summaries { try db.execute(sql: "INSERT OR REPLACE INTO summaries(key, value) VALUES (?, ?)", arguments: [k, v]) }
        }
    }

    /// Derived results by key.
    public func summaries() throws -> [String: String] {
        try db.read { db in
            var out = [String: String]()
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM summaries") { out[row[0]] = row[1] }
            return out
        }
    }

}
