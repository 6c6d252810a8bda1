import Foundation
import GRDB
import TerrainCore
import TerrainSweeps

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
    public static let schemaVersion = 2

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
                CREATE TABLE IF NOT EXISTS checkpoints(
                    task INTEGER PRIMARY KEY, attempt INTEGER NOT NULL, step INTEGER NOT NULL,
                    hash BLOB NOT NULL, received REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS runs(
                    task INTEGER PRIMARY KEY, kind TEXT NOT NULL, seed INTEGER NOT NULL, branch TEXT, level INTEGER,
                    rewind_step INTEGER, batch_size INTEGER NOT NULL, lr REAL NOT NULL, effective_lr REAL NOT NULL,
                    optimizer TEXT NOT NULL, momentum REAL NOT NULL, weight_decay REAL NOT NULL, status TEXT NOT NULL,
                    diverged_step INTEGER, diverged_loss REAL, total_steps INTEGER NOT NULL, density REAL,
                    train_loss REAL, train_acc REAL, test_loss REAL, test_acc REAL, generalization_gap REAL,
                    accuracy_gap REAL, lambda_max REAL, steps_to_target INTEGER, early_stop_step INTEGER,
                    early_stop_test_acc REAL, val_loss REAL, val_acc REAL);
                CREATE TABLE IF NOT EXISTS curve_points(
                    task INTEGER NOT NULL, step INTEGER NOT NULL, epoch REAL NOT NULL, train_loss REAL, train_acc REAL,
                    test_loss REAL, test_acc REAL, lr REAL, lambda_max REAL, val_loss REAL, val_acc REAL,
                    PRIMARY KEY(task, step));
                """)
            // Files written by schema 1 lack the start step of results (the tables above are new).
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(results)").map { $0["name"] as String }
            if !columns.contains("start_step") { try db.execute(sql: "ALTER TABLE results ADD COLUMN start_step INTEGER") }
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'schema_version'", arguments: [String(Self.schemaVersion)])
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
        /// The step the attempt resumed from (training kinds).
        public var startStep: UInt64?
        /// The decoded record of a `run` or `lottery` result: written to `runs` and `curve_points`.
        public var record: RunRecord?

        /// Creates a pending result.
        public init(task: UInt64, attempt: UInt64, worker: String, output: [UInt8], digest: [UInt8], elapsed: Double,
                    received: Double, blobs: [(name: String, hash: [UInt8], data: [UInt8])], startStep: UInt64? = nil,
                    record: RunRecord? = nil) {
            self.task = task; self.attempt = attempt; self.worker = worker; self.output = output; self.digest = digest
            self.elapsed = elapsed; self.received = received; self.blobs = blobs; self.startStep = startStep; self.record = record
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
    public func commit(results: [PendingResult], statuses: [StatusUpdate], events: [EventRecord],
                       checkpoints: [PendingCheckpoint] = []) throws {
        if results.isEmpty && statuses.isEmpty && events.isEmpty && checkpoints.isEmpty { return }
        try db.write { db in
            if !checkpoints.isEmpty {
                let artifact = try db.cachedStatement(sql: "INSERT OR IGNORE INTO artifacts(hash, size, data) VALUES (?, ?, ?)")
                let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO checkpoints(task, attempt, step, hash, received) VALUES (?, ?, ?, ?, ?)")
                for c in checkpoints {
                    let old = try Row.fetchOne(db, sql: "SELECT step, hash FROM checkpoints WHERE task = ?", arguments: [Int64(c.task)])
                    // A checkpoint never replaces one further along.
                    if let old, Int64(clamping: c.step) < (old[0] as Int64) { continue }
                    try artifact.execute(arguments: [Data(c.hash), c.data.count, Data(c.data)])
                    try upsert.execute(arguments: [Int64(c.task), Int64(clamping: c.attempt), Int64(clamping: c.step), Data(c.hash), c.received])
                    if let old { try Self.dropUnreferencedArtifact(old[1] as Data, db) }
                }
            }
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
                let start = try db.cachedStatement(sql: "UPDATE results SET start_step = ? WHERE task = ? AND start_step IS NULL")
                for r in results {
                    try insert.execute(arguments: [Int64(r.task), Int64(r.attempt), r.worker, Data(r.output), Data(r.digest), r.elapsed, r.received])
                    if let s = r.startStep { try start.execute(arguments: [Int64(clamping: s), Int64(r.task)]) }
                    try done.execute(arguments: [r.worker, r.received, Int64(r.task)])
                    for b in r.blobs {
                        try artifact.execute(arguments: [Data(b.hash), b.data.count, Data(b.data)])
                        try link.execute(arguments: [Int64(r.task), b.name, Data(b.hash)])
                    }
                    if let record = r.record { try Self.insertRun(task: r.task, record, db) }
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

    /// Deletes an artifact no task input, result or checkpoint refers to any more.
    private static func dropUnreferencedArtifact(_ hash: Data, _ db: Database) throws {
        try db.execute(sql: """
            DELETE FROM artifacts WHERE hash = ?1
              AND NOT EXISTS (SELECT 1 FROM checkpoints WHERE hash = ?1)
              AND NOT EXISTS (SELECT 1 FROM result_artifacts WHERE hash = ?1)
              AND NOT EXISTS (SELECT 1 FROM task_inputs WHERE hash = ?1)
            """, arguments: [hash])
    }

    /// Writes one `runs` row and the run's `curve_points` (replacing any earlier ones).
    private static func insertRun(task: UInt64, _ r: RunRecord, _ db: Database) throws {
        func finite(_ v: Double?) -> Double? { v.flatMap { $0.isNaN ? nil : $0 } }
        let id = Int64(task)
        try db.execute(sql: """
            INSERT OR REPLACE INTO runs(task, kind, seed, branch, level, rewind_step, batch_size, lr, effective_lr, optimizer,
                momentum, weight_decay, status, diverged_step, diverged_loss, total_steps, density, train_loss, train_acc, test_loss,
                test_acc, generalization_gap, accuracy_gap, lambda_max, steps_to_target, early_stop_step, early_stop_test_acc,
                val_loss, val_acc)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, r.kind, Int64(bitPattern: r.seed), r.branch, r.level, r.rewindStep, r.batchSize, r.learningRate,
                             r.effectiveLearningRate, r.optimizer, r.momentum, r.weightDecay, r.status, r.divergedStep,
                             finite(r.divergedLoss), r.totalSteps, r.density, finite(r.trainLoss), finite(r.trainAccuracy),
                             finite(r.testLoss), finite(r.testAccuracy), finite(r.generalizationGap), finite(r.accuracyGap),
                             finite(r.lambdaMax), r.stepsToTarget, r.earlyStopStep, finite(r.earlyStopTestAccuracy),
                             finite(r.validationLoss), finite(r.validationAccuracy)])
        try db.execute(sql: "DELETE FROM curve_points WHERE task = ?", arguments: [id])
        let point = try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO curve_points(task, step, epoch, train_loss, train_acc, test_loss, test_acc, lr, lambda_max,
                val_loss, val_acc)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for c in r.curve {
            try point.execute(arguments: [id, c.step, c.epoch, finite(c.trainLoss), finite(c.trainAccuracy), finite(c.testLoss),
                                          finite(c.testAccuracy), c.learningRate, finite(c.lambdaMax), finite(c.validationLoss),
                                          finite(c.validationAccuracy)])
        }
    }

    /// The tasks that have a checkpoint.
    public func checkpointedTasks() throws -> Set<UInt64> {
        try db.read { db in Set(try Int64.fetchAll(db, sql: "SELECT task FROM checkpoints").map { UInt64($0) }) }
    }

    /// Deletes every checkpoint and its artifact (a finished sweep needs none).
    public func dropCheckpoints() throws {
        try db.write { db in
            let hashes = try Data.fetchAll(db, sql: "SELECT hash FROM checkpoints")
            try db.execute(sql: "DELETE FROM checkpoints")
            for h in hashes { try Self.dropUnreferencedArtifact(h, db) }
        }
    }

    /// The latest checkpoint of a task: the attempt that sent it, its step and artifact hash.
    public func checkpoint(of task: UInt64) throws -> (attempt: UInt64, step: UInt64, hash: [UInt8])? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT attempt, step, hash FROM checkpoints WHERE task = ?", arguments: [Int64(task)]).map {
                (UInt64($0[0] as Int64), UInt64($0[1] as Int64), [UInt8]($0[2] as Data))
            }
        }
    }

    /// The step each result's attempt started from (training kinds), by task.
    public func startSteps() throws -> [UInt64: UInt64] {
        try db.read { db in
            var out = [UInt64: UInt64]()
            for row in try Row.fetchAll(db, sql: "SELECT task, start_step FROM results WHERE start_step IS NOT NULL") {
                out[UInt64(row[0] as Int64)] = UInt64(row[1] as Int64)
            }
            return out
        }
    }

    /// One value of a table row, as SQLite stores it.
    public enum Cell: Sendable, Equatable {
        case null, integer(Int64), real(Double), text(String), blob([UInt8])
    }

    /// The rows of a query as column names and cells, for exports (`SELECT * FROM runs`).
    public func table(_ sql: String) throws -> (columns: [String], rows: [[Cell]]) {
        try db.read { db in
            let statement = try db.makeStatement(sql: sql)
            let columns = statement.columnNames
            let rows = try Row.fetchAll(statement).map { row in
                columns.indices.map { i -> Cell in
                    switch (row[i] as DatabaseValue).storage {
                    case .null: return .null
                    case .int64(let v): return .integer(v)
                    case .double(let v): return .real(v)
                    case .string(let v): return .text(v)
                    case .blob(let v): return .blob([UInt8](v))
                    }
                }
            }
            return (columns, rows)
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
