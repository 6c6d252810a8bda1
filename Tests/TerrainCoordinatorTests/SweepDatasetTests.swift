import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainTestSupport
import TerrainCore
import TerrainSweeps
import XCTest

/// The dataset's handling of checkpoints and run records, without processes.
final class SweepDatasetTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sweep-dataset-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func dataset() throws -> SweepDataset {
        let ds = try SweepDataset(path: dir + "/d.sqlite")
        try ds.create(spec: "x", specHash: "h", kind: "training",
                      tasks: [StoredTask(id: 1, kind: "run", params: [UInt8]("{}".utf8)), StoredTask(id: 2, kind: "run", params: [UInt8]("{}".utf8))])
        return ds
    }

    private func checkpoint(_ task: UInt64, step: UInt64, _ byte: UInt8) -> SweepDataset.PendingCheckpoint {
        let data = [UInt8](repeating: byte, count: 100)
        return .init(task: task, attempt: 1, step: step, hash: SHA256.hash(data), data: data, received: 0)
    }

    private func artifactCount(_ ds: SweepDataset) throws -> Int {
        guard case .integer(let n) = try ds.table("SELECT COUNT(*) FROM artifacts").rows[0][0] else { return -1 }
        return Int(n)
    }

    func testACheckpointNeverReplacesOneFurtherAlongAndReplacedOnesLeaveNoArtifact() throws {
        let ds = try dataset()
        try ds.commit(results: [], statuses: [], events: [], checkpoints: [checkpoint(1, step: 10, 1)])
        try ds.commit(results: [], statuses: [], events: [], checkpoints: [checkpoint(1, step: 5, 2)])
        XCTAssertEqual(try ds.checkpoint(of: 1)?.step, 10)
        XCTAssertEqual(try artifactCount(ds), 1, "the refused checkpoint's bytes are not stored")
        try ds.commit(results: [], statuses: [], events: [], checkpoints: [checkpoint(1, step: 20, 3), checkpoint(2, step: 1, 4)])
        XCTAssertEqual(try ds.checkpoint(of: 1)?.hash, SHA256.hash([UInt8](repeating: 3, count: 100)))
        XCTAssertEqual(try artifactCount(ds), 2, "the replaced checkpoint's artifact is gone")
        // A huge step from a misbehaving worker is clamped, not a crash.
        try ds.commit(results: [], statuses: [], events: [], checkpoints: [checkpoint(2, step: .max, 5)])
        XCTAssertEqual(try ds.checkpoint(of: 2)?.step, UInt64(Int64.max))
        try ds.dropCheckpoints()
        XCTAssertNil(try ds.checkpoint(of: 1))
        XCTAssertEqual(try artifactCount(ds), 0)
    }

    func testARunRecordThatCannotBeTabulatedIsNamedNotStored() throws {
        let point = CurvePoint(step: 5, epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5, learningRate: 0.1)
        var r = RunRecord(kind: "run", seed: 0, batchSize: 32, learningRate: 0.1, effectiveLearningRate: 0.1, optimizer: "sgd",
                          momentum: 0, weightDecay: 0, status: "completed", totalSteps: 10, curve: [point])
        XCTAssertNil(r.storageProblem)
        r.curve = [point, point]
        XCTAssertEqual(r.storageProblem?.contains("not increasing"), true)
        r.curve = [point]
        r.effectiveLearningRate = .nan
        XCTAssertEqual(r.storageProblem?.contains("effective_lr"), true)
        // A record that passes is written to runs and curve_points in the result's transaction.
        r.effectiveLearningRate = 0.1
        let ds = try dataset()
        try ds.commit(results: [.init(task: 1, attempt: 1, worker: "w", output: try r.encoded(), digest: [UInt8](repeating: 0, count: 32),
                                      elapsed: 0, received: 0, blobs: [], startStep: 0, rows: r.rows(task: 1))], statuses: [], events: [])
        XCTAssertEqual(try ds.table("SELECT task, step FROM curve_points").rows, [[.integer(1), .integer(5)]])
        XCTAssertEqual(try ds.startSteps(), [1: 0])
    }
}
