import Foundation
import GRDB

/// The sweep's one SQLite file (docs/dataset.md): the spec and its hash, every task with its
/// status, attempts, worker and timings, results, content-addressed artifacts, an event log
/// and a progress row for `terrain status`. It owns the schema (``DatasetSchema``) and every
/// SQL statement; callers use its typed methods.
///
/// Opened in WAL mode with `synchronous=FULL`: a transaction that returned is on disk, so a
/// result is durable before the coordinator acknowledges it. Writes are batched by the
/// caller into one transaction per commit interval (``commit(_:)``).
public final class SweepDataset: @unchecked Sendable {
    /// The file.
    public let path: String
    /// The connection (package-visible for test-only queries in the test support target).
    package let db: DatabaseQueue
    /// The writer's lock on the file, released after the connection closes.
    private let lock: DatasetLock?

    /// The schema version this build writes.
    public static var schemaVersion: Int { DatasetSchema.version }

    /// Opens a dataset. Read-only, it must be a Terrain dataset; read-write, the file is
    /// created if absent and migrated to this build's schema — unless it is not a Terrain
    /// dataset (another program's SQLite database, another kind of file, a newer schema),
    /// which is refused without writing anything (``DatasetError/foreign(_:)``). With a
    /// `lock` (a coordinator's), the file must be the locked one. Throws ``DatasetError``
    /// naming the file.
    public init(path: String, readOnly: Bool = false, lock: DatasetLock? = nil) throws {
        self.path = path
        self.lock = lock
        if !readOnly {
            // Look before writing: whatever is refused here is left exactly as it was.
            if case .sweep(let info) = try Self.inspect(path) {
                guard info.isTerrain else { throw DatasetError.foreign(info.problem(path)) }
            }
            if let lock, !lock.stillNamesTheLockedFile() {
                throw DatasetError.io("\(path): the file was replaced while it was being opened")
            }
        }
        // SQLite keeps the write-ahead log beside the name it opens: the file's own name
        // (symlinks resolved), so that every path to it meets the same log.
        let file = try Self.connect(Self.absolute(path), readOnly: readOnly)
        db = readOnly ? try Self.upgradedInMemory(file, path: path) : file
        if !readOnly { try write("migrating the dataset") { try DatasetSchema.migrate($0) } }
    }

    /// A read-only file of an older schema, copied into memory and migrated there so that
    /// every reader sees the current tables; the file itself is left untouched. A current
    /// file is returned as it is (no copy).
    private static func upgradedInMemory(_ file: DatabaseQueue, path: String) throws -> DatabaseQueue {
        do {
            let stored = try file.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'schema_version'") }
            guard let stored, let version = Int(stored), version < DatasetSchema.version else { return file }
            let memory = try DatabaseQueue()
            try file.backup(to: memory)
            try memory.write { try DatasetSchema.migrate($0) }
            return memory
        } catch let e as DatabaseError {
            throw DatasetError.io("\(path): cannot read the dataset's older schema: \(Self.reason(e))")
        }
    }

