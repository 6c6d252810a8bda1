import Foundation
import TerrainDataset
import TerrainExport

/// How `terrain status`, `export` and `render` describe a stored batch-size / learning-rate sweep.
extension TrainingGridSpec {
    /// Runs per status and the best cell so far.
    public static func statusLines(_ sweep: StoredSweep) throws -> [String] {
        let runs = try sweep.dataset.runs()
        var lines = [String]()
        let counts = RunResults.statusCounts(runs).map { "\($0.runs) \($0.status)" }
        if !counts.isEmpty { lines.append("runs: " + counts.joined(separator: ", ")) }
        // A grid over widths or noise levels has several models per cell: its summary is the
        // model-wise line below, not a best cell.
        let mixed = try DoubleDescentResults.load(sweep)?.variesCapacity ?? false
        if !mixed, let b = RunResults.best(runs) {
            lines.append(String(format: "best: batch size %d, lr %g, %@, momentum %g, weight decay %g: mean test accuracy %.2f%% over %d seed(s)",
                                b.batchSize, b.learningRate, b.optimizer as NSString, b.momentum, b.weightDecay, 100 * b.testAccuracy, b.seeds))
        }
        lines += try variantStatusLines(sweep, runs: runs)
        return lines
    }

    public static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        try RunSweepResults.export(sweep, options: options)
    }

    /// `heatmap` (the default: batch size × learning rate, mean test accuracy), `accuracy`
    /// (test accuracy against batch size per learning rate), `lambda` (final λmax against
    /// batch size with the edge-of-stability threshold), `sharpness` (λmax along training per
    /// learning rate, one figure per batch size) or `all`. A grid over optimizers, momenta or
    /// weight decays draws one figure per variant. A grid over width or label noise also
    /// draws `modelwise` (its default) and `epochwise` (``DoubleDescentResults``).
    public static func render(_ sweep: StoredSweep, options: RenderOptions) throws -> [RenderedFigure] {
        let descent = try DoubleDescentResults.load(sweep)
        // Runs of several widths or noise levels share their (batch size, lr, seed) cells:
        // the batch-size figures would mix them, so such a sweep draws its own two.
        let grid = ["heatmap", "accuracy", "lambda", "sharpness"]
        let draws = descent.map { $0.variesCapacity ? ["modelwise", "epochwise"] : grid + ["modelwise", "epochwise"] } ?? grid
        let choice = try RunSweepResults.FigureChoice(sweep, options: options, draws: draws,
                                                      defaultFigure: descent == nil ? "heatmap" : "modelwise")
        let runs = try sweep.dataset.runs()
        let variants = RunResults.gridVariants(runs)
        if variants.isEmpty { throw ResultsError("\(sweep.path): no finished runs yet") }
        var out = [RenderedFigure]()
        for figure in ["modelwise", "epochwise"] where choice.figures.contains(figure) {
            out += descent?.figures(figure, sweep: sweep.name, choice: choice) ?? []
        }
        if choice.figures.contains("sharpness") {
            out += try sharpnessFigures(sweep, runs: runs, choice: choice)
        }
        for figure in choice.figures where !["sharpness", "modelwise", "epochwise"].contains(figure) {
            for (label, slug, group) in variants {
                let suffix = label.isEmpty ? "" : ", \(label)"
                let svg: String
                do {
                    if figure == "heatmap" {
                        svg = try RunFigures.batchLearningRateHeatmap(group, title: "Test accuracy by batch size and learning rate (\(sweep.name)\(suffix))")
                    } else {
                        let metric: GridMetric = figure == "lambda" ? .lambdaMax : .testAccuracy
                        svg = try RunFigures.batchSizeCurves(group, metric: metric,
                                                             title: (metric == .lambdaMax ? "λmax" : "Test accuracy") + " against batch size (\(sweep.name)\(suffix))")
                    }
                } catch {
                    throw ResultsError("\(sweep.path): \(error)")
                }
                out.append(RenderedFigure(path: choice.path(figure, slug), svg: svg))
            }
        }
        return out
    }

    /// λmax along training, one figure per batch size, each series against its (2+2β)/η.
    private static func sharpnessFigures(_ sweep: StoredSweep, runs: [RunRow], choice: RunSweepResults.FigureChoice) throws -> [RenderedFigure] {
        let groups = RunResults.sharpnessAlongTraining(runs: runs, curve: try sweep.dataset.curvePoints())
        if groups.isEmpty && choice.chosen == "sharpness" {
            throw ResultsError("\(sweep.path): no λmax along training (add curvature: {every_epochs: N} to the spec)")
        }
        return groups.map { g in
            let guides = g.series.enumerated().map { (value: $0.element.threshold, series: $0.offset, label: "(2+2β)/η") }
            let svg = SVGRenderer.curves(x: g.epochs, series: g.series.map { ($0.label, $0.values) },
                                         title: "λmax along training, batch size \(g.batchSize) (\(sweep.name))",
                                         subtitle: "mean over seeds; dashed: the edge of stability (2+2β)/η, η the batch-scaled peak rate",
                                         xLabel: "epoch", yLabel: "λmax (log scale)", logY: true, guides: guides)
            let single = groups.count == 1 && choice.chosen == "sharpness"
            return RenderedFigure(path: single ? (choice.output ?? "\(choice.base)-sharpness.svg") : "\(choice.base)-sharpness-b\(g.batchSize).svg", svg: svg)
        }
    }
}

extension TrainingGridSpec {
    /// Status lines of the double-descent and SWA columns: the model-wise test error so far
    /// and, with SWA, the averaged against the final solutions' test accuracy and λmax.
    static func variantStatusLines(_ sweep: StoredSweep, runs: [RunRow]) throws -> [String] {
        var lines = [String]()
        if let descent = try DoubleDescentResults.load(sweep) {
            for c in descent.modelWise() {
                let cells = zip(c.sizes, c.testError).map { String(format: "%g: %.1f%%", $0, 100 * $1) }
                lines.append("test error by \(descent.bySize ? "parameters" : "width") (\(c.label)): " + cells.joined(separator: ", "))
            }
        }
        let swa = try sweep.dataset.runVariants().filter { $0.swaAveraged != nil }
        if !swa.isEmpty {
            let final = Dictionary(runs.map { ($0.task, $0) }, uniquingKeysWith: { a, _ in a })
            let finals = swa.compactMap { final[$0.task] }
            func pct(_ v: Double?) -> String { v.map { String(format: "%.2f%%", 100 * $0) } ?? "–" }
            func num(_ v: Double?) -> String { v.map { String(format: "%.4g", $0) } ?? "–" }
            lines.append("SWA (\(swa.count) runs, mean): test accuracy \(pct(RunResults.mean(swa.compactMap(\.swaTestAccuracy)))) vs final \(pct(RunResults.mean(finals.compactMap(\.testAccuracy)))); λmax \(num(RunResults.mean(swa.compactMap(\.swaLambdaMax)))) vs final \(num(RunResults.mean(finals.compactMap(\.lambdaMax))))")
        }
        return lines
    }
}
