import Foundation

/// Standalone SVG 1.1 figures for loss landscapes: 2D heatmaps with contours, 1D
/// curves and eigenvalue densities.
///
/// Every function returns a complete document (`<?xml …?><svg xmlns=… width height
/// viewBox>…</svg>`) that needs no external resources. The output is deterministic
/// (the same input gives the same bytes): coordinates are rounded to 1/100 px and
/// printed without trailing zeros, labels use fixed formats, and no identifiers depend
/// on time or randomness. All user-supplied text is XML-escaped (characters not
/// allowed in XML 1.0 are dropped, line breaks become spaces). The data axes point
/// right (x) and up (y).
///
/// The functions never trap on user data: inconsistent inputs (mismatched lengths,
/// non-finite coordinates) produce a small SVG that shows the title and the reason
/// instead of a plot.
public enum SVGRenderer {
    /// Fill colour of heatmap cells whose value is missing (NaN or ±∞).
    public static let missingColor = "#d3d3d3"

    // MARK: - Curves

    /// Several 1D series over a common abscissa, with a legend.
    ///
    /// - Parameters:
    ///   - x: abscissae (shared by all series). A non-finite entry breaks every line.
    ///   - series: labelled ordinates; each uses its first `min(values.count, x.count)`
    ///     points. Non-finite values (and non-positive ones when `logY`) leave a gap:
    ///     the polyline is split there; isolated points are drawn as dots. Colours
    ///     follow a 10-colour categorical palette; series beyond 10 are dashed.
    ///   - title: figure title.
    ///   - subtitle: smaller grey line under the title (empty = none).
    ///   - xLabel: horizontal axis label.
    ///   - yLabel: vertical axis label.
    ///   - logY: logarithmic vertical axis (decade ticks labelled `10^k` when the range
    ///     spans at least a decade).
    ///   - guides: dashed horizontal lines at `value` (data units) in series `series`'s
    ///     colour, labelled `label` (e.g. an edge-of-stability threshold).
    ///   - logX: logarithmic horizontal axis (non-positive abscissae leave gaps), ticked
    ///     like `logY` (model sizes spanning decades).
    /// - Returns: the SVG document. Each drawn piece is a `<polyline>` (or `<circle>`)
    ///   with class `series-<index>`. With no plottable point the axes show `[0, 1]`.
    public static func curves(
        x: [Double], series: [(label: String, values: [Double])],
        title: String, subtitle: String,
        xLabel: String, yLabel: String, logY: Bool = false,
        guides: [(value: Double, series: Int, label: String)] = [], logX: Bool = false
    ) -> String {
        let x = logX ? x.map { $0 > 0 && $0.isFinite ? log10($0) : .nan } : x
        let transformY: (Double) -> Double = { v in
            guard v.isFinite else { return .nan }
            if logY { return v > 0 ? log10(v) : .nan }
            return v
        }
        let runs: [[[(x: Double, y: Double)]]] = series.map { s in
            let n = min(s.values.count, x.count)
            return finiteRuns((0..<n).map { (x: x[$0], y: transformY(s.values[$0])) })
        }
        let shownGuides = guides.compactMap { g in transformY(g.value).isFinite ? (value: transformY(g.value), series: g.series, label: g.label) : nil }
        return lineFigure(runs: runs, labels: series.map(\.label), fill: false, fillBaseline: nil, title: title, subtitle: subtitle,
                          xLabel: xLabel, yLabel: yLabel, logY: logY, padBottom: true, guides: shownGuides, logX: logX)
    }

    // MARK: - Density

    /// A spectral (eigenvalue) density drawn as a filled area under its curve.
    ///
    /// - Parameters:
    ///   - grid: abscissae (eigenvalues) at which the density is sampled, ascending.
    ///   - density: density values at `grid` (first `min(grid.count, density.count)` used).
    ///     Non-finite samples leave a gap. With `logY`, values below `1e-8` (including
    ///     zero and negatives) are raised to that floor; on a linear axis the area is
    ///     filled down to zero.
    ///   - title: figure title.
    ///   - subtitle: smaller grey line under the title (empty = none).
    ///   - xLabel: horizontal axis label (e.g. "eigenvalue λ").
    ///   - yLabel: vertical axis label (e.g. "density").
    ///   - logY: logarithmic vertical axis (default), floored at `1e-8`.
    /// - Returns: the SVG document; the area is a `<polygon class="density-fill">` per
    ///   finite run and the outline a `<polyline class="series-0">`.
    public static func density(
        grid: [Double], density: [Double],
        title: String, subtitle: String,
        xLabel: String, yLabel: String, logY: Bool = true
    ) -> String {
        let floorValue = 1e-8
        let n = min(grid.count, density.count)
        let points: [(x: Double, y: Double)] = (0..<n).map { k in
            let v = density[k]
            guard v.isFinite else { return (x: grid[k], y: .nan) }
            return (x: grid[k], y: logY ? log10(max(v, floorValue)) : v)
        }
        return lineFigure(runs: [finiteRuns(points)], labels: [], fill: true, fillBaseline: logY ? nil : 0, title: title, subtitle: subtitle,
                          xLabel: xLabel, yLabel: yLabel, logY: logY, padBottom: !logY)
    }

    // MARK: - Line figures

