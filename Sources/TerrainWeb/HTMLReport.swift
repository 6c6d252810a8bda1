import Foundation
import TerrainDataset
import TerrainSweeps

/// `terrain report`: one self-contained HTML file for a stored sweep of any kind — its
/// figures inline as SVG, the 3-D view of a surface (WebGL, script inline), tables of
/// results, the spec and provenance (Terrain version and commit, dates, durations, workers
/// and hosts, retries, determinism checks). Nothing is fetched when it opens.
public enum HTMLReport {
    /// The report of the dataset at `path`. Throws ``WebError/report(_:)`` when it is not a
    /// sweep dataset.
    public static func make(path: String, now: Date = Date()) throws(WebError) -> String {
        do {
            let s = try StoredSweep(path: path)
            return try build(s, now: now)
        } catch let e as ResultsError {
            throw .report(e.message)
        } catch {
            throw .report("\(path): \(error)")
        }
    }

    static func build(_ s: StoredSweep, now: Date) throws -> String {
        let ds = s.dataset
        let view = SweepView(path: s.path)
        let status = try view.makeStatus(s)
        var body = "<header><h1>\(esc(s.name)) <small>(\(esc(s.kind)) sweep)</small></h1><span class=\"badge \(esc(status.state))\">\(esc(status.state))</span></header>\n"
        body += section("Progress", table([["tasks", "\(status.total)"], ["done", "\(status.done)"], ["failed (quarantined or behind a failure)", "\(status.failed)"],
                                           ["not finished", "\(status.running + status.queued + status.waiting)"], ["results committed", "\(status.results)"]]))
        let figures = FigureSet.render(s)
        if !figures.isEmpty {
            body += section("Figures", "<div id=\"figures\">" + figures.map { "<div class=\"figure\" title=\"\(esc($0.name))\">\(inlineSVG($0.svg))</div>" }.joined() + "</div>")
        }
        body += try surfaceSection(s)
        body += try ReportTables.results(s)
        body += try ReportTables.failures(ds)
        body += try provenance(s, status: status, now: now)
        body += section("Spec", "<pre>\(esc(s.specText))</pre>")
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(s.name)) — Terrain report</title><link rel="icon" href="data:,"><style>\(PageStyle.css)</style></head>
            <body>
            \(body)
            <footer>Made by <code>terrain report</code> \(TerrainBuild.version) on \(iso(now.timeIntervalSince1970)). Self-contained: opens offline.</footer>
            </body></html>

            """
    }

    /// The 3-D view of a 2-D surface, its grid embedded as JSON.
    static func surfaceSection(_ s: StoredSweep) throws -> String {
        guard s.kind == "surface" else { return "" }
        let view = SweepView(path: s.path)
        guard let json = try? view.surface(metric: nil), let grid = try? JSONDecoder().decode(SurfaceAnswer.self, from: Data(json)), grid.y != nil else {
            return ""
        }
        // `</` cannot end the script early: JSON escapes of `/` are valid.
        let data = json.string.replacingOccurrences(of: "</", with: "<\\/")
        return section("3-D view (\(esc(grid.metric)))", """
            <label><input type="checkbox" id="log"> log height</label>
            <div><canvas id="gl" class="gl"></canvas></div><p class="hint">Drag to rotate, wheel to zoom. \(grid.done) of \(grid.values.count) points.</p>
            <script>\(Surface3DScript.source)
            (function () { var g = \(data); var v = terrainSurface3D(document.getElementById('gl'), g, {log: false});
              document.getElementById('log').addEventListener('change', function (e) { v.update(g, e.target.checked); }); })();</script>
            """)
    }

    static func provenance(_ s: StoredSweep, status: StatusAnswer, now: Date) throws -> String {
        let ds = s.dataset
        var rows: [[String]] = [
            ["spec hash", s.specHash],
            ["Terrain version", try ds.meta("terrain_version") ?? "not recorded (written by an older coordinator)"],
            ["Terrain commit", try ds.meta("terrain_commit") ?? "not recorded"],
            ["coordinator host", try ds.meta("coordinator_host") ?? "not recorded"],
            ["dataset", s.path],
        ]
        if status.started > 0 { rows.append(["started", iso(status.started)]) }
        if status.updated > 0 { rows.append(["last update", iso(status.updated)]) }
        if let span = try ds.resultSpan() {
            rows.append(["first and last result", "\(iso(span.first)) → \(iso(span.last)) (\(duration(span.last - span.first)))"])
        }
        let counts = try ds.taskCounts()
        let workers = try ds.workerActivity()
        let compute = workers.reduce(0) { $0 + $1.busySeconds }
        rows.append(["compute time (workers' reports)", duration(compute)])
        rows.append(["retries (attempts after the first)", "\(counts.attempts)"])
        rows.append(["failed attempts", "\(counts.failures)"])
        let events = try ds.eventKindCounts()
        let violations = events["determinism-violation"] ?? 0, mismatches = events["verification-mismatch"] ?? 0
        let duplicates = events["duplicate"] ?? 0
        rows.append(["determinism checks", "\(duplicates) duplicate results compared bit for bit with the first; \(violations) determinism violations; \(mismatches) verification mismatches"])
        rows.append(["report made", iso(now.timeIntervalSince1970)])
        let workerRows = workers.map { [$0.name, $0.host ?? "–", "\($0.results)", duration($0.busySeconds), $0.lastSeen.map(iso) ?? "–"] }
        let hosts = Set(workers.compactMap { $0.host?.components(separatedBy: " pid").first })
        return section("Provenance", table(rows)) +
            section("Workers (\(workers.count) on \(hosts.count) host\(hosts.count == 1 ? "" : "s"))",
                    table(workerRows, header: ["worker", "host", "results", "compute", "last seen"]))
    }

    // MARK: HTML pieces

    static func section(_ title: String, _ content: String) -> String { "<section><h2>\(esc(title))</h2>\n\(content)\n</section>\n" }

    static func table(_ rows: [[String]], header: [String]? = nil) -> String {
        var out = "<table>"
        if let header { out += "<thead><tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead>" }
        out += "<tbody>" + rows.map { "<tr>" + $0.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
        return out
    }

    /// An SVG document as an inline element (its XML declaration dropped).
    static func inlineSVG(_ svg: String) -> String {
        guard let start = svg.range(of: "<svg") else { return "" }
        return String(svg[start.lowerBound...])
    }

    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func iso(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "–" }
        if s < 60 { return String(format: "%.1f s", s) }
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600) h \(t % 3600 / 60) min" : "\(t / 60) min \(t % 60) s"
    }
}
