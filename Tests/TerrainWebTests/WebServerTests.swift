import Foundation
import TerrainDataset
import TerrainTestSupport
import TerrainWeb
import XCTest

/// The JSON API, `/metrics` and the error answers of a server over a finished probe sweep,
/// asked with real HTTP requests over loopback and checked against the dataset itself.
final class WebServerTests: XCTestCase {
    private var servers: [WebServer] = []

    override func tearDown() {
        for s in servers { s.stop() }
        servers = []
    }

    private func serve(_ path: String, token: String? = nil) throws -> Int {
        let server = try WebServer.start(SweepView(path: path), binding: try WebBinding("127.0.0.1:0", token: token), streamInterval: 0.2)
        servers.append(server)
        return Int(server.url.split(separator: ":").last!)!
    }

    func testStatusTasksAndWorkersAgreeWithTheDataset() throws {
        let path = try WebTestSupport.dataset("probe")
        let port = try serve(path)
        let ds = try SweepDataset(path: path, readOnly: true)
        let failed = try ds.failedTasks().map(\.task)
        XCTAssertFalse(failed.isEmpty, "the probe's poison task 7 and its chain are quarantined")

        let status = try XCTUnwrap(try RawHTTP.get(port, "/api/status").json() as? [String: Any])
        XCTAssertEqual(status["kind"] as? String, "probe")
        XCTAssertEqual(status["state"] as? String, "finished")
        XCTAssertEqual(status["total"] as? Int, 60)
        XCTAssertEqual(status["failed"] as? Int, failed.count)
        XCTAssertEqual(status["done"] as? Int, 60 - failed.count)
        XCTAssertEqual(status["results"] as? Int, try ds.resultRows().count)

        let tasks = try XCTUnwrap(try RawHTTP.get(port, "/api/tasks?status=failed").json() as? [[String: Any]])
        XCTAssertEqual(tasks.compactMap { ($0["id"] as? Int).map(UInt64.init) }, failed)
        XCTAssertTrue((tasks.first?["error"] as? String)?.isEmpty == false, "the poison task's error is shown")
        let limited = try XCTUnwrap(try RawHTTP.get(port, "/api/tasks?limit=5").json() as? [[String: Any]])
        XCTAssertEqual(limited.compactMap { $0["id"] as? Int }, [1, 2, 3, 4, 5])

        let workers = try XCTUnwrap(try RawHTTP.get(port, "/api/workers").json() as? [[String: Any]])
        let byWorker = Dictionary(grouping: try ds.resultRows(), by: \.worker).mapValues(\.count)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: workers.filter { ($0["results"] as? Int ?? 0) > 0 }.map { ($0["name"] as! String, $0["results"] as! Int) }),
                       byWorker)
        XCTAssertTrue(workers.allSatisfy { ($0["host"] as? String)?.contains("pid") == true }, "hosts come from the worker-joined events: \(workers)")

        let events = try XCTUnwrap(try RawHTTP.get(port, "/api/events?limit=3").json() as? [[String: Any]])
        XCTAssertEqual(events.count, 3)
        XCTAssertEqual(events.first?["kind"] as? String, try ds.recentEvents(limit: 1).first?.kind, "newest first")

        let page = try RawHTTP.get(port, "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.headers["content-type"]?.hasPrefix("text/html") == true)
        XCTAssertFalse(page.text.contains("http://") || page.text.contains("https://"), "nothing is fetched from elsewhere")
    }

    func testMalformedUnknownAndUnsupportedRequestsGet4xx() throws {
        let port = try serve(try WebTestSupport.dataset("probe"))
        let cases: [(String, Int)] = [
            ("/nowhere", 404), ("/api/tasks?status=sleeping", 400), ("/api/tasks?limit=0", 400), ("/api/tasks?limit=abc", 400),
            ("/api/events?limit=1000001", 400), ("/api/status?bogus=1", 400), ("/api/surface", 404), ("/api/runs", 404),
        ]
        for (path, expected) in cases {
            let a = try RawHTTP.get(port, path)
            XCTAssertEqual(a.status, expected, path)
            XCTAssertNotNil((try? a.json() as? [String: Any])?["error"], "\(path): a JSON error message")
        }
        XCTAssertEqual(try RawHTTP.get(port, "/api/status", method: "POST").status, 405)
        XCTAssertEqual(try RawHTTP.get(port, "/api/status", method: "DELETE").status, 405)
        for garbage in ["GARBAGE\r\n\r\n", "GET / HTTP/9.9 extra\r\n\r\n", "GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                        String(repeating: "\u{1}\u{2}\u{3}", count: 1000) + "\r\n\r\n"] {
            let raw = try RawHTTP.exchange(port, Array(garbage.utf8))
            let head = String(decoding: raw.prefix(12), as: UTF8.self)
            XCTAssertTrue(raw.isEmpty || head.hasPrefix("HTTP/1.1 4"), "a malformed request gets a 4xx or a closed connection, got \(head)")
        }
        XCTAssertEqual(try RawHTTP.get(port, "/api/status").status, 200, "the server still answers after malformed input")
    }

    func testATokenIsRequiredWhenGiven() throws {
        let token = "0123456789abcdef0123"
        let port = try serve(try WebTestSupport.dataset("probe"), token: token)
        for path in ["/", "/api/status", "/metrics", "/api/stream", "/nowhere"] {
            XCTAssertEqual(try RawHTTP.get(port, path).status, 401, path)
            XCTAssertEqual(try RawHTTP.get(port, path, headers: ["Authorization": "Bearer wrong-token-0123456789"]).status, 401, path)
        }
        XCTAssertEqual(try RawHTTP.get(port, "/api/status?token=\(token)").status, 200)
        XCTAssertEqual(try RawHTTP.get(port, "/api/status", headers: ["Authorization": "Bearer \(token)"]).status, 200)
        XCTAssertEqual(try RawHTTP.get(port, "/api/status?token=x\(token)").status, 401)
        XCTAssertEqual(try RawHTTP.get(port, "/api/status").headers["www-authenticate"], "Bearer realm=\"terrain\"")
    }

    func testMetricsFromADatasetAgreeWithIt() throws {
        let path = try WebTestSupport.dataset("probe")
        let port = try serve(path)
        let a = try RawHTTP.get(port, "/metrics")
        XCTAssertEqual(a.status, 200)
        XCTAssertTrue(a.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let samples = PrometheusText.samples(a.text)
        let ds = try SweepDataset(path: path, readOnly: true)
        let counts = try ds.taskCounts()
        XCTAssertEqual(samples["terrain_tasks{state=\"done\"}"], Double(counts.byStatus["done"] ?? 0))
        XCTAssertEqual(samples["terrain_tasks{state=\"failed\"}"], Double(counts.byStatus["failed"] ?? 0))
        XCTAssertEqual(samples["terrain_results_committed_total"], Double(try ds.resultRows().count))
        XCTAssertEqual(samples["terrain_retries_total"], Double(counts.attempts))
        XCTAssertEqual(samples["terrain_task_duration_seconds_count{kind=\"probe\"}"], Double(try ds.resultRows().count))
        XCTAssertEqual(samples["terrain_workers_connected"], 0, "nobody serves a finished sweep")
    }

    func testTheStreamSendsStatusEvents() throws {
        let port = try serve(try WebTestSupport.dataset("probe"))
        let request = "GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"
        let raw = try RawHTTP.exchange(port, Array(request.utf8), readLimit: 600)
        let text = String(decoding: raw, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        XCTAssertTrue(text.lowercased().contains("content-type: text/event-stream"), text)
        XCTAssertTrue(text.contains("event: status\ndata: {"), text)
    }
}

/// Reads Prometheus text format 0.0.4 samples by `name{labels}` (the Python interoperability
/// test parses it with prometheus-client's own parser).
enum PrometheusText {
    static func samples(_ text: String) -> [String: Double] {
        var out = [String: Double]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }
}
