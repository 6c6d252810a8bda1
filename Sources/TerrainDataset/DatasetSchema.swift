import GRDB

/// The dataset's tables (docs/dataset.md), created and migrated in one place. Every other
/// part of Terrain reads and writes the dataset through ``SweepDataset``'s typed methods.
enum DatasetSchema {
    /// The schema version this build writes (`meta.schema_version`).
    static let version = 4

    /// Every table, as `CREATE TABLE IF NOT EXISTS` statements.
    static let tables = """
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tasks(
            id INTEGER PRIMARY KEY, kind TEXT NOT NULL, params BLOB NOT NULL,
            status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT, error TEXT, started REAL, finished REAL, failures INTEGER NOT NULL DEFAULT 0);
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
        CREATE TABLE IF NOT EXISTS run_variants(
            task INTEGER PRIMARY KEY, width REAL, widths TEXT, parameters INTEGER, label_noise REAL, noisy_labels INTEGER,
            swa_start_epoch INTEGER, swa_lr REAL, swa_schedule TEXT, swa_averaged INTEGER, swa_train_loss REAL,
            swa_train_acc REAL, swa_test_loss REAL, swa_test_acc REAL, swa_val_loss REAL, swa_val_acc REAL, swa_lambda_max REAL);
        CREATE TABLE IF NOT EXISTS workers(
            worker TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, placement TEXT NOT NULL DEFAULT '',
            joined REAL NOT NULL, left REAL, reason TEXT);
        CREATE TABLE IF NOT EXISTS paths(
            task INTEGER PRIMARY KEY, shape TEXT NOT NULL, pair TEXT NOT NULL, seed INTEGER, seed_b INTEGER,
            branch_step INTEGER, level INTEGER, points INTEGER NOT NULL, train_barrier REAL, test_barrier REAL,
            train_error_barrier REAL, test_error_barrier REAL, train_loss_max REAL, test_loss_max REAL,
            train_loss_a REAL, train_loss_b REAL, test_loss_a REAL, test_loss_b REAL);
        CREATE TABLE IF NOT EXISTS path_points(
            task INTEGER NOT NULL, idx INTEGER NOT NULL, t REAL NOT NULL, train_loss REAL, train_acc REAL,
            test_loss REAL, test_acc REAL, PRIMARY KEY(task, idx));
        """

    /// The names of every table above (a file holding only these is Terrain's).
    static let tableNames: Set<String> = [
        "meta", "tasks", "dependencies", "results", "artifacts", "summaries", "task_inputs", "result_artifacts", "events",
        "progress", "checkpoints", "runs", "curve_points", "sqlite_sequence",
        "run_variants", "workers",
        "paths", "path_points",
    ]

    /// Creates missing tables and brings an older file up to ``version``.
    static func migrate(_ db: Database) throws {
        try db.execute(sql: tables)
        // Schema 1 lacked the start step of results (the tables it lacked are created above).
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(results)").map { $0["name"] as String }
        if !columns.contains("start_step") { try db.execute(sql: "ALTER TABLE results ADD COLUMN start_step INTEGER") }
        // Schema 2 counted a task's failures only as attempts (worker losses included).
        let taskColumns = try Row.fetchAll(db, sql: "PRAGMA table_info(tasks)").map { $0["name"] as String }
        if !taskColumns.contains("failures") {
            try db.execute(sql: "ALTER TABLE tasks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")
            // A task quarantined under schema 2 had used up its attempts.
            try db.execute(sql: "UPDATE tasks SET failures = attempts WHERE status = 'failed'")
        }
        try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'schema_version'", arguments: [String(version)])
    }
}

/// A table whose rows `terrain export` writes column by column.
public enum ExportedTable: String, Sendable, CaseIterable {
    /// One row per training run or lottery level.
    case runs
    /// One row per curve point of a run.
    case curvePoints = "curve_points"
    /// One row per evaluated path (mode connectivity, instability).
    case paths
    /// One row per point of an evaluated path.
    case pathPoints = "path_points"

    var order: String {
        switch self {
        case .runs, .paths: return "task"
        case .curvePoints: return "task, step"
        case .pathPoints: return "task, idx"
        }
    }
}

/// One column of an exported table, typed by its declared SQL type so that a column without
/// values yet keeps its type.
public enum DatasetColumnValues: Sendable, Equatable {
    case integers([Int64?])
    case reals([Double?])
    case texts([String?])
}
