import Foundation
import TerrainDataset
import TerrainExport

/// How `terrain status`, `export` and `render` describe a stored lottery sweep.
extension LotterySpec {
    /// Mean final test accuracy per level and branch, over the seeds done so far.
    public static func statusLines(_ sweep: StoredSweep) throws -> [String] {
        let levels = RunResults.levels(try sweep.dataset.runs())
        guard !levels.isEmpty else { return [] }
        return ["level  branch          density  mean test acc  seeds"] + levels.map { l in
            let acc = l.testAccuracy.map { String(format: "%11.2f%%", 100 * $0) } ?? "          –"
            let diverged = l.diverged == 0 ? "" : "  (\(l.diverged) diverged)"
            let name = l.branch.padding(toLength: max(14, l.branch.count), withPad: " ", startingAt: 0)
            return String(format: "%5d  ", l.level) + name + String(format: "  %7.4f  ", l.density) + "\(acc)  \(l.runs)\(diverged)"
        }
    }

    public static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        try RunSweepResults.export(sweep, options: options)
    }

    /// `accuracy` (the default: final test accuracy against density per branch), `curves`
    /// (test accuracy along training of the main chain, one line per level) or `all`.
    public static func render(_ sweep: StoredSweep, options: RenderOptions) throws -> [RenderedFigure] {
        let choice = try RunSweepResults.FigureChoice(sweep, options: options, draws: ["accuracy", "curves"], defaultFigure: "accuracy")
        let runs = try sweep.dataset.runs()
        var out = [RenderedFigure]()
        if choice.figures.contains("curves") {
            let (steps, series) = RunResults.lotteryCurves(runs: runs, curve: try sweep.dataset.curvePoints())
            if series.isEmpty { throw ResultsError("\(sweep.path): no finished main-chain levels with test accuracy yet") }
            let svg = SVGRenderer.curves(x: steps, series: series, title: "Test accuracy along training, main chain (\(sweep.name))",
                                         subtitle: "mean over seeds; legend: level (density)", xLabel: "step", yLabel: "test accuracy (%)")
            out.append(RenderedFigure(path: options.output ?? "\(choice.base)-curves.svg", svg: svg))
        }
        if choice.figures.contains("accuracy") {
            do {
                let svg = try RunFigures.lotteryAccuracy(RunResults.lotteryPoints(runs), title: "Test accuracy against density (\(sweep.name))")
                out.append(RenderedFigure(path: choice.path("accuracy"), svg: svg))
            } catch {
                throw ResultsError("\(sweep.path): \(error)")
            }
        }
        return out
    }
}
