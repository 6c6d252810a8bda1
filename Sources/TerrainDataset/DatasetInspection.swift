import Foundation
import GRDB

extension SweepDataset {
    /// What a file holds, as seen read-only before anything is written to it.
    public enum Contents: Equatable, Sendable {
        /// No file, an empty one, or an SQLite database without tables: a new sweep may be
        /// created there.
        case empty
        /// An SQLite database with tables: a Terrain sweep or not (``StoredInfo/isTerrain``).
        case sweep(StoredInfo)
    }

    /// The identity of a stored sweep, read without writing.
    public struct StoredInfo: Equatable, Sendable {
        /// The tables in the file.
        public var tables: Set<String>
        /// `meta.spec_hash` (nil: no sweep was created yet).
        public var specHash: String?
        /// `meta.schema_version`.
        public var schemaVersion: Int?
        /// `meta.inputs_sha256`: the fingerprint of the files the sweep was created from.
        public var inputsFingerprint: String?

        /// Whether the file is a Terrain dataset this build may write: it has Terrain's `meta`
        /// table, and either a sweep (of this schema or older) or only Terrain's tables (a
        /// creation that was interrupted).
        public var isTerrain: Bool {
            guard tables.contains("meta") else { return false }
            if let v = schemaVersion, v > DatasetSchema.version { return false }
            return specHash != nil || tables.isSubset(of: DatasetSchema.tableNames)
        }

        /// Why the file is not one this build may write.
        public func problem(_ path: String) -> String {
            if let v = schemaVersion, v > DatasetSchema.version {
                return "\(path): written by a newer Terrain (dataset schema \(v); this build reads up to \(DatasetSchema.version)); not opened for writing"
            }
            let shown = tables.sorted().prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : "")
            return "\(path): not a Terrain sweep dataset (an SQLite database with tables \(shown) and no Terrain metadata); it was not modified — give --dataset a new file"
        }
    }

    /// Looks at `path` read-only: whether it is absent or empty, or what sweep it holds.
    /// Throws ``DatasetError/foreign(_:)`` for a file that is not an SQLite database, and
    /// ``DatasetError/io(_:)`` when it cannot be read.
    public static func inspect(_ path: String) throws -> Contents {
        var s = stat()
        if stat(path, &s) != 0 {
            if errno == ENOENT { return .empty }
            throw DatasetError.io("\(path): \(String(cString: strerror(errno)))")
        }
        if s.st_size == 0 { return .empty }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db -> Contents in
                let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
                if tables.isEmpty { return .empty }
                var info = StoredInfo(tables: tables)
                if tables.contains("meta") {
                    var meta = [String: String]()
                    for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta WHERE key IN ('spec_hash', 'schema_version', 'inputs_sha256')") {
                        meta[row[0]] = row[1]
                    }
                    info.specHash = meta["spec_hash"]
                    info.schemaVersion = meta["schema_version"].flatMap { Int($0) }
                    info.inputsFingerprint = meta["inputs_sha256"]
                }
                return .sweep(info)
            }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB {
            throw DatasetError.foreign("\(path): not a Terrain sweep dataset (not an SQLite file); it was not modified")
        } catch let e as DatabaseError {
            throw DatasetError.io("\(path): cannot read the dataset: \(reason(e))")
        }
    }

    /// `path` made absolute with symlinks resolved.
    static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

}
