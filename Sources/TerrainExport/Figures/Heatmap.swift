import Foundation

extension SVGRenderer {
    /// A 2D scalar field as a colour-coded grid with iso-lines, colour bar and axes.
    ///
    /// - Parameters:
    ///   - x: sample coordinates along the horizontal axis (`nx` values, finite,
    ///     monotonic; cell boundaries are placed halfway between neighbours).
    ///   - y: sample coordinates along the vertical axis (`ny` values, finite,
    ///     monotonic); y increases upward.
    ///   - values: `nx * ny` samples, row-major: `values[j * nx + i]` is the value at
    ///     `(x[i], y[j])`. Non-finite values (NaN, ±∞) are drawn in ``missingColor``
    ///     and noted as "missing" under the colour bar.
    ///   - title: figure title (plain text).
    ///   - subtitle: smaller grey line under the title (plain text; empty = none).
    ///   - xLabel: horizontal axis label.
    ///   - yLabel: vertical axis label.
    ///   - valueLabel: colour bar label.
    ///   - logScale: colour (and contour levels) by `log10(value)`; non-positive
    ///     values are clamped to the smallest positive finite value (to 1 when there is
    ///     none). Colour bar labels still show the original values.
    ///   - contourLevels: number of white iso-lines, evenly spaced strictly inside
    ///     `[min, max]` of the displayed (possibly log) values; `≤ 0` draws none.
    ///   - marker: optional point in data coordinates (e.g. the centre θ*) drawn as a
    ///     small red cross; ignored when non-finite or outside the plotted area.
    /// - Returns: the SVG document. The colour range is `[min, max]` of the finite
    ///   displayed values (widened slightly when constant). One `<rect class="cell">`
    ///   is emitted per sample; missing ones also carry the class `missing`. Returns
    ///   an error figure when `x` or `y` is empty or not finite, or when
    ///   `values.count != x.count * y.count`.
    public static func heatmap(
        x: [Double], y: [Double], values: [Double],
        title: String, subtitle: String,
        xLabel: String, yLabel: String, valueLabel: String,
        logScale: Bool = false, contourLevels: Int = 12,
        marker: (x: Double, y: Double)? = nil
    ) -> String {
        let nx = x.count, ny = y.count
        guard nx > 0, ny > 0 else {
            return invalidDocument(title: title, reason: "empty grid (x or y has no samples)")
        }
        guard values.count == nx * ny else {
            return invalidDocument(title: title, reason: "values has \(values.count) entries, expected \(nx) × \(ny) = \(nx * ny)")
        }
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else {
            return invalidDocument(title: title, reason: "non-finite grid coordinates")
        }
        let scale = HeatmapScale(values, logScale: logScale)
        let grid = HeatmapGrid(x: x, y: y)
        let barLabels = (0...4).map { scale.lo + Double($0) * (scale.hi - scale.lo) / 4 }
            .map { SVGText.display(SVGText.significant(logScale ? pow(10, $0) : $0)) }
        let layout = HeatmapLayout(grid: grid, subtitle: !subtitle.isEmpty, barLabels: barLabels)
        var fig = Figure(width: layout.width, height: layout.height, title: title, plot: layout.plot,
                         xRange: (grid.xMin, grid.xMax), yRange: (grid.yMin, grid.yMax))
        fig.viridisGradient()
        fig.titles(title, subtitle)
        drawCells(&fig, grid, scale)
        if scale.hasData, contourLevels > 0, nx >= 2, ny >= 2 { drawContours(&fig, grid, scale, levels: contourLevels) }
        fig.axes(xTicks: layout.xTicks, yTicks: layout.yTicks, xLabel: xLabel, yLabel: yLabel, yTickWidth: layout.yTickWidth)
        if let m = marker, m.x.isFinite, m.y.isFinite, m.x >= grid.xMin, m.x <= grid.xMax, m.y >= grid.yMin, m.y <= grid.yMax {
            let (px, py) = fig.pixel(m.x, m.y)
            let d = Figure.cross(px, py, 5)
            fig.add("<g class=\"marker\" fill=\"none\" stroke-linecap=\"round\">")
            fig.add("<path d=\"\(d)\" stroke=\"#ffffff\" stroke-width=\"4\"/>")
            fig.add("<path d=\"\(d)\" stroke=\"#d62728\" stroke-width=\"2\"/>")
            fig.add("</g>")
        }
        fig.add("<g class=\"colorbar\">")
        fig.colorBar(barX: layout.barX, barWidth: layout.barWidth, labels: barLabels, valueLabelX: layout.valueLabelX, valueLabel: valueLabel)
        if scale.anyMissing {
            let sy = fig.plot.bottom + 12
            fig.add("<rect class=\"missing-swatch\" x=\"\(SVGText.fmt(layout.barX))\" y=\"\(SVGText.fmt(sy))\" width=\"\(SVGText.fmt(layout.barWidth))\" height=\"10\" fill=\"\(missingColor)\" stroke=\"#000000\" stroke-width=\"0.8\"/>")
            fig.text("missing", x: layout.barX + layout.barWidth + 7, y: sy + 9, anchor: "start")
        }
        fig.add("</g>")
        return fig.render()
    }

