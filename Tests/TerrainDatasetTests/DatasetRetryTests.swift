import Foundation
import TerrainDataset
import TerrainTestSupport
import XCTest

/// `terrain retry`: quarantined tasks go back to the queue with the tasks that failed because
/// they did (docs/dataset.md, "Retrying failed tasks").
final class DatasetRetryTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-retry-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Tasks 1 → 2 → 3 (a chain) and 4 → 5, plus 6; 1 and 4 quarantined, their dependents
    /// failed with them, 6 done.
    private func finishedWithFailures() throws -> SweepDataset {
        let ds = try SweepDataset(path: dir + "/d.sqlite")
        let deps: [UInt64: [UInt64]] = [2: [1], 3: [2], 5: [4]]
        try ds.create(spec: "kind: probe\n", specHash: "h", kind: "probe",
                      tasks: (1...6).map { StoredTask(id: $0, kind: "probe", params: [], dependencies: deps[$0] ?? []) })
        var statuses = [SweepDataset.StatusUpdate]()
        for (id, error) in [(1, "boom"), (2, "dependency 1 failed"), (3, "dependency 2 failed"), (4, "bang"), (5, "dependency 4 failed")] {
            statuses.append(.init(task: UInt64(id), status: .failed, attempts: id == 1 || id == 4 ? 3 : 0, failures: id == 1 || id == 4 ? 3 : 0,
                                  worker: nil, error: error, time: 1))
        }
        let result = SweepDataset.PendingResult(task: 6, attempt: 1, worker: "w", output: [6], digest: [UInt8](repeating: 6, count: 32),
                                                elapsed: 0, received: 1, blobs: [], rows: nil)
        try ds.commit(results: [result], statuses: statuses + [.init(task: 6, status: .done, attempts: 1, worker: nil, error: nil, time: 1)],
                      events: [])
        try ds.writeSummaries(["x": "1"])
        return ds
    }

    func testARetriedTaskTakesItsFailedDependentsAlongAndForgetsItsFailures() throws {
        let ds = try finishedWithFailures()
        XCTAssertEqual(try ds.retry([1], time: 5), [1, 2, 3])
        let tasks = Dictionary(uniqueKeysWithValues: try ds.loadTasks().map { ($0.id, $0) })
        XCTAssertEqual([1, 2, 3].map { tasks[$0]!.status }, [.queued, .queued, .queued], "the coordinator recomputes what waits")
        XCTAssertEqual(tasks[1]!.failures, 0)
        XCTAssertEqual(tasks[1]!.attempts, 3, "attempts made stay counted")
        XCTAssertEqual(try ds.task(1)?.error, nil)
        XCTAssertEqual(tasks[4]!.status, .failed, "not asked for")
        XCTAssertEqual(tasks[6]!.status, .done)
        XCTAssertEqual(try ds.events(kind: "retry").map(\.task), [1, 2, 3])
        XCTAssertTrue(try ds.events(kind: "retry")[0].detail.contains("it had failed: boom"))
        XCTAssertEqual(try ds.summaries(), [:], "summaries are recomputed when the sweep finishes again")
        // Without --task: every failed task.
        XCTAssertEqual(try ds.retry(nil), [4, 5])
        XCTAssertEqual(try ds.retry(nil), [], "nothing left to retry")
    }

    func testOnlyFailedTasksCanBeRetriedAndADependentNotWithoutItsFailedDependency() throws {
        let ds = try finishedWithFailures()
        for (ids, expected) in [([6], "task 6 is done, not failed"), ([99], "task 99 does not exist"),
                                ([2], "task 2 depends on task 1, which failed; retry task 1")] {
            XCTAssertThrowsError(try ds.retry(ids.map(UInt64.init))) { e in
                guard case .notRetryable(let m)? = e as? DatasetError else { return XCTFail("\(e)") }
                XCTAssertTrue(m.contains(expected), m)
            }
        }
        XCTAssertEqual(try ds.loadTasks().filter { $0.status == .failed }.count, 5, "a refused retry changes nothing")
    }
}
