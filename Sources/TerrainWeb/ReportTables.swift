import Foundation
import TerrainDataset
import TerrainSweeps

/// The report's tables of results, per sweep kind.
enum ReportTables {
    /// At most this many rows of runs are listed (the exports hold all of them).
    static let maxRows = 500

    static func results(_ s: StoredSweep) throws -> String {
        var out = ""
        switch s.kind {
        case "surface": out += surface(s)
        case "lottery", "training": out += try runs(s)
        default: break
        }
        let counts = try s.dataset.taskCounts().byStatus
        let statusRows = counts.keys.sorted().map { [$0, "\(counts[$0]!)"] }
        out += HTMLReport.section("Tasks by status", HTMLReport.table(statusRows, header: ["status", "tasks"]))
        let summaries = try s.dataset.summaries()
        if !summaries.isEmpty {
            let rows = summaries.keys.sorted().map { [$0, brief(summaries[$0]!)] }
            out += HTMLReport.section("Derived results (summaries)", HTMLReport.table(rows, header: ["summary", "value"]))
        }
        return out
    }

    /// Per metric: points done, minimum and where, maximum.
    static func surface(_ s: StoredSweep) -> String {
        guard let export = try? s.sweepKind.export(s, options: ExportOptions()), case .grid(let table) = export.content else { return "" }
        var rows = [[String]]()
        for (name, values) in table.metrics {
            let finite = values.enumerated().filter { $0.element.isFinite }
            guard let lo = finite.min(by: { $0.element < $1.element }), let hi = finite.max(by: { $0.element < $1.element }) else {
                rows.append([name, "0 / \(values.count)", "–", "–", "–"])
                continue
            }
            let i = lo.offset % table.nx, j = lo.offset / table.nx
            let at = table.y.map { String(format: "α = %.4g, β = %.4g", table.x[i], $0[j]) } ?? String(format: "α = %.4g", table.x[i])
            rows.append([name, "\(finite.count) / \(values.count)", String(format: "%.6g", lo.element), at, String(format: "%.6g", hi.element)])
        }
        let size = table.y.map { "\(table.nx) × \($0.count) grid" } ?? "\(table.nx) points"
        return HTMLReport.section("Surface (\(size))", HTMLReport.table(rows, header: ["metric", "points done", "minimum", "at", "maximum"]))
    }

    static func runs(_ s: StoredSweep) throws -> String {
        let runs = try s.dataset.runs()
        guard !runs.isEmpty else { return HTMLReport.section("Runs", "<p>No finished runs yet.</p>") }
        func f(_ v: Double?) -> String { v.map { String(format: "%.4g", $0) } ?? "–" }
        let rows = runs.prefix(maxRows).map { r -> [String] in
            [String(r.task), r.kind, r.branch ?? "–", r.level.map(String.init) ?? "–", String(r.seed), String(r.batchSize), f(r.learningRate),
             f(r.density), r.status, f(r.trainLoss), f(r.testAccuracy), f(r.lambdaMax)]
        }
        let more = runs.count > maxRows ? "<p>\(runs.count - maxRows) more runs: `terrain export` writes them all.</p>" : ""
        return HTMLReport.section("Runs (\(runs.count))", HTMLReport.table(rows, header: ["task", "kind", "branch", "level", "seed", "batch", "lr", "density",
                                                                                       "status", "train loss", "test acc (%)", "λmax"]) + more)
    }

    static func failures(_ ds: SweepDataset) throws -> String {
        let failed = try ds.taskRows(status: "failed", limit: 200)
        guard !failed.isEmpty else { return "" }
        let rows = failed.map { [String($0.id), $0.kind, String($0.attempts), String($0.failures), $0.error ?? "–"] }
        return HTMLReport.section("Failed tasks", HTMLReport.table(rows, header: ["task", "kind", "attempts", "failures", "error"]))
    }

    /// A summary's JSON without long arrays (density grids).
    static func brief(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return json }
        return object.keys.sorted().compactMap { k -> String? in
            let v = object[k]!
            if let a = v as? [Any] { return a.count > 8 ? nil : "\(k): [\(a.map { "\($0)" }.joined(separator: ", "))]" }
            if let d = v as? Double { return "\(k): \(String(format: "%.6g", d))" }
            return "\(k): \(v)"
        }.joined(separator: "; ")
    }
}
