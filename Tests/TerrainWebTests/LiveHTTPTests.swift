import Foundation
import TerrainDataset
import TerrainTestSupport
import XCTest

/// `terrain coordinator --http` with real workers, and `terrain serve`, over real HTTP: the
/// page's data advances while the sweep runs, and `/metrics` agrees with the dataset (parsed
/// by prometheus-client's own parser, in Python).
final class LiveHTTPTests: XCTestCase {
    private var background: [WebTestSupport.Background] = []

    override func tearDown() {
        for b in background { b.stop() }
        background = []
    }

    private func start(_ arguments: [String], log: String) throws -> WebTestSupport.Background {
        let b = try WebTestSupport.Background(arguments, log: log)
        background.append(b)
        return b
    }

    func testACoordinatorServesProgressThatAdvancesWorkersAndMetrics() throws {
        let dir = try WebTestSupport.directory("live-coordinator")
        let spec = dir + "/probe.yaml"
        try """
            name: live-probe
            kind: probe
            probe: {tasks: 300, sleep_ms: 25, payload_bytes: 16}
            runtime: {heartbeat_ms: 200, liveness: 5}
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let dataset = dir + "/live.sqlite"
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dataset + s) }
        let endpoint = "ipc://\(dir)/c.sock"
        let coordinator = try start(["coordinator", spec, "--bind", endpoint, "--dataset", dataset, "--quiet", "--http", "127.0.0.1:0"],
                                    log: dir + "/coordinator.log")
        let port = try coordinator.port()
        for i in 0 ..< 2 { _ = try start(["worker", "--connect", endpoint, "--give-up-after", "30"], log: dir + "/w\(i).log") }

        var seen = [Int]()
        var sawWorkers = false, sawMetrics = false
        let deadline = Date().addingTimeInterval(120)
        while coordinator.process.isRunning && Date() < deadline {
            if let s = try? RawHTTP.get(port, "/api/status").json() as? [String: Any], let done = s["done"] as? Int, s["state"] as? String == "running" {
                if seen.last != done { seen.append(done) }
                XCTAssertEqual(s["live"] as? Bool, true)
            }
            if !sawWorkers, let ws = try? RawHTTP.get(port, "/api/workers").json() as? [[String: Any]] {
                let connected = ws.filter { $0["connected"] as? Bool == true }
                sawWorkers = connected.count == 2 && connected.allSatisfy { ($0["host"] as? String)?.contains("pid") == true }
            }
            if !sawMetrics, let m = try? RawHTTP.get(port, "/metrics").text {
                let samples = PrometheusText.samples(m)
                sawMetrics = samples["terrain_workers_connected"] == 2 && (samples["terrain_dispatch_latency_seconds_count"] ?? 0) > 0
                    && (samples["terrain_sent_bytes_total"] ?? 0) > 0 && (samples["terrain_received_bytes_total"] ?? 0) > 0
            }
            usleep(100_000)
        }
        XCTAssertFalse(coordinator.process.isRunning, "the sweep finishes: \(coordinator.output)")
        XCTAssertGreaterThanOrEqual(seen.count, 3, "progress advanced while the page polled: \(seen)")
        XCTAssertEqual(seen, seen.sorted(), "done never goes back")
        XCTAssertTrue(sawWorkers, "both workers listed with their hosts while connected")
        XCTAssertTrue(sawMetrics, "live metrics: connected workers, dispatch latency, bytes")
        XCTAssertEqual(try SweepDataset(path: dataset, readOnly: true).readProgress().done, 300)
    }

    func testMetricsParseWithPrometheusClientAndAgreeWithTheDataset() throws {
        guard WebTestSupport.python(has: "prometheus_client", package: "prometheus-client") else {
            throw XCTSkip("python3 with prometheus-client is not available (make pydeps installs it)")
        }
        let path = try WebTestSupport.dataset("probe")
        let dir = try WebTestSupport.directory("serve-metrics")
        let serve = try start(["serve", path, "--http", "127.0.0.1:0"], log: dir + "/serve.log")
        let port = try serve.port()
        let script = """
            import json, sqlite3, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % int(sys.argv[1])).read().decode()
            out = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    key = s.name + "".join("|%s=%s" % kv for kv in sorted(s.labels.items()))
                    out[key] = s.value
            db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
            out["db_results"] = db.execute("SELECT count(*) FROM results").fetchone()[0]
            out["db_failed"] = db.execute("SELECT count(*) FROM tasks WHERE status = 'failed'").fetchone()[0]
            out["db_done"] = db.execute("SELECT count(*) FROM tasks WHERE status = 'done'").fetchone()[0]
            out["db_retries"] = db.execute("SELECT coalesce(sum(max(attempts - 1, 0)), 0) FROM tasks").fetchone()[0]
            out["db_elapsed"] = db.execute("SELECT sum(elapsed) FROM results").fetchone()[0]
            print(json.dumps(out))
            """
        let r = try WebTestSupport.run(["/usr/bin/env", "python3", "-c", script, String(port), path])
        XCTAssertEqual(r.status, 0, r.output)
        let values = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Double], r.output)
        XCTAssertEqual(values["terrain_results_committed_total"], values["db_results"])
        XCTAssertEqual(values["terrain_tasks|state=done"], values["db_done"])
        XCTAssertEqual(values["terrain_tasks|state=failed"], values["db_failed"])
        XCTAssertEqual(values["terrain_quarantined_tasks_total"], values["db_failed"])
        XCTAssertEqual(values["terrain_retries_total"], values["db_retries"])
        XCTAssertGreaterThan(values["db_retries"] ?? 0, 0, "the poison task was retried")
        XCTAssertEqual(values["terrain_task_duration_seconds_count|kind=probe"], values["db_results"])
        XCTAssertEqual(values["terrain_task_duration_seconds_sum|kind=probe"] ?? .nan, values["db_elapsed"] ?? 0, accuracy: 1e-9)
    }

    /// The CLI's server answers on NIO's singleton event-loop thread (made Swift concurrency's
    /// executor, so handlers do not hop to Swift's global pool), at nice 10, and Hummingbird's
    /// log reaches standard error only when `TERRAIN_HTTP_LOG` names a level.
    func testServeAnswersOnItsLowPriorityEventLoopAndLogsOnlyWhenAsked() throws {
        let path = try WebTestSupport.dataset("probe")
        let dir = try WebTestSupport.directory("serve-threads")
        let quiet = try start(["serve", path, "--http", "127.0.0.1:0"], log: dir + "/quiet.log")
        let quietPort = try quiet.port()
        for _ in 0 ..< 3 { XCTAssertEqual(try RawHTTP.get(quietPort, "/api/status").status, 200) }
        let threads = try Self.threads(of: quiet.process.processIdentifier)
        let loops = threads.filter { $0.name.hasPrefix("NIO-") }
        XCTAssertEqual(loops.map(\.name), ["NIO-SGLTN-1-#1"], "one event-loop thread, NIO's singleton (threads: \(threads))")
        XCTAssertEqual(loops.first?.nice, 10, "the event loop runs at nice 10")
        XCTAssertFalse(quiet.output.contains("terrain.http:"), "no log without TERRAIN_HTTP_LOG: \(quiet.output)")

        let logged = try WebTestSupport.Background(["serve", path, "--http", "127.0.0.1:0"], log: dir + "/logged.log",
                                                   environment: ["TERRAIN_HTTP_LOG": "info"])
        background.append(logged)
        XCTAssertEqual(try RawHTTP.get(try logged.port(), "/api/status").status, 200)
        XCTAssertTrue(logged.output.contains("info terrain.http:"), "TERRAIN_HTTP_LOG=info logs to standard error: \(logged.output)")
    }

    /// The threads of process `pid`: name and nice value, from /proc.
    private static func threads(of pid: Int32) throws -> [(name: String, nice: Int)] {
        let dir = "/proc/\(pid)/task"
        return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().compactMap { tid in
            let stat = try String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8)
            guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
            // After the name: state is field 3 of stat(5), nice field 19.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
            return (String(stat[stat.index(after: open) ..< close]), nice)
        }
    }

    func testServeRefusesWhatIsNotADatasetAndNonLoopbackWithoutToken() throws {
        let dir = try WebTestSupport.directory("serve-refusals")
        let terrain = try WebTestSupport.terrain
        let missing = try WebTestSupport.run([terrain, "serve", dir + "/missing.sqlite", "--http", "127.0.0.1:0"])
        XCTAssertNotEqual(missing.status, 0)
        let path = try WebTestSupport.dataset("probe")
        let open = try WebTestSupport.run([terrain, "serve", path, "--http", "0.0.0.0:0"], environment: ["TERRAIN_HTTP_TOKEN": ""])
        XCTAssertNotEqual(open.status, 0)
        XCTAssertTrue(open.output.contains("--http-token"), open.output)
    }
}