    /// One `<rect>` per sample, coloured by its displayed value.
    private static func drawCells(_ fig: inout Figure, _ grid: HeatmapGrid, _ scale: HeatmapScale) {
        let f = SVGText.px
        fig.add("<g class=\"cells\" shape-rendering=\"crispEdges\" stroke=\"none\">")
        for j in 0..<grid.ny {
            let ya = fig.y.map(grid.yEdges[j]), yb = fig.y.map(grid.yEdges[j + 1])
            let top = min(ya, yb), h = abs(yb - ya)
            for i in 0..<grid.nx {
                let xa = fig.x.map(grid.xEdges[i]), xb = fig.x.map(grid.xEdges[i + 1])
                let left = min(xa, xb), w = abs(xb - xa)
                let v = scale.shown[j * grid.nx + i]
                let (cls, fill) = v.isFinite ? ("cell", ColorMap.viridis.hex((v - scale.lo) / (scale.hi - scale.lo))) : ("cell missing", missingColor)
                fig.add("<rect class=\"\(cls)\" x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"\(fill)\"/>")
            }
        }
        fig.add("</g>")
    }

    /// White iso-lines at `levels` values evenly inside the displayed range.
    private static func drawContours(_ fig: inout Figure, _ grid: HeatmapGrid, _ scale: HeatmapScale, levels: Int) {
        fig.add("<g class=\"contours\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"0.8\" stroke-opacity=\"0.85\" stroke-linejoin=\"round\" stroke-linecap=\"round\">")
        for k in 1...levels {
            let level = scale.lo + Double(k) * (scale.hi - scale.lo) / Double(levels + 1)
            for line in MarchingSquares.contours(values: scale.shown, nx: grid.nx, ny: grid.ny, level: level) {
                fig.add("<polyline points=\"\(fig.points(line.map { (x: grid.xAt($0.x), y: grid.yAt($0.y)) }))\"/>")
            }
        }
        fig.add("</g>")
    }
}

/// The values a heatmap shows: log10 if asked (non-positive values clamped to the smallest
/// positive one), NaN where missing, and the colour range (widened when flat).
private struct HeatmapScale {
    var shown: [Double]
    var lo: Double, hi: Double
    var hasData: Bool
    var anyMissing: Bool

    init(_ values: [Double], logScale: Bool) {
        var smallestPositive = Double.infinity
        for v in values where v.isFinite && v > 0 { smallestPositive = min(smallestPositive, v) }
        let logFloor = smallestPositive.isFinite ? smallestPositive : 1
        shown = values.map { v in
            guard v.isFinite else { return .nan }
            return logScale ? log10(max(v, logFloor)) : v
        }
        lo = .infinity
        hi = -.infinity
        for v in shown where v.isFinite {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        hasData = lo <= hi
        if !hasData {
            (lo, hi) = (0, 1)
        } else if hi == lo {
            (lo, hi) = PlotRange.widened(lo, hi, flatPad: PlotRange.flatPad)
        }
        anyMissing = shown.contains { !$0.isFinite }
    }
}

/// Sample coordinates and the cell boundaries halfway between them.
private struct HeatmapGrid {
    let x: [Double], y: [Double]
    let xEdges: [Double], yEdges: [Double]
    var nx: Int { x.count }
    var ny: Int { y.count }
    var xMin: Double { xEdges.min() ?? 0 }
    var xMax: Double { xEdges.max() ?? 1 }
    var yMin: Double { yEdges.min() ?? 0 }
    var yMax: Double { yEdges.max() ?? 1 }

    init(x: [Double], y: [Double]) {
        self.x = x
        self.y = y
        xEdges = Self.edges(x)
        yEdges = Self.edges(y)
    }

    /// Cell boundaries for samples at `c`: halfway between neighbours, extended by half a
    /// spacing at both ends (±0.5 for a single sample).
    static func edges(_ c: [Double]) -> [Double] {
        guard c.count > 1 else {
            let v = c.first ?? 0
            return [v - 0.5, v + 0.5]
        }
        var edges = [c[0] - (c[1] - c[0]) / 2]
        for k in 1..<c.count { edges.append((c[k - 1] + c[k]) / 2) }
        edges.append(c[c.count - 1] + (c[c.count - 1] - c[c.count - 2]) / 2)
        return edges
    }

    /// Data coordinate of a fractional grid index (linear between samples).
    func xAt(_ f: Double) -> Double { Self.interpolate(x, f) }
    func yAt(_ f: Double) -> Double { Self.interpolate(y, f) }

    private static func interpolate(_ c: [Double], _ f: Double) -> Double {
        guard c.count > 1 else { return c.first ?? 0 }
        let i0 = min(max(Int(f.rounded(.down)), 0), c.count - 2)
        let t = f - Double(i0)
        return c[i0] + t * (c[i0 + 1] - c[i0])
    }
}

/// Where a heatmap's parts go: a 420 px square plot sized for its tick labels, the colour
/// bar and its label to the right.
private struct HeatmapLayout {
    let xTicks: [Tick], yTicks: [Tick]
    let yTickWidth: Double
    let plot: PlotRect
    let barX: Double, barWidth = 14.0
    let valueLabelX: Double
    let width: Double, height: Double

    init(grid: HeatmapGrid, subtitle: Bool, barLabels: [String]) {
        xTicks = Ticks.linear(grid.xMin, grid.xMax)
        yTicks = Ticks.linear(grid.yMin, grid.yMax)
        yTickWidth = Ticks.labelWidth(yTicks)
        let barLabelWidth = barLabels.map { SVGText.textWidth($0.count, size: PlotStyle.tickSize) }.max() ?? 0
        let plotLeft = (16 + PlotStyle.labelSize + 12 + yTickWidth + 8).rounded()
        plot = PlotRect(x: plotLeft, y: subtitle ? 68.0 : 52.0, width: 420, height: 420)
        barX = plot.right + 20
        valueLabelX = barX + barWidth + 8 + barLabelWidth + 14 + PlotStyle.labelSize / 2
        width = (valueLabelX + PlotStyle.labelSize / 2 + 14).rounded()
        height = (plot.bottom + 58).rounded()
    }
}