    /// One or more series of polylines (curves) or a filled area (density), with a legend
    /// when there are labels and dashed guides.
    private static func lineFigure(
        runs: [[[(x: Double, y: Double)]]], labels: [String], fill: Bool, fillBaseline: Double?,
        title: String, subtitle: String, xLabel: String, yLabel: String, logY: Bool,
        padBottom: Bool, guides: [(value: Double, series: Int, label: String)] = [], logX: Bool = false
    ) -> String {
        let (x, y) = lineRanges(runs: runs, guides: guides.map(\.value), logY: logY, fillBaseline: fillBaseline, padBottom: padBottom)
        let xTicks = logX ? Ticks.log(x.0, x.1) : Ticks.linear(x.0, x.1)
        let yTicks = logY ? Ticks.log(y.0, y.1) : Ticks.linear(y.0, y.1)
        let layout = Figure.lineLayout(yTicks: yTicks, legend: labels, subtitle: !subtitle.isEmpty)
        var fig = Figure(width: layout.width, height: layout.height, title: title, plot: layout.plot, xRange: x, yRange: y)
        fig.titles(title, subtitle)
        fig.grid(xTicks: xTicks, yTicks: yTicks)
        for (index, seriesRuns) in runs.enumerated() {
            let colour = fill ? "#3b528b" : PlotStyle.colour(index)
            for run in seriesRuns {
                if fill, let first = run.first, let last = run.last {
                    let base = fillBaseline ?? y.0
                    fig.add("<polygon class=\"density-fill\" points=\"\(fig.points([(first.x, base)] + run + [(last.x, base)]))\" fill=\"\(colour)\" fill-opacity=\"0.3\" stroke=\"none\"/>")
                }
                if run.count == 1, let p = run.first {
                    let (px, py) = fig.pixel(p.x, p.y)
                    fig.add("<circle class=\"series-\(index)\" cx=\"\(SVGText.fmt(px))\" cy=\"\(SVGText.fmt(py))\" r=\"2.2\" fill=\"\(colour)\"/>")
                } else {
                    fig.add("<polyline class=\"series-\(index)\" points=\"\(fig.points(run))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(PlotStyle.dash(index))/>")
                }
            }
        }
        if !guides.isEmpty {
            fig.add("<g class=\"guides\">")
            for (k, g) in guides.enumerated() {
                let colour = PlotStyle.colour(g.series)
                let py = fig.y.map(g.value)
                fig.add("<line class=\"guide series-\(g.series)\" x1=\"\(SVGText.fmt(fig.plot.x))\" y1=\"\(SVGText.fmt(py))\" x2=\"\(SVGText.fmt(fig.plot.right))\" y2=\"\(SVGText.fmt(py))\" stroke=\"\(colour)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>")
                fig.text(g.label, x: fig.plot.right - 4 - 40 * Double(k % 4), y: py - 3, size: 10, anchor: "end",
                         extra: " fill=\"\(colour)\" class=\"guide-label\"")
            }
            fig.add("</g>")
        }
        fig.axes(xTicks: xTicks, yTicks: yTicks, xLabel: xLabel, yLabel: yLabel, yTickWidth: layout.yTickWidth)
        fig.legend(labels.enumerated().map { LegendEntry(label: $0.element, kind: .line(colour: PlotStyle.colour($0.offset),
                                                                                         dashed: $0.offset >= PlotStyle.palette.count, dot: false)) },
                   labelClass: nil)
        return fig.render()
    }

    /// The data ranges of a line figure: everything drawn (and the fill baseline), flat ranges
    /// widened, 5 % headroom, and 5 % below when `padBottom` (unless the area is filled down
    /// to its baseline).
    private static func lineRanges(runs: [[[(x: Double, y: Double)]]], guides: [Double], logY: Bool, fillBaseline: Double?, padBottom: Bool)
        -> (x: (Double, Double), y: (Double, Double))
    {
        var xLo = Double.infinity, xHi = -Double.infinity
        var yLo = guides.min() ?? .infinity, yHi = guides.max() ?? -.infinity
        for p in runs.joined().joined() {
            xLo = min(xLo, p.x); xHi = max(xHi, p.x)
            yLo = min(yLo, p.y); yHi = max(yHi, p.y)
        }
        if !(xLo <= xHi) { xLo = 0; xHi = 1 }
        if !(yLo <= yHi) { yLo = logY ? -1 : 0; yHi = logY ? 0 : 1 }
        if let base = fillBaseline { yLo = min(yLo, base); yHi = max(yHi, base) }
        (xLo, xHi) = xLo == xHi ? PlotRange.widened(xLo, xHi, flatPad: PlotRange.flatPad) : (xLo, xHi)
        (yLo, yHi) = yLo == yHi ? PlotRange.widened(yLo, yHi, flatPad: PlotRange.flatPad) : (yLo, yHi)
        let ySpan = yHi - yLo
        yHi += 0.05 * ySpan
        if padBottom && !(fillBaseline != nil && yLo == fillBaseline) { yLo -= 0.05 * ySpan }
        return ((xLo, xHi), (yLo, yHi))
    }

    /// Figure shown instead of a plot when the input is inconsistent.
    static func invalidDocument(title: String, reason: String) -> String {
        var doc = SVGDocument(width: 480, height: 120, title: title)
        doc.add(SVGText.text(x: 240, y: 40, markup: SVGText.escape(title), size: PlotStyle.titleSize, anchor: "middle",
                             extra: " font-weight=\"bold\" class=\"title\""))
        doc.add(SVGText.text(x: 240, y: 76, markup: SVGText.escape("invalid input: " + reason), size: PlotStyle.subtitleSize,
                             anchor: "middle", extra: " fill=\"#b00000\" class=\"error\""))
        return doc.render()
    }

    /// Splits a sequence into maximal runs of points with finite x and y.
    static func finiteRuns(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        for p in points {
            if p.x.isFinite && p.y.isFinite {
                current.append(p)
            } else if !current.isEmpty {
                runs.append(current)
                current = []
            }
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }
}
