import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainSweeps
import TerrainTestSupport
import XCTest

/// Which file a coordinator writes, and whether it may: one coordinator per file whatever path
/// reaches it (a symlink, a hard link, a relative path), and files that are not this sweep's
/// Terrain dataset refused before anything is written to them (docs/dataset.md, "Opening").
final class DatasetIdentityTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-identity-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func spec(tasks: Int) throws -> SweepSpec { try SweepSpec.parse("kind: probe\nprobe: {tasks: \(tasks)}\n") }

    private func coordinator(_ path: String, tasks: Int = 2) throws -> Coordinator {
        try Coordinator(spec: try spec(tasks: tasks), options: CoordinatorOptions(endpoints: [], datasetPath: path))
    }

    /// `path` relative to the current directory.
    private func relative(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath.split(separator: "/")
        return String(repeating: "../", count: cwd.count) + path.dropFirst()
    }

    private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func testTheLockFollowsTheFileWhateverPathReachesIt() throws {
        let path = dir + "/sweep.sqlite"
        var first: Coordinator? = try coordinator(path)
        XCTAssertNotNil(first)
        XCTAssertEqual(symlink(path, dir + "/link.sqlite"), 0)
        XCTAssertEqual(link(path, dir + "/hard.sqlite"), 0)
        for other in [dir + "/link.sqlite", dir + "/hard.sqlite", relative(path), dir + "/./sweep.sqlite"] {
            XCTAssertThrowsError(try coordinator(other), other) { e in
                guard case .inUse(let m)? = e as? DatasetError else { return XCTFail("\(other): \(e)") }
                XCTAssertTrue(m.contains("in use by another coordinator (pid \(getpid()))"), m)
            }
            // `terrain retry` takes the same lock.
            XCTAssertThrowsError(try DatasetLock(path: other), other)
        }
        first = nil
        // Released when the first coordinator closed; but while the file has two names, neither
        // may write it (SQLite's write-ahead log is kept per name).
        for name in [path, dir + "/hard.sqlite"] {
            XCTAssertThrowsError(try coordinator(name)) { e in
                guard case .linked(let m)? = e as? DatasetError else { return XCTFail("\(e)") }
                XCTAssertTrue(m.contains("has 2 hard links"), m)
            }
        }
        XCTAssertEqual(unlink(dir + "/hard.sqlite"), 0)
        XCTAssertNoThrow(try coordinator(dir + "/link.sqlite"))
    }

    func testAnotherProgramsDatabaseAnotherKindOfFileAndANewerSchemaAreRefusedUntouched() throws {
        let foreign = dir + "/theirs.sqlite"
        try SweepDataset.makeForeignDatabaseForTests(foreign)
        let text = dir + "/notes.sqlite"
        try Data("not a database\n".utf8).write(to: URL(fileURLWithPath: text))
        let newer = dir + "/newer.sqlite"
        _ = try coordinator(newer)
        try SweepDataset(path: newer).setMeta("schema_version", "99")
        for (path, expected) in [(foreign, "not a Terrain sweep dataset (an SQLite database with tables customers"),
                                 (text, "not a Terrain sweep dataset (not an SQLite file)"),
                                 (newer, "written by a newer Terrain (dataset schema 99")] {
            let before = try XCTUnwrap(bytes(path))
            XCTAssertThrowsError(try coordinator(path), path) { e in
                guard case .foreign(let m)? = e as? DatasetError else { return XCTFail("\(path): \(e)") }
                XCTAssertTrue(m.contains(expected), m)
            }
            XCTAssertEqual(bytes(path), before, "\(path) was modified")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal") && (bytes(path + "-wal")?.count ?? 0) > 0, "\(path) has a write-ahead log")
        }
    }

    func testAnEmptyFileBecomesTheSweepAndAMissingOneIsCreated() throws {
        let empty = dir + "/empty.sqlite"
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        for path in [empty, dir + "/new/sweep.sqlite"] {
            let c = try coordinator(path, tasks: 3)
            XCTAssertEqual(try c.dataset.loadTasks().count, 3)
        }
    }

    func testADatasetOfAnotherSweepIsRefusedWithoutBeingWritten() throws {
        let path = dir + "/sweep.sqlite"
        do { _ = try coordinator(path, tasks: 2) }
        let before = try XCTUnwrap(bytes(path))
        XCTAssertThrowsError(try coordinator(path, tasks: 3)) { e in
            guard case .specMismatch(let m)? = e as? DatasetError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("holds another sweep"), m)
        }
        XCTAssertEqual(bytes(path), before, "neither migrated nor grown")
        XCTAssertEqual(try SweepDataset(path: path, readOnly: true).meta("schema_version"), "\(SweepDataset.schemaVersion)")
    }
}
