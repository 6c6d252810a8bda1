import Foundation
import TerrainDataset
import TerrainExport

/// What `connectivity` and `instability` sweeps share in `terrain status`, `export` and
/// `render`: their runs (`runs`, `curve_points`) and their evaluated paths (`paths`,
/// `path_points`).
enum PathSweepResults {
    /// The four tables with descriptive attributes; `--artifacts` writes every weight file.
    static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        if options.directions != nil { throw ResultsError("--directions applies to surface sweeps only") }
        if options.setsHeight { throw ResultsError("--metric and --log apply to surface sweeps (VTK height); a \(sweep.kind) sweep exports every column") }
        let ds = sweep.dataset
        let tables: [(name: String, table: RunTable)] = [
            ("runs", RunResults.table(try ds.columns(of: .runs))), ("curves", RunResults.table(try ds.columns(of: .curvePoints))),
            ("paths", RunResults.table(try ds.columns(of: .paths))), ("path_points", RunResults.table(try ds.columns(of: .pathPoints))),
        ]
        let progress = try ds.readProgress()
        let attributes = ["kind": sweep.kind, "spec_hash": sweep.specHash, "tasks": String(progress.total),
                          "paths_done": String(tables[2].table.rowCount), "state": progress.state]
        return SweepExport(.namedTables(tables, attributes: attributes)) {
            try options.artifacts.map { [try RunSweepResults.writeArtifacts(sweep, to: $0)] } ?? []
        }
    }

    /// One line per evaluated path: its pair, shape and barriers.
    static func statusLines(_ sweep: StoredSweep) throws -> [String] {
        let paths = try sweep.dataset.paths()
        guard !paths.isEmpty else { return [] }
        func f(_ v: Double?) -> String { v.map { String(format: "%9.4f", $0) } ?? "        –" }
        return ["path                    shape    train barrier  test barrier  test err barrier"] + paths.map { p in
            p.pair.padding(toLength: max(22, p.pair.count), withPad: " ", startingAt: 0) + "  "
                + p.shape.padding(toLength: 7, withPad: " ", startingAt: 0) + "    \(f(p.trainBarrier))     \(f(p.testBarrier))     \(f(p.testErrorBarrier))"
        }
    }

    /// The metric of a path point a figure draws.
    static func value(_ p: PathPointRow, _ metric: String) -> Double {
        switch metric {
        case "train_loss": return p.trainLoss ?? .nan
        case "test_loss": return p.testLoss ?? .nan
        case "train_error": return p.trainAccuracy.map { 100 * (1 - $0) } ?? .nan
        default: return p.testAccuracy.map { 100 * (1 - $0) } ?? .nan
        }
    }

    /// A file-name slug of a pair label.
    static func slug(_ label: String) -> String {
        String(label.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }).split(separator: "-").joined(separator: "-")
    }
}

extension ConnectivitySpec {
    public static func statusLines(_ sweep: StoredSweep) throws -> [String] { try PathSweepResults.statusLines(sweep) }

    public static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        try PathSweepResults.export(sweep, options: options)
    }

    /// `loss` (the default: train and test loss along the line and each curve, one figure
    /// per pair), `error` (train and test error in %) or `all`.
    public static func render(_ sweep: StoredSweep, options: RenderOptions) throws -> [RenderedFigure] {
        let choice = try RunSweepResults.FigureChoice(sweep, options: options, draws: ["loss", "error"], defaultFigure: "loss")
        let paths = try sweep.dataset.paths(), points = Dictionary(grouping: try sweep.dataset.pathPoints(), by: \.task)
        let pairs = paths.map(\.pair).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if pairs.isEmpty { throw ResultsError("\(sweep.path): no evaluated paths yet") }
        var out = [RenderedFigure]()
        for figure in choice.figures {
            for pair in pairs {
                let group = paths.filter { $0.pair == pair }
                var x = [Double](), series = [(label: String, values: [Double])]()
                for set in ["train", "test"] {
                    for p in group {
                        let rows = points[p.task] ?? []
                        if x.count < rows.count { x = rows.map(\.t) }
                        series.append(("\(p.shape) (\(set))", rows.map { PathSweepResults.value($0, "\(set)_\(figure)") }))
                    }
                }
                let barriers = group.map { p in
                    "\(p.shape) \(String(format: "%.3g", figure == "loss" ? (p.testBarrier ?? .nan) : 100 * (p.testErrorBarrier ?? .nan)))"
                }.joined(separator: ", ")
                let svg = SVGRenderer.curves(x: x, series: series, title: "\(figure == "loss" ? "Loss" : "Error") along the paths, \(pair) (\(sweep.name))",
                                             subtitle: "test barrier (max − mean of the ends): \(barriers)\(figure == "error" ? " %" : "")",
                                             xLabel: "t", yLabel: figure == "loss" ? "loss" : "error (%)")
                out.append(RenderedFigure(path: choice.path(figure, pairs.count == 1 ? "" : PathSweepResults.slug(pair)), svg: svg))
            }
        }
        return out
    }
}

