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
        /// `meta.path`: the absolute path through which a coordinator last wrote it.
        public var writtenAs: String?

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
                    for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta WHERE key IN ('spec_hash', 'schema_version', 'inputs_sha256', 'path')") {
                        meta[row[0]] = row[1]
                    }
                    info.specHash = meta["spec_hash"]
                    info.schemaVersion = meta["schema_version"].flatMap { Int($0) }
                    info.inputsFingerprint = meta["inputs_sha256"]
                    info.writtenAs = meta["path"]
                }
                return .sweep(info)
            }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_NOTADB {
            throw DatasetError.foreign("\(path): not a Terrain sweep dataset (not an SQLite file); it was not modified")
        } catch let e as DatabaseError {
            throw DatasetError.io("\(path): cannot read the dataset: \(reason(e))")
        }
    }

    /// Refuses to write a dataset through a name other than the one it was last written
    /// through while that name's write-ahead log still holds transactions: SQLite keeps the
    /// log beside the name (`NAME-wal`), so a hard link would not see them and the two logs
    /// would later corrupt the file.
    static func checkName(_ info: StoredInfo, _ path: String) throws {
        let here = absolute(path)
        guard let before = info.writtenAs, before != here, sameFile(before, path),
              let size = (try? FileManager.default.attributesOfItem(atPath: before + "-wal"))?[.size] as? NSNumber, size.intValue > 0 else { return }
        throw DatasetError.inUse("\(path): this dataset was last written as \(before), whose write-ahead log \(before)-wal still holds transactions; open it as \(before) (a hard link does not share SQLite's log)")
    }

    /// `path` made absolute with symlinks resolved.
    static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }
}
