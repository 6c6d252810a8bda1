import Foundation

/// SVG figures of training-run results: lottery-ticket accuracy against density, and
/// batch-size/learning-rate sweeps as curves or a heatmap.
///
/// The documents are drawn with the same plotting layer as ``SVGRenderer``'s: a
/// complete standalone SVG 1.1 document, deterministic bytes for the same input
/// (coordinates rounded to 1/100 px, fixed number formats, results aggregated in a fixed
/// order so the input order does not matter), every user-supplied string XML-escaped.
/// Unlike ``SVGRenderer``, invalid or empty input throws ``RunFigureError`` instead of
/// producing an error figure.
///
/// Plot geometry: the plot area is the frame `<rect>` drawn first inside `<g class="axes">`;
/// the axis mappings below are stated in terms of its `x`, `y`, `width` and `height`.
public enum RunFigures {
    /// Fill of heatmap cells where every seed diverged.
    public static let divergedColor = "#9e9e9e"

    /// Branches with a fixed colour (palette index 0, 1, 2) and position in the legend; other
    /// branches follow in lexicographic order with palette indices 3, 4, …
    public static let knownBranches = ["main", "random_reinit", "random_prune"]

    // MARK: Lottery tickets

    /// Test accuracy against density for the branches of a lottery-ticket experiment, in the
    /// style of Frankle & Carbin (2019): density on a log axis that decreases to the right
    /// (100 % on the left), accuracy in percent.
    ///
    /// Points are grouped by `(branch, level)`. For each group the figure shows the mean
    /// accuracy over seeds at the mean density over seeds (densities of one level can
    /// differ by a weight between seeds), joined level by level into one line per branch
    /// with a dot per level, and a shaded band of ±1 *sample* standard deviation over seeds
    /// (denominator `n − 1`; no spread is drawn for a level with a single seed). Branches
    /// are ordered and coloured as described at ``knownBranches``.
    ///
    /// Axes: x is `log10(density)`; its range is the smallest and largest mean density,
    /// widened by 5 % of the log span at both ends (by ±0.05 decades when all densities are
    /// equal). Pixel `x = frame.x + (log10(hi) − log10(d)) / (log10(hi) − log10(lo)) ·
    /// frame.width` for the widened `[lo, hi]`. Ticks sit at the mean density of each level
    /// over all points, labelled in percent (one decimal, `"51.2"`; two significant digits
    /// below 1 %); labels that would overlap are left out (short unlabelled ticks remain).
    /// y is linear in percent over `[min(mean − sd), max(mean + sd)]` of all branches and
    /// levels, widened by 5 % of the span at both ends (by 5 % of the value, or ±0.5 at 0,
    /// when the span is zero): pixel `y = frame.y + frame.height · (top − v) / (top − bottom)`.
    ///
    /// SVG structure: per branch `k` (legend order), a `<polygon class="band series-k">`
    /// (upper edge left to right, then lower edge right to left; a vertical
    /// `<line class="band series-k">` for a branch with one level), a
    /// `<polyline class="series-k">` (two or more levels) and one
    /// `<circle class="mean series-k">` per level; a `<g class="legend">` naming every branch.
    ///
    /// - Parameters:
    ///   - points: one result per (branch, seed, level), in any order.
    ///   - title: figure title (plain text).
    /// - Returns: the SVG document.
    /// - Throws: ``RunFigureError/noPoints`` for an empty array,
    ///   ``RunFigureError/invalidPoint(index:reason:)`` for an empty branch name, a negative
    ///   level, a density outside `(0, 1]` or an accuracy outside `[0, 1]` (e.g. a
    ///   percentage), ``RunFigureError/duplicatePoint(index:previous:branch:seed:level:)``
    ///   when a (branch, seed, level) appears twice.
    public static func lotteryAccuracy(_ points: [LotteryPoint], title: String) throws(RunFigureError) -> String {
        guard !points.isEmpty else { throw .noPoints }
        try LotteryPoint.validate(points)
        let series = LotterySeries.grouped(points, knownBranches: knownBranches)
        // x: log10 density, high density on the left; y: percent, covering the bands.
        let allDensities = series.flatMap { $0.levels.map(\.density) }
        let (xLo, xHi) = PlotRange.widened(log10(allDensities.min()!), log10(allDensities.max()!), flatPad: { _ in 0.05 })
        let bandLo = series.flatMap { $0.levels.map { $0.mean - $0.sd } }.min()!
        let bandHi = series.flatMap { $0.levels.map { $0.mean + $0.sd } }.max()!
        let (yLo, yHi) = PlotRange.widened(bandLo, bandHi, flatPad: PlotRange.flatPad)

        let seedCounts = series.flatMap { $0.levels.map(\.seeds) }
        let subtitle = seedCounts.max()! < 2
            ? "one seed per level (no spread shown)"
            : "mean over seeds per level (\(countRange(seedCounts.min()!, seedCounts.max()!))); shaded: ±1 sample s.d."
        var legend = series.map {
            LegendEntry(label: $0.name, kind: .line(colour: PlotStyle.colour($0.colourIndex), dashed: $0.colourIndex >= PlotStyle.palette.count, dot: true))
        }
        if series.contains(where: { $0.levels.contains { $0.sd > 0 } }) { legend.append(LegendEntry(label: "±1 s.d. over seeds", kind: .band)) }

        let yTicks = Ticks.linear(yLo, yHi)
        let layout = Figure.lineLayout(yTicks: yTicks, legend: legend.map(\.label))
        var fig = Figure(width: layout.width, height: layout.height, title: title, plot: layout.plot, xRange: (xHi, xLo), yRange: (yLo, yHi))
        // Level ticks at the mean density of each level over all points.
        var byLevel: [Int: (sum: Double, count: Int)] = [:]
        for p in LotteryPoint.sorted(points) {
            byLevel[p.level, default: (0, 0)].sum += p.density
            byLevel[p.level, default: (0, 0)].count += 1
        }
        let levelDensities = byLevel.keys.sorted().map { byLevel[$0]!.sum / Double(byLevel[$0]!.count) }
        let (xMajor, xMinor) = Ticks.thinned(levelDensities.map { (value: log10($0), label: percentLabel($0)) }, axis: fig.x)

        fig.titles(title, subtitle)
        fig.grid(xTicks: xMajor, yTicks: yTicks)
        drawBands(&fig, series)
        for (k, s) in series.enumerated() {
            let c = PlotStyle.colour(s.colourIndex)
            let pts = s.levels.map { (x: log10($0.density), y: $0.mean) }
            if pts.count > 1 {
                fig.add("<polyline class=\"series-\(k)\" points=\"\(fig.points(pts))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(PlotStyle.dash(s.colourIndex))/>")
            }
            for p in pts {
                let (px, py) = fig.pixel(p.x, p.y)
                fig.add("<circle class=\"mean series-\(k)\" cx=\"\(SVGText.fmt(px))\" cy=\"\(SVGText.fmt(py))\" r=\"2.8\" fill=\"\(c)\"/>")
            }
        }
        fig.axes(xTicks: xMajor, yTicks: yTicks, xLabel: "density (% of weights remaining, log scale)", yLabel: "test accuracy (%)",
                 yTickWidth: layout.yTickWidth)
        fig.minorXTicks(xMinor)
        fig.legend(legend)
        return fig.render()
    }

