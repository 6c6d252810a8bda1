import TerrainCoordinator
import TerrainDataset
import XCTest
import TerrainWeb

/// The coordinator's observer hands its observations to the request side with each snapshot
/// (never waiting for a request), and everything once the coordinator closes.
final class WebMetricsTests: XCTestCase {
    private func sample(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") { return Double(line.split(separator: " ").last!) }
        return nil
    }

    private func snapshot(done: Int) -> CoordinatorSnapshot {
        var p = SweepDataset.Progress(state: "running")
        p.done = done
        return CoordinatorSnapshot(progress: p, workers: [LiveWorker(name: "w1", host: "h pid 1", running: [3], results: done, lastSeen: 0)], time: 0)
    }

    func testObservationsArriveWithTheNextSnapshotAndAllOnClose() {
        let m = WebMetrics()
        m.dispatched(kind: "probe", attempt: 1, seconds: 0.002)
        m.dispatched(kind: "probe", attempt: 2, seconds: 0.004)
        m.committed(results: 2, seconds: 0.01)
        // Counters are atomics, seen at once; latencies wait for the hand-over.
        XCTAssertEqual(sample(m.exposition(), "terrain_retries_total"), 1)
        XCTAssertEqual(sample(m.exposition(), "terrain_results_committed_total"), 2)
        XCTAssertEqual(sample(m.exposition(), "terrain_dispatch_latency_seconds_count"), 0)
        XCTAssertNil(m.latest)
        m.published(snapshot(done: 2))
        XCTAssertEqual(m.latest?.progress.done, 2)
        XCTAssertEqual(m.latest?.workers.map(\.name), ["w1"])
        let text = m.exposition()
        XCTAssertEqual(sample(text, "terrain_dispatch_latency_seconds_count"), 2)
        XCTAssertEqual(sample(text, "terrain_dispatch_latency_seconds_sum") ?? .nan, 0.006, accuracy: 1e-12)
        XCTAssertEqual(sample(text, "terrain_commit_duration_seconds_count"), 1)
        XCTAssertEqual(sample(text, "terrain_tasks{state=\"done\"}"), 2)
        // Observations after the last snapshot are handed over when the coordinator closes.
        m.completed(kind: "probe", seconds: 0.5)
        m.dispatched(kind: "probe", attempt: 1, seconds: 0.001)
        XCTAssertEqual(sample(m.exposition(), "terrain_dispatch_latency_seconds_count"), 2)
        m.closed()
        XCTAssertEqual(sample(m.exposition(), "terrain_dispatch_latency_seconds_count"), 3)
        XCTAssertEqual(sample(m.exposition(), "terrain_task_duration_seconds_count{kind=\"probe\"}"), 1)
    }
}