    private static func connect(_ path: String, readOnly: Bool) throws -> DatabaseQueue {
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
            let db = try DatabaseQueue(path: path, configuration: config)
            if readOnly {
                let isSweep = try db.read { try Bool.fetchOne($0, sql: "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'") } ?? false
                guard isSweep else { throw DatasetError.foreign("\(path): not a Terrain sweep dataset (no meta table)") }
            }
            return db
        } catch let e as DatasetError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB {
            throw DatasetError.foreign("\(path): not a Terrain sweep dataset (not an SQLite file)")
        } catch let e as DatabaseError {
            throw DatasetError.io("\(path): cannot open the dataset: \(Self.reason(e))")
        } catch {
            throw DatasetError.io("\(path): cannot open the dataset: \(error)")
        }
    }

    deinit {
        // The connection closes before the lock's descriptor (see ``DatasetLock``).
        try? db.close()
    }

    // MARK: Reading and writing

    /// Runs `body` in a write transaction; SQLite's errors (a full disk, a read-only file)
    /// become ``DatasetError/io(_:)`` naming the file and what was being written.
    package func write<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        do { return try db.write(body) } catch let e as DatabaseError {
            throw DatasetError.io("\(path): cannot write the dataset (\(what)): \(Self.reason(e))")
        }
    }

    /// Runs `body` in a read transaction; SQLite's errors name the file.
    package func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try db.read(body) } catch let e as DatabaseError {
            throw DatasetError.io("\(path): cannot read the dataset: \(Self.reason(e))")
        }
    }

    /// SQLite's message and code (`database or disk is full (SQLITE_FULL)`).
    static func reason(_ e: DatabaseError) -> String {
        let code = "\(e.extendedResultCode)"
        return "\(e.message ?? "error") (\(code))"
    }

    // MARK: Metadata

    /// The stored spec hash, if the dataset holds a sweep.
    public func specHash() throws -> String? { try meta("spec_hash") }

    /// Sets a metadata value.
    public func setMeta(_ key: String, _ value: String) throws {
        try write("metadata") { try $0.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [key, value]) }
    }

    /// A metadata value.
    public func meta(_ key: String) throws -> String? {
        try read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    // MARK: Creation and resumption

    /// Writes a new sweep in one transaction: spec text and hash, the tasks, their fixed
    /// inputs (task → [(name, hash)]) and those inputs' bytes (hash → bytes).
    public func create(spec: String, specHash: String, kind: String, tasks: [StoredTask],
                       inputs: [UInt64: [(name: String, hash: [UInt8])]] = [:], artifacts: [[UInt8]: [UInt8]] = [:]) throws {
        try write("creating the sweep") { db in
            let artifact = try db.makeStatement(sql: "INSERT OR IGNORE INTO artifacts(hash, size, data) VALUES (?, ?, ?)")
            for (hash, data) in artifacts { try artifact.execute(arguments: [Data(hash), data.count, Data(data)]) }
            let link = try db.makeStatement(sql: "INSERT INTO task_inputs(task, name, hash) VALUES (?, ?, ?)")
            for (task, list) in inputs { for i in list { try link.execute(arguments: [Int64(task), i.name, Data(i.hash)]) } }
            let now = Date().timeIntervalSince1970
            for (k, v) in [("spec", spec), ("spec_hash", specHash), ("kind", kind), ("schema_version", String(DatasetSchema.version)),
                           ("created", String(now)), ("task_count", String(tasks.count))] {
                try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", arguments: [k, v])
            }
            let insert = try db.makeStatement(sql: "INSERT INTO tasks(id, kind, params, status, attempts) VALUES (?, ?, ?, ?, 0)")
            let dep = try db.makeStatement(sql: "INSERT INTO dependencies(task, dependency) VALUES (?, ?)")
            for t in tasks {
                try insert.execute(arguments: [Int64(t.id), t.kind, Data(t.params), t.status.rawValue])
                for x in t.dependencies { try dep.execute(arguments: [Int64(t.id), Int64(x)]) }
            }
            try db.execute(sql: "INSERT INTO events(time, kind, detail) VALUES (?, 'sweep-created', ?)",
                           arguments: [now, "\(tasks.count) tasks of kind \(kind)"])
        }
    }

    /// The fixed inputs of every task: task → [(name, hash)], names sorted.
    public func loadStaticInputs() throws -> [UInt64: [(name: String, hash: [UInt8])]] {
        try read { db in
            var out = [UInt64: [(name: String, hash: [UInt8])]]()
            for row in try Row.fetchAll(db, sql: "SELECT task, name, hash FROM task_inputs ORDER BY task, name") {
                out[UInt64(row[0] as Int64), default: []].append((row[1], [UInt8](row[2] as Data)))
            }
            return out
        }
    }

    /// The fixed input artifacts of a task by name (e.g. the surface directions `d1`, `d2`).
    public func staticInputs(of task: UInt64) throws -> [String: [UInt8]] {
        var out = [String: [UInt8]]()
        for (name, hash) in try loadStaticInputs()[task] ?? [] { out[name] = try artifact(hash) }
        return out
    }

    /// Every task with its status, attempts, dependencies, parameters and (when done) its
    /// result's digest, in id order.
    public func loadTasks() throws -> [StoredTask] {
        try read { db in
            var deps = [UInt64: [UInt64]]()
            for row in try Row.fetchAll(db, sql: "SELECT task, dependency FROM dependencies ORDER BY task, dependency") {
                deps[UInt64(row[0] as Int64), default: []].append(UInt64(row[1] as Int64))
            }
            let sql = "SELECT t.id, t.kind, t.params, t.status, t.attempts, r.digest, t.failures FROM tasks t LEFT JOIN results r ON r.task = t.id ORDER BY t.id"
            return try Row.fetchAll(db, sql: sql).map { row in
                let id = UInt64(row[0] as Int64)
                return StoredTask(id: id, kind: row[1], params: [UInt8](row[2] as Data), dependencies: deps[id] ?? [],
                                  status: TaskStatus(rawValue: row[3]) ?? .queued, attempts: row[4],
                                  digest: (row[5] as Data?).map { [UInt8]($0) }, failures: row[6])
            }
        }
    }

    /// Marks tasks left `running` by a stopped coordinator as `queued` (their attempts stay counted).
    public func requeueRunning() throws {
        try write("re-queueing running tasks") { try $0.execute(sql: "UPDATE tasks SET status = 'queued', worker = NULL WHERE status = 'running'") }
    }

    // MARK: Artifacts and checkpoints

    /// An artifact's bytes.
    public func artifact(_ hash: [UInt8]) throws -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM artifacts WHERE hash = ?", arguments: [Data(hash)]).map { [UInt8]($0) }
        }
    }

    /// The named output artifacts of a task: (name, hash), names sorted.
    public func outputs(of task: UInt64) throws -> [(name: String, hash: [UInt8])] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, hash FROM result_artifacts WHERE task = ? ORDER BY name", arguments: [Int64(task)])
                .map { ($0[0], [UInt8]($0[1] as Data)) }
        }
    }

    /// Every task's named output artifacts, by task then name.
    public func resultArtifacts() throws -> [(task: UInt64, name: String, hash: [UInt8])] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT task, name, hash FROM result_artifacts ORDER BY task, name")
                .map { (UInt64($0[0] as Int64), $0[1], [UInt8]($0[2] as Data)) }
        }
    }

    /// The tasks that have a checkpoint.
    public func checkpointedTasks() throws -> Set<UInt64> {
        try read { db in Set(try Int64.fetchAll(db, sql: "SELECT task FROM checkpoints").map { UInt64($0) }) }
    }

    /// Deletes every checkpoint and its artifact (a finished sweep needs none).
    public func dropCheckpoints() throws {
        try write("dropping checkpoints") { db in
            let hashes = try Data.fetchAll(db, sql: "SELECT hash FROM checkpoints")
            try db.execute(sql: "DELETE FROM checkpoints")
            for h in hashes { try Self.dropUnreferencedArtifact(h, db) }
        }
    }

    /// The latest checkpoint of a task: the attempt that sent it, its step and artifact hash.
    public func checkpoint(of task: UInt64) throws -> (attempt: UInt64, step: UInt64, hash: [UInt8])? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT attempt, step, hash FROM checkpoints WHERE task = ?", arguments: [Int64(task)]).map {
                (UInt64($0[0] as Int64), UInt64($0[1] as Int64), [UInt8]($0[2] as Data))
            }
        }
    }

    /// Deletes an artifact no task input, result or checkpoint refers to any more.
    static func dropUnreferencedArtifact(_ hash: Data, _ db: Database) throws {
        try db.execute(sql: """
            DELETE FROM artifacts WHERE hash = ?1
              AND NOT EXISTS (SELECT 1 FROM checkpoints WHERE hash = ?1)
              AND NOT EXISTS (SELECT 1 FROM result_artifacts WHERE hash = ?1)
              AND NOT EXISTS (SELECT 1 FROM task_inputs WHERE hash = ?1)
            """, arguments: [hash])
    }
}

/// A task as stored: identity, kind, parameters and dependencies, and where it stands.
public struct StoredTask: Sendable, Equatable {
    /// The task id (1-based, dense).
    public var id: UInt64
    /// The task kind.
    public var kind: String
    /// Kind-specific parameters (JSON).
    public var params: [UInt8]
    /// Tasks whose outputs it needs.
    public var dependencies: [UInt64]
    /// Its status.
    public var status: TaskStatus
    /// Attempts made (dispatches, whatever became of them).
    public var attempts: Int
    /// The stored result's digest, for a task that is done.
    public var digest: [UInt8]?
    /// Failed attempts: the kind's errors and crashes its workers reported (not lost workers).
    public var failures: Int

    /// Creates a stored task (a new one: `status` queued or waiting, no attempts, no digest).
    public init(id: UInt64, kind: String, params: [UInt8], dependencies: [UInt64] = [], status: TaskStatus? = nil,
                attempts: Int = 0, digest: [UInt8]? = nil, failures: Int = 0) {
        self.id = id
        self.kind = kind
        self.params = params
        self.dependencies = dependencies
        self.status = status ?? (dependencies.isEmpty ? .queued : .waiting)
        self.attempts = attempts
        self.digest = digest
        self.failures = failures
    }
}
