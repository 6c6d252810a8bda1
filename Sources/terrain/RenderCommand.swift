import ArgumentParser
import Foundation
import TerrainDataset
import TerrainExport
import TerrainSweeps

/// `terrain render DATASET`: an SVG of a surface sweep.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a sweep as SVG: a surface heatmap with contours (2-D) or curves (1-D); test accuracy against density for a lottery sweep; batch-size figures for a training sweep.",
        discussion: """
            Lottery sweeps: --figure accuracy (the default: final test accuracy against density, log scale, mean ± one standard deviation over seeds, per branch), curves (test accuracy along training of the main chain, one line per level), or all.
            Training sweeps: --figure heatmap (default; batch size × learning rate, mean test accuracy, diverged cells marked), accuracy (test accuracy against batch size per learning rate), lambda (final λmax against batch size, with the edge-of-stability threshold per learning rate), sharpness (λmax along training per learning rate, one figure per batch size, against (2+2β)/η; needs curvature.every_epochs), or all (every figure, default names).
            """)

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    @Option(name: .shortAndLong, help: "Output SVG (default: <dataset>-<metric>.svg for 2-D, <dataset>-curves.svg for 1-D, <dataset>-density.svg with --density).")
    var output: String?

    @Option(help: "2-D: the metric to draw (train_loss, train_acc, test_loss, test_acc).")
    var metric: String = "train_loss"

    @Flag(help: "Logarithmic colour scale (2-D) or y axis (1-D).")
    var log = false

    @Option(help: "2-D: number of contour levels.")
    var contours: Int = 12

    @Option(help: "2-D: grids larger than this many points per axis are drawn from block means (exports keep every point).")
    var maxCells: Int = 251

    @Flag(help: "Draw the Hessian eigenvalue density (stochastic Lanczos quadrature) of the sweep's curvature section instead.")
    var density = false

    @Option(help: "Lottery and training sweeps: the figure (accuracy, heatmap, lambda, all).")
    var figure: String?

    func run() throws {
        if let kind = try StoredRuns.kind(of: dataset), StoredRuns.kinds.contains(kind) {
            try renderRuns(kind: kind)
            return
        }
        if figure != nil { throw CLI.Failure(message: "--figure applies to lottery and training sweeps; a surface sweep draws its grid") }
        let (table, spec, sweep) = try SurfaceResults.load(dataset)
        if density {
            let ds = try SweepDataset(path: dataset, readOnly: true)
            guard let json = try ds.summaries()["curvature"],
                  let summary = try? JSONDecoder().decode(CurvatureSpec.Summary.self, from: Data(json.utf8)),
                  let grid = summary.densityGrid, let values = summary.density else {
                throw CLI.Failure(message: "\(dataset): no eigenvalue density (add curvature.lanczos to the spec and let the sweep finish)")
            }
            let samples = spec.curvature?.samples.map { "\($0) training samples" } ?? "full training set"
            let svg = SVGRenderer.density(grid: grid, density: values,
                                          title: "Hessian eigenvalue density at \(SurfaceResults.centreName(spec))",
                                          subtitle: "stochastic Lanczos quadrature, \(summary.lanczosRuns ?? 0) runs × \(spec.curvature?.lanczosSteps ?? 0) steps, σ = \(String(format: "%.3g", summary.sigma ?? 0)) · \(samples)",
                                          xLabel: "eigenvalue", yLabel: "density", logY: true)
            try write(svg, to: output ?? ((dataset as NSString).deletingPathExtension + "-density.svg"))
            return
        }
        let subtitle = SurfaceResults.describe(spec, metric: metric)
        let title: String
        let svg: String
        let name = SurfaceResults.centreName(spec)
        if let y = table.y {
            guard let values = table.values(of: metric) else {
                throw CLI.Failure(message: "no metric '\(metric)'; the dataset has \(table.metricNames.joined(separator: ", "))")
            }
            title = "\(metric) around \(name) (\(sweep.name))"
            // Very large grids are drawn from block means (at most maxCells per axis) so that
            // the SVG stays light enough for a browser; exports keep every point.
            let (dx, dy, dv, factor) = GridDownsampling.blockMeans(x: table.x, y: y, values: values, maxCells: maxCells)
            let drawn = factor > 1 ? subtitle + " · \(factor)×\(factor) block means" : subtitle
            svg = SVGRenderer.heatmap(x: dx, y: dy, values: dv, title: title, subtitle: drawn, xLabel: "α (direction 1)",
                                      yLabel: "β (direction 2)", valueLabel: log ? "\(metric) (log scale)" : metric, logScale: log,
                                      contourLevels: contours, marker: (0, 0))
        } else {
            title = spec.directionKind == .interpolation ? "\(name) → \(((spec.target ?? "") as NSString).lastPathComponent)"
                                                          : "1-D slice around \(name) (\(sweep.name))"
            let losses = table.metrics.filter { $0.name.hasSuffix("_loss") }.map { (label: $0.name, values: $0.values) }
            svg = SVGRenderer.curves(x: table.x, series: losses, title: title, subtitle: subtitle,
                                     xLabel: spec.directionKind == .interpolation ? "t" : "α", yLabel: "loss", logY: log)
        }
        try write(svg, to: output ?? ((dataset as NSString).deletingPathExtension + "-\(table.y != nil ? metric : "curves").svg"))
    }

    /// Writes an SVG and says where.
    private func write(_ svg: String, to path: String) throws {
        do { try svg.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CLI.Failure(message: "\(path): cannot write: \(error.localizedDescription)")
        }
        print("wrote \(path)")
    }

    /// Lottery and training sweeps.
    private func renderRuns(kind: String) throws {
        let (runs, curve, _, _, _, name) = try StoredRuns.load(dataset)
        let base = (dataset as NSString).deletingPathExtension
        var jobs = [(figure: String, path: String, label: String, runs: [GridRun])]()
        if metric != "train_loss" || log || density || contours != 12 || maxCells != 251 {
            throw CLI.Failure(message: "--metric, --log, --density, --contours and --max-cells apply to surface sweeps; a \(kind) sweep takes --figure")
        }
        let allowed = kind == "lottery" ? ["accuracy", "curves", "all"] : ["heatmap", "accuracy", "lambda", "sharpness", "all"]
        let chosen = figure ?? (kind == "lottery" ? "accuracy" : "heatmap")
        guard allowed.contains(chosen) else {
            throw CLI.Failure(message: "--figure \(chosen): a \(kind) sweep draws \(allowed.joined(separator: ", "))")
        }
        // A grid over optimizers, momenta or weight decays draws one figure per variant.
        let variants = kind == "lottery" ? [("", "", [GridRun]())] : RunResults.gridVariants(runs)
        if kind == "training" && variants.isEmpty { throw CLI.Failure(message: "\(dataset): no finished runs yet") }
        func path(_ figure: String, _ slug: String) -> String {
            let suffix = slug.isEmpty ? "" : "-" + slug
            if let output, chosen != "all" {
                return slug.isEmpty ? output : (output as NSString).deletingPathExtension + suffix + ".svg"
            }
            return "\(base)-\(figure)\(suffix).svg"
        }
        if chosen == "all" && output != nil { throw CLI.Failure(message: "--figure all writes every figure under its default name; drop --output") }
        let figures = chosen == "all" ? (kind == "lottery" ? ["accuracy", "curves"] : ["heatmap", "accuracy", "lambda", "sharpness"]) : [chosen]
        for figure in figures where figure != "sharpness" && figure != "curves" {
            for (label, slug, group) in variants { jobs.append((figure, path(figure, slug), label, group)) }
        }
        if figures.contains("curves") {
            let (steps, series) = RunResults.lotteryCurves(runs: runs, curve: curve)
            if series.isEmpty { throw CLI.Failure(message: "\(dataset): no finished main-chain levels with test accuracy yet") }
            let svg = SVGRenderer.curves(x: steps, series: series, title: "Test accuracy along training, main chain (\(name))",
                                         subtitle: "mean over seeds; legend: level (density)", xLabel: "step", yLabel: "test accuracy (%)")
            try write(svg, to: output ?? "\(base)-curves.svg")
        }
        if figures.contains("sharpness") {
            let groups = RunResults.sharpnessAlongTraining(runs: runs, curve: curve)
            if groups.isEmpty && chosen == "sharpness" {
                throw CLI.Failure(message: "\(dataset): no λmax along training (add curvature: {every_epochs: N} to the spec)")
            }
            for g in groups {
                let guides = g.series.enumerated().map { (value: $0.element.threshold, series: $0.offset, label: "(2+2β)/η") }
                let svg = SVGRenderer.curves(x: g.epochs, series: g.series.map { ($0.label, $0.values) },
                                             title: "λmax along training, batch size \(g.batchSize) (\(name))",
                                             subtitle: "mean over seeds; dashed: the edge of stability (2+2β)/η, η the batch-scaled peak rate",
                                             xLabel: "epoch", yLabel: "λmax (log scale)", logY: true, guides: guides)
                let single = groups.count == 1 && chosen == "sharpness"
                try write(svg, to: single ? (output ?? "\(base)-sharpness.svg") : "\(base)-sharpness-b\(g.batchSize).svg")
            }
        }
        for job in jobs {
            let svg: String
            let suffix = job.label.isEmpty ? "" : ", \(job.label)"
            do {
                if kind == "lottery" {
                    svg = try RunFigures.lotteryAccuracy(RunResults.lotteryPoints(runs), title: "Test accuracy against density (\(name))")
                } else if job.figure == "heatmap" {
                    svg = try RunFigures.batchLearningRateHeatmap(job.runs, title: "Test accuracy by batch size and learning rate (\(name)\(suffix))")
                } else {
                    let metric: GridMetric = job.figure == "lambda" ? .lambdaMax : .testAccuracy
                    svg = try RunFigures.batchSizeCurves(job.runs, metric: metric,
                                                         title: (metric == .lambdaMax ? "λmax" : "Test accuracy") + " against batch size (\(name)\(suffix))")
                }
            } catch {
                throw CLI.Failure(message: "\(dataset): \(error)")
            }
            try write(svg, to: job.path)
        }
    }
}
