import Foundation
import TerrainDataset
import TerrainTestSupport
import XCTest

/// The dataset's typed readers and writers, its schema migration and its lock, on files in a
/// temporary directory (no coordinator, no processes).
final class SweepDatasetReaderTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-dataset-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func make(tasks: Int = 3) throws -> SweepDataset {
        let ds = try SweepDataset(path: dir + "/d.sqlite")
        try ds.create(spec: "name: t\nkind: training\n", specHash: "h", kind: "training",
                      tasks: (1...UInt64(tasks)).map { StoredTask(id: $0, kind: "run", params: Array("{\"i\":\($0)}".utf8), dependencies: $0 == 3 ? [1, 2] : []) })
        return ds
    }

    private func run(_ task: Int64, seed: UInt64, acc: Double?, status: String = "completed") -> RunRows {
        var r = RunRow(task: task, kind: "run", seed: seed, batchSize: 32, learningRate: 0.1, effectiveLearningRate: 0.2, optimizer: "sgd",
                       momentum: 0.9, weightDecay: 0, status: status, totalSteps: 10)
        r.testAccuracy = acc
        r.divergedLoss = status == "diverged" ? .infinity : nil
        r.trainLoss = .nan
        let point = CurvePointRow(task: task, step: 5, epoch: 0.5, trainLoss: 1, trainAccuracy: 0.5, testLoss: nil, testAccuracy: acc,
                                  learningRate: 0.1, lambdaMax: 3, validationLoss: nil, validationAccuracy: nil)
        return RunRows(run: r, curve: [point])
    }

    private func result(_ task: UInt64, rows: RunRows? = nil) -> SweepDataset.PendingResult {
        .init(task: task, attempt: 1, worker: "w", output: [UInt8(task)], digest: [UInt8](repeating: UInt8(task), count: 32),
              elapsed: 0.5, received: 100, blobs: [("state", [UInt8](repeating: 7, count: 32), [1, 2, 3])], rows: rows)
    }

    func testANewSweepStoresItsTasksDependenciesAndStartingStatuses() throws {
        let ds = try make()
        let tasks = try ds.loadTasks()
        XCTAssertEqual(tasks.map(\.id), [1, 2, 3])
        XCTAssertEqual(tasks.map(\.status), [.queued, .queued, .waiting])
        XCTAssertEqual(tasks[2].dependencies, [1, 2])
        XCTAssertEqual(try ds.meta("schema_version"), "\(SweepDataset.schemaVersion)")
        XCTAssertEqual(try ds.specHash(), "h")
        XCTAssertEqual(try ds.events(kind: "sweep-created").map(\.detail), ["3 tasks of kind training"])
    }

    func testACommittedResultIsReadBackTypedWithItsRunsAndCurveRows() throws {
        let ds = try make()
        try ds.commit(results: [result(1, rows: run(1, seed: .max, acc: 0.75)), result(2, rows: run(2, seed: 0, acc: nil, status: "diverged"))],
                      statuses: [], events: [.init(time: 1, kind: "note", task: 2, worker: "w", detail: "d")])
        let runs = try ds.runs()
        XCTAssertEqual(runs.map(\.task), [1, 2])
        XCTAssertEqual(runs[0].replicateSeed, .max, "the seed survives SQLite's signed integers")
        XCTAssertEqual(runs[0].testAccuracy, 0.75)
        XCTAssertNil(runs[0].trainLoss, "NaN is stored as NULL")
        XCTAssertEqual(runs[1].divergedLoss, .infinity)
        XCTAssertEqual(try ds.curvePoints().map(\.task), [1, 2])
        XCTAssertEqual(try ds.completedOutputs().map(\.output), [[1], [2]])
        XCTAssertEqual(try ds.outputs(of: 1).map(\.name), ["state"])
        XCTAssertEqual(try ds.artifact([UInt8](repeating: 7, count: 32)), [1, 2, 3])
        XCTAssertEqual(try ds.events(kind: "note").first?.task, 2)
        XCTAssertEqual(try ds.readProgress().done, 2)
        XCTAssertEqual(try ds.loadTasks().first?.digest, [UInt8](repeating: 1, count: 32))
    }

    func testExportedColumnsKeepTheirDeclaredTypesBeforeAnyRow() throws {
        let ds = try make()
        let columns = try ds.columns(of: .runs)
        XCTAssertEqual(columns.first?.name, "task")
        XCTAssertEqual(columns.first { $0.name == "lr" }?.values, .reals([]))
        XCTAssertEqual(columns.first { $0.name == "branch" }?.values, .texts([]))
        try ds.commit(results: [result(1, rows: run(1, seed: 3, acc: 0.5))], statuses: [], events: [])
        let after = try ds.columns(of: .runs)
        XCTAssertEqual(after.first { $0.name == "momentum" }?.values, .reals([0.9]))
        XCTAssertEqual(after.first { $0.name == "seed" }?.values, .integers([3]))
        XCTAssertEqual(try ds.columns(of: .curvePoints).first { $0.name == "step" }?.values, .integers([5]))
    }

    func testASchemaOneFileIsMigratedWhenOpenedForWriting() throws {
        let path = dir + "/old.sqlite"
        let old = try SweepDataset(path: path)
        try old.create(spec: "s", specHash: "h", kind: "probe", tasks: [StoredTask(id: 1, kind: "probe", params: [])])
        // Turn it back into schema 1: no start_step column, no run tables, version 1.
        try old.dropSchemaTwoForTests()
        XCTAssertFalse(try old.table("PRAGMA table_info(results)").rows.contains { $0[1] == .text("start_step") })
        let reopened = try SweepDataset(path: path)
        XCTAssertTrue(try reopened.table("PRAGMA table_info(results)").rows.contains { $0[1] == .text("start_step") })
        XCTAssertTrue(try reopened.table("PRAGMA table_info(tasks)").rows.contains { $0[1] == .text("failures") })
        XCTAssertEqual(try reopened.meta("schema_version"), "\(SweepDataset.schemaVersion)")
        XCTAssertEqual(try reopened.runs(), [])
    }

    func testAnOlderSchemaOpenedReadOnlyIsReadThroughTheCurrentTablesAndLeftUntouched() throws {
        let path = dir + "/old.sqlite"
        let old = try SweepDataset(path: path)
        try old.create(spec: "s", specHash: "h", kind: "probe", tasks: [StoredTask(id: 1, kind: "probe", params: [])])
        try old.dropSchemaTwoForTests()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try SweepDataset(path: path, readOnly: true)
        XCTAssertEqual(try reader.meta("schema_version"), "\(SweepDataset.schemaVersion)")
        XCTAssertEqual(try reader.runs(), [])
        XCTAssertTrue(try reader.table("PRAGMA table_info(tasks)").rows.contains { $0[1] == .text("failures") })
        XCTAssertEqual(try reader.table("SELECT id, status FROM tasks").rows.count, 1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the file is not written")
        XCTAssertEqual(try old.meta("schema_version"), "1")
    }

    func testReadOnlyOpeningNamesWhatIsWrongWithTheFile() throws {
        XCTAssertThrowsError(try SweepDataset(path: dir + "/none.sqlite", readOnly: true)) { e in
            XCTAssertEqual("\(e)", "\(dir)/none.sqlite: no such dataset")
        }
        FileManager.default.createFile(atPath: dir + "/text.sqlite", contents: Data(repeating: 0x41, count: 4096))
        XCTAssertThrowsError(try SweepDataset(path: dir + "/text.sqlite", readOnly: true)) { e in
            XCTAssertTrue("\(e)".contains("not a Terrain sweep dataset"), "\(e)")
        }
    }

    func testASecondLockOnTheSameDatasetIsRefusedWithTheHoldersPid() throws {
        let path = dir + "/d.sqlite.lock"
        let first = try DatasetLock(path: path)
        XCTAssertThrowsError(try DatasetLock(path: path)) { e in
            XCTAssertTrue("\(e)".contains("in use by another coordinator (pid \(getpid()))"), "\(e)")
        }
        withExtendedLifetime(first) {}
    }
}
