import Foundation
import XCTest

/// The live page and the reports in a real browser: Debian's Chromium, headless, driven over
/// the DevTools protocol by Browser/cdp.py (standard library only). Installed when missing
/// if the tests run as root; skipped with a message otherwise. Screenshots go to the test's
/// output folder (printed).
final class BrowserTests: XCTestCase {
    private var background: [WebTestSupport.Background] = []

    override func tearDown() {
        for b in background { b.stop() }
        background = []
    }

    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/cdp.py").path

    /// Chromium on PATH, installed with apt-get when missing and running as root.
    static func requireChromium() throws {
        func found() -> Bool {
            ["chromium", "chromium-browser", "google-chrome"].contains { name in
                (try? WebTestSupport.run(["/usr/bin/env", "sh", "-c", "command -v \(name)"]).status) == 0
            }
        }
        if found() { return }
        guard getuid() == 0 else {
            throw XCTSkip("Chromium is not installed and the tests do not run as root: `apt-get install chromium` enables the browser tests")
        }
        let r = try WebTestSupport.run(["/usr/bin/env", "sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)"])
        guard r.status == 0, found() else { throw XCTSkip("Chromium could not be installed (apt-get: \(r.output.suffix(300)))") }
    }

    /// Loads `url`, samples `probe` (a JS expression) every 0.5 s for `seconds`, writes a
    /// screenshot; returns the samples and the console errors.
    func browse(_ url: String, probe: String, seconds: Double, screenshot: String) throws -> (samples: [Any], errors: [String]) {
        try Self.requireChromium()
        let r = try WebTestSupport.run(["/usr/bin/env", "python3", Self.driver, url, "--probe", probe, "--seconds", String(seconds), "--every", "0.5",
                                        "--screenshot", screenshot])
        XCTAssertEqual(r.status, 0, r.output)
        guard let line = r.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw RawHTTP.Failure("the browser driver printed no result: \(r.output)")
        }
        print("screenshot: \(screenshot)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot))
        return (object["samples"] as? [Any] ?? [], object["errors"] as? [String] ?? [])
    }

    func testTheLivePageOfARunningProbeSweepShowsProgressAndWorkers() throws {
        try Self.requireChromium()
        let dir = try WebTestSupport.directory("browser-live")
        let spec = dir + "/probe.yaml"
        try "name: browser-probe\nkind: probe\nprobe: {tasks: 2000, sleep_ms: 20, payload_bytes: 16, fail: [5]}\nruntime: {max_attempts: 2, heartbeat_ms: 200, liveness: 5}\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let dataset = dir + "/live.sqlite"
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dataset + s) }
        let run = try WebTestSupport.Background(["run", spec, "--workers", "2", "--dataset", dataset, "--quiet", "--http", "127.0.0.1:0"], log: dir + "/run.log")
        background.append(run)
        let port = try run.port()
        let probe = "[document.getElementById('progress').textContent, document.getElementById('state').textContent, "
            + "Array.from(document.querySelectorAll('#workers tbody tr')).map(function (r) { return r.textContent; }), "
            + "document.querySelectorAll('#failed tbody tr td').length]"
        let (samples, errors) = try browse("http://127.0.0.1:\(port)/", probe: probe, seconds: 4, screenshot: dir + "/live-probe.png")
        XCTAssertEqual(errors, [], "no console errors")
        let rows = samples.compactMap { $0 as? [Any] }
        let done = rows.compactMap { ($0.first as? String)?.split(separator: " ").first.flatMap { Int($0) } }
        XCTAssertGreaterThanOrEqual(Set(done).count, 2, "progress advances on the page: \(rows.map { $0.first ?? "" })")
        XCTAssertEqual(done, done.sorted(), "and never goes back")
        XCTAssertTrue(rows.contains { ($0[1] as? String) == "running" }, "the state is shown")
        let workers = rows.last?[2] as? [String] ?? []
        XCTAssertGreaterThanOrEqual(workers.filter { $0.contains("yes") && $0.contains("pid") }.count, 2, "both workers listed as connected: \(workers)")
    }

    func testTheLivePageOfAFinishedSurfaceDrawsItsHeatmapAnd3DView() throws {
        let dataset = try WebTestSupport.dataset("surface")
        let dir = try WebTestSupport.directory("browser-surface")
        let serve = try WebTestSupport.Background(["serve", dataset, "--http", "127.0.0.1:0"], log: dir + "/serve.log")
        background.append(serve)
        let port = try serve.port()
        let probe = "[document.getElementById('surfacebox').hidden, document.getElementById('surfacedone').textContent, "
            + "document.querySelectorAll('#figures img').length, !!document.querySelector('canvas.gl')]"
        let (samples, errors) = try browse("http://127.0.0.1:\(port)/", probe: probe, seconds: 3, screenshot: dir + "/live-surface.png")
        XCTAssertEqual(errors, [], "no console errors (the WebGL shaders compile)")
        let last = try XCTUnwrap(samples.last as? [Any])
        XCTAssertEqual(last[0] as? Bool, false, "the surface section is shown")
        XCTAssertEqual(last[1] as? String, "121 / 121 points")
        XCTAssertEqual(last[2] as? Int, 2, "linear and log heatmaps")
        XCTAssertEqual(last[3] as? Bool, true, "the 3-D canvas is in place (not replaced by the no-WebGL note)")
    }

    func testTheReportOfEveryKindRendersWithoutErrors() throws {
        try Self.requireChromium()
        let dir = try WebTestSupport.directory("browser-reports")
        for kind in ["probe", "surface", "lottery", "training"] {
            let dataset = try WebTestSupport.dataset(kind)
            let html = dir + "/\(kind).html"
            let r = try WebTestSupport.run([try WebTestSupport.terrain, "report", dataset, "--output", html])
            XCTAssertEqual(r.status, 0, r.output)
            let probe = "[document.querySelectorAll('svg').length, document.querySelectorAll('table').length, document.querySelector('h1').textContent, "
                + "!!document.querySelector('canvas.gl'), document.readyState]"
            let (samples, errors) = try browse("file://" + html, probe: probe, seconds: 1, screenshot: dir + "/report-\(kind).png")
            XCTAssertEqual(errors, [], "\(kind): no console errors")
            let last = try XCTUnwrap(samples.last as? [Any], kind)
            XCTAssertEqual(last[4] as? String, "complete", "\(kind): loaded")
            XCTAssertGreaterThanOrEqual(last[0] as? Int ?? 0, kind == "probe" ? 0 : 2, "\(kind): figures rendered as SVG")
            XCTAssertGreaterThanOrEqual(last[1] as? Int ?? 0, 3, "\(kind): tables")
            XCTAssertTrue((last[2] as? String)?.contains("web-\(kind)") == true, "\(kind): \(last[2])")
            XCTAssertEqual(last[3] as? Bool, kind == "surface", "\(kind): a 3-D view for the 2-D surface only")
        }
    }
}
