import Foundation
import GRDB
import TerrainDataset

/// Queries only tests make: raw SQL with positional cells, and per-row views of results and
/// tasks. They live here, beside the tests, rather than in the dataset's public API.
extension SweepDataset {
    /// One value of a table row, as SQLite stores it.
    public enum Cell: Sendable, Equatable {
        case null, integer(Int64), real(Double), text(String), blob([UInt8])
    }

    /// The rows of a read-only query as column names and cells.
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

    /// Writes another program's SQLite database at `path`: a table of its own, no Terrain metadata.
    public static func makeForeignDatabaseForTests(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES ('ada')")
        }
        try queue.close()
    }

    /// The digest of every stored result, by task (what "bit-identical" compares: the output
    /// and every output artifact, docs/protocol.md).
    public func resultDigests() throws -> [UInt64: [UInt8]] {
        try db.read { db in
            var out = [UInt64: [UInt8]]()
            for row in try Row.fetchAll(db, sql: "SELECT task, digest FROM results") { out[UInt64(row[0] as Int64)] = [UInt8](row[1] as Data) }
            return out
        }
    }

    /// Rows of the event log by kind: how many of each.
    public func eventCounts() throws -> [String: Int] {
        try db.read { db in
            var out = [String: Int]()
            for row in try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) FROM events GROUP BY kind") { out[row[0]] = row[1] }
            return out
        }
    }

    /// (task, attempt, worker, received) of every stored result, in task order.
    public func resultRows() throws -> [(task: UInt64, attempt: UInt64, worker: String, received: Double)] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT task, attempt, worker, received FROM results ORDER BY task").map {
                (UInt64($0[0] as Int64), UInt64($0[1] as Int64), $0[2], $0[3])
            }
        }
    }

    /// Status, attempts and last error of a task.
    public func task(_ id: UInt64) throws -> (status: TaskStatus, attempts: Int, failures: Int, error: String?)? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT status, attempts, failures, error FROM tasks WHERE id = ?", arguments: [Int64(id)]).map {
                (TaskStatus(rawValue: $0[0]) ?? .queued, $0[1], $0[2], $0[3])
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
}

extension SweepDataset {
    /// Rewrites the file as schema 1 wrote it (no `start_step`, no checkpoint or run tables),
    /// to test the migration.
    public func dropSchemaTwoForTests() throws {
        try db.write { db in
            try db.execute(sql: """
                DROP TABLE checkpoints; DROP TABLE runs; DROP TABLE curve_points;
                ALTER TABLE results DROP COLUMN start_step;
                ALTER TABLE tasks DROP COLUMN failures;
                UPDATE meta SET value = '1' WHERE key = 'schema_version';
                """)
        }
    }
}