    /// ±1 s.d. bands of the branches that have a spread: a polygon (upper edge left to right,
    /// lower edge back), or a vertical bar for a branch with one level.
    private static func drawBands(_ fig: inout Figure, _ series: [LotterySeries]) {
        let f = SVGText.px
        fig.add("<g class=\"bands\" stroke=\"none\">")
        for (k, s) in series.enumerated() where s.levels.contains(where: { $0.sd > 0 }) {
            let c = PlotStyle.colour(s.colourIndex)
            if s.levels.count == 1, let l = s.levels.first {
                let px = fig.x.map(log10(l.density))
                fig.add("<line class=\"band series-\(k)\" x1=\"\(f(px))\" y1=\"\(f(fig.y.map(l.mean + l.sd)))\" x2=\"\(f(px))\" y2=\"\(f(fig.y.map(l.mean - l.sd)))\" stroke=\"\(c)\" stroke-width=\"6\" stroke-opacity=\"0.25\"/>")
                continue
            }
            let upper = s.levels.map { (x: log10($0.density), y: $0.mean + $0.sd) }
            let lower = s.levels.reversed().map { (x: log10($0.density), y: $0.mean - $0.sd) }
            fig.add("<polygon class=\"band series-\(k)\" points=\"\(fig.points(upper + lower))\" fill=\"\(c)\" fill-opacity=\"0.18\"/>")
        }
        fig.add("</g>")
    }

    // MARK: Labels

    /// `"n = 3"` or `"n = 2–3"`.
    static func countRange(_ lo: Int, _ hi: Int) -> String {
        lo == hi ? "n = \(lo)" : "n = \(lo)–\(hi)"
    }

    /// A density fraction in percent: one decimal (trailing `.0` dropped), two significant
    /// digits below 1 %.
    static func percentLabel(_ density: Double) -> String {
        let p = density * 100
        if p >= 1 { return SVGText.fmt(p, digits: 1) }
        return SVGText.display(String(format: "%.2g", p))
    }

    /// `%.3g` labels, with more digits when needed to keep distinct values apart.
    static func distinctLabels(_ values: [Double]) -> [String] {
        for digits in 3...17 {
            let labels = values.map { v -> String in
                let s = String(format: "%.\(digits)g", v)
                return SVGText.display(s == "-0" ? "0" : s)
            }
            if Set(labels).count == Set(values).count { return labels }
        }
        return values.map { SVGText.display("\($0)") }
    }
}