extension InstabilitySpec {
    public static func statusLines(_ sweep: StoredSweep) throws -> [String] { try PathSweepResults.statusLines(sweep) }

    public static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        try PathSweepResults.export(sweep, options: options)
    }

    /// `barrier` (the default: the test and train error barrier between the two children
    /// against the branch step k, mean over seeds), `lines` (test error along the line per k,
    /// mean over seeds) or `all`.
    public static func render(_ sweep: StoredSweep, options: RenderOptions) throws -> [RenderedFigure] {
        let choice = try RunSweepResults.FigureChoice(sweep, options: options, draws: ["barrier", "lines"], defaultFigure: "barrier")
        let paths = try sweep.dataset.paths().filter { $0.branchStep != nil }
        if paths.isEmpty { throw ResultsError("\(sweep.path): no evaluated lines yet") }
        let ks = Set(paths.compactMap(\.branchStep)).sorted()
        var out = [RenderedFigure]()
        if choice.figures.contains("barrier") {
            let levels = Set(paths.map { $0.level ?? -1 }).sorted()
            func mean(_ k: Int, _ level: Int, _ v: (PathRow) -> Double?) -> Double {
                RunResults.mean(paths.filter { $0.branchStep == k && ($0.level ?? -1) == level }.compactMap(v)).map { 100 * $0 } ?? .nan
            }
            var series = [(label: String, values: [Double])]()
            for level in levels {
                let what = levels.count == 1 ? "" : level < 0 ? " (dense)" : " (level \(level))"
                series.append(("test error barrier" + what, ks.map { mean($0, level, \.testErrorBarrier) }))
                series.append(("train error barrier" + what, ks.map { mean($0, level, \.trainErrorBarrier) }))
            }
            let svg = SVGRenderer.curves(x: ks.map(Double.init), series: series, title: "Instability: error barrier against the branch step k (\(sweep.name))",
                                         subtitle: "max over the line between two children trained from step k, minus the mean of their errors; mean over seeds",
                                         xLabel: "branch step k", yLabel: "error barrier (percentage points)")
            out.append(RenderedFigure(path: choice.path("barrier"), svg: svg))
        }
        if choice.figures.contains("lines") {
            let points = Dictionary(grouping: try sweep.dataset.pathPoints(), by: \.task)
            var x = [Double]()
            let series = ks.map { k -> (label: String, values: [Double]) in
                let rows = paths.filter { $0.branchStep == k && $0.level == nil }.compactMap { points[$0.task] }.filter { !$0.isEmpty }
                guard let first = rows.first else { return ("k = \(k)", []) }
                if x.count < first.count { x = first.map(\.t) }
                return ("k = \(k)", first.indices.map { i in RunResults.mean(rows.compactMap { $0.count > i ? PathSweepResults.value($0[i], "test_error") : nil }) ?? .nan })
            }
            let svg = SVGRenderer.curves(x: x, series: series, title: "Test error along the line between the children (\(sweep.name))",
                                         subtitle: "mean over seeds, one line per branch step k", xLabel: "t", yLabel: "test error (%)")
            out.append(RenderedFigure(path: choice.path("lines"), svg: svg))
        }
        return out
    }
}
