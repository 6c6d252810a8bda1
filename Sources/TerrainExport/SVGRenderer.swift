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

    // MARK: - Heatmap

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
            return invalidDocument(
                title: title, reason: "values has \(values.count) entries, expected \(nx) × \(ny) = \(nx * ny)")
        }
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else {
            return invalidDocument(title: title, reason: "non-finite grid coordinates")
        }

        // Displayed values (log10 if requested), NaN for missing samples.
        var smallestPositive = Double.infinity
        for v in values where v.isFinite && v > 0 { smallestPositive = min(smallestPositive, v) }
        let logFloor = smallestPositive.isFinite ? smallestPositive : 1
        let shown: [Double] = values.map { v in
            guard v.isFinite else { return .nan }
            return logScale ? log10(max(v, logFloor)) : v
        }
        var lo = Double.infinity, hi = -Double.infinity
        for v in shown where v.isFinite {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        let hasData = lo <= hi
        if !hasData {
            lo = 0
            hi = 1
        } else if hi == lo {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.05
            lo -= pad
            hi += pad
        }
        let anyMissing = shown.contains { !$0.isFinite }

        // Data extent: cell boundaries.
        let xEdges = cellEdges(x), yEdges = cellEdges(y)
        let xMin = xEdges.min() ?? 0, xMax = xEdges.max() ?? 1
        let yMin = yEdges.min() ?? 0, yMax = yEdges.max() ?? 1

        // Layout.
        let xTicks = linearTicks(xMin, xMax)
        let yTicks = linearTicks(yMin, yMax)
        let barTickValues = (0...4).map { lo + Double($0) * (hi - lo) / 4 }
        let barLabels = barTickValues.map { display(significant(logScale ? pow(10, $0) : $0)) }
        let yTickWidth = yTicks.map { textWidth($0.chars, size: Style.tickSize) }.max() ?? 0
        let barLabelWidth = barLabels.map { textWidth($0.count, size: Style.tickSize) }.max() ?? 0

        let plotSize = 420.0
        let plotLeft = (16 + Style.labelSize + 12 + yTickWidth + 8).rounded()
        let plotTop = subtitle.isEmpty ? 52.0 : 68.0
        let plot = Rect(x: plotLeft, y: plotTop, width: plotSize, height: plotSize)
        let barX = plot.right + 20, barWidth = 14.0
        let valueLabelX = barX + barWidth + 8 + barLabelWidth + 14 + Style.labelSize / 2
        let width = (valueLabelX + Style.labelSize / 2 + 14).rounded()
        let height = (plot.bottom + 58).rounded()

        let xAxis = Axis(lo: xMin, hi: xMax, pixelLo: plot.x, pixelHi: plot.right)
        let yAxis = Axis(lo: yMin, hi: yMax, pixelLo: plot.bottom, pixelHi: plot.y)

        var doc = Document(width: width, height: height, title: title)
        doc.add(viridisGradientDefinition)
        addTitles(&doc, title: title, subtitle: subtitle, centreX: plot.x + plot.width / 2)

        // Cells.
        doc.add("<g class=\"cells\" shape-rendering=\"crispEdges\" stroke=\"none\">")
        for j in 0..<ny {
            let ya = yAxis.map(yEdges[j]), yb = yAxis.map(yEdges[j + 1])
            let top = min(ya, yb), h = abs(yb - ya)
            for i in 0..<nx {
                let xa = xAxis.map(xEdges[i]), xb = xAxis.map(xEdges[i + 1])
                let left = min(xa, xb), w = abs(xb - xa)
                let v = shown[j * nx + i]
                let fill: String
                let cls: String
                if v.isFinite {
                    fill = ColorMap.viridis.hex((v - lo) / (hi - lo))
                    cls = "cell"
                } else {
                    fill = missingColor
                    cls = "cell missing"
                }
                doc.add(
                    "<rect class=\"\(cls)\" x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" fill=\"\(fill)\"/>"
                )
            }
        }
        doc.add("</g>")

        // Iso-lines.
        if hasData, contourLevels > 0, nx >= 2, ny >= 2 {
            doc.add(
                "<g class=\"contours\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"0.8\" stroke-opacity=\"0.85\" stroke-linejoin=\"round\" stroke-linecap=\"round\">"
            )
            for k in 1...contourLevels {
                let level = lo + Double(k) * (hi - lo) / Double(contourLevels + 1)
                for line in MarchingSquares.contours(values: shown, nx: nx, ny: ny, level: level) {
                    let points = line.map { p in
                        "\(fmt(xAxis.map(interpolate(x, p.x)))),\(fmt(yAxis.map(interpolate(y, p.y))))"
                    }
                    doc.add("<polyline points=\"\(points.joined(separator: " "))\"/>")
                }
            }
            doc.add("</g>")
        }

        addAxes(&doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xTicks, yTicks: yTicks,
                xLabel: xLabel, yLabel: yLabel, yTickWidth: yTickWidth)

        // Marker.
        if let m = marker, m.x.isFinite, m.y.isFinite,
           m.x >= xMin, m.x <= xMax, m.y >= yMin, m.y <= yMax {
            let px = xAxis.map(m.x), py = yAxis.map(m.y), r = 5.0
            let d = "M\(fmt(px - r)),\(fmt(py - r))L\(fmt(px + r)),\(fmt(py + r))M\(fmt(px - r)),\(fmt(py + r))L\(fmt(px + r)),\(fmt(py - r))"
            doc.add("<g class=\"marker\" fill=\"none\" stroke-linecap=\"round\">")
            doc.add("<path d=\"\(d)\" stroke=\"#ffffff\" stroke-width=\"4\"/>")
            doc.add("<path d=\"\(d)\" stroke=\"#d62728\" stroke-width=\"2\"/>")
            doc.add("</g>")
        }

        // Colour bar.
        doc.add("<g class=\"colorbar\">")
        addColorBar(&doc, plot: plot, barX: barX, barWidth: barWidth, labels: barLabels, valueLabelX: valueLabelX, valueLabel: valueLabel)
        if anyMissing {
            let sy = plot.bottom + 12
            doc.add(
                "<rect class=\"missing-swatch\" x=\"\(fmt(barX))\" y=\"\(fmt(sy))\" width=\"\(fmt(barWidth))\" height=\"10\" fill=\"\(missingColor)\" stroke=\"#000000\" stroke-width=\"0.8\"/>"
            )
            doc.add(text(x: barX + barWidth + 7, y: sy + 9, markup: "missing", size: Style.tickSize, anchor: "start"))
        }
        doc.add("</g>")
        return doc.render()
    }

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
    /// - Returns: the SVG document. Each drawn piece is a `<polyline>` (or `<circle>`)
    ///   with class `series-<index>`. With no plottable point the axes show `[0, 1]`.
    public static func curves(
        x: [Double], series: [(label: String, values: [Double])],
        title: String, subtitle: String,
        xLabel: String, yLabel: String, logY: Bool = false,
        guides: [(value: Double, series: Int, label: String)] = []
    ) -> String {
        let transformY: (Double) -> Double = { v in
            guard v.isFinite else { return .nan }
            if logY { return v > 0 ? log10(v) : .nan }
            return v
        }
        let runs: [[[(x: Double, y: Double)]]] = series.map { s in
            let n = min(s.values.count, x.count)
            return finiteRuns((0..<n).map { (x: x[$0], y: transformY(s.values[$0])) })
        }
        let labels = series.map(\.label)
        return lineFigure(
            runs: runs, labels: labels, fill: false, fillBaseline: nil,
            title: title, subtitle: subtitle, xLabel: xLabel, yLabel: yLabel, logY: logY,
            padBottom: true,
            guides: guides.compactMap { g in transformY(g.value).isFinite ? (transformY(g.value), g.series, g.label) : nil })
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
        let runs = finiteRuns(points)
        return lineFigure(
            runs: [runs], labels: [], fill: true, fillBaseline: logY ? nil : 0,
            title: title, subtitle: subtitle, xLabel: xLabel, yLabel: yLabel, logY: logY,
            padBottom: !logY)
    }
}

// MARK: - Shared figure machinery

extension SVGRenderer {
    enum Style {
        static let font = "DejaVu Sans, Helvetica, Arial, sans-serif"
        static let titleSize = 16.0
        static let subtitleSize = 12.0
        static let labelSize = 13.0
        static let tickSize = 11.0
        static let palette = [
            "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
        ]
    }

    struct Rect {
        var x: Double, y: Double, width: Double, height: Double
        var right: Double { x + width }
        var bottom: Double { y + height }
    }

    /// Affine map from data (or log-data) coordinates to pixels.
    struct Axis {
        var lo: Double, hi: Double, pixelLo: Double, pixelHi: Double
        func map(_ v: Double) -> Double {
            guard hi != lo else { return (pixelLo + pixelHi) / 2 }
            return pixelLo + (v - lo) / (hi - lo) * (pixelHi - pixelLo)
        }
    }

    /// A tick at `value` (axis coordinates) with its label as SVG text markup
    /// (already escaped) and its approximate width in characters.
    struct Tick {
        var value: Double
        var markup: String
        var chars: Int
        /// Minor ticks are short, unlabelled and get no grid line.
        var minor = false
    }

    struct Document {
        var width: Double
        var height: Double
        var title: String
        var lines: [String] = []

        init(width: Double, height: Double, title: String) {
            self.width = width
            self.height = height
            self.title = title
        }

        mutating func add(_ line: String) { lines.append(line) }

        func render() -> String {
            var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" font-family=\"\(Style.font)\">\n"
            out += "<title>\(escape(title))</title>\n"
            out += "<rect x=\"0\" y=\"0\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" fill=\"#ffffff\"/>\n"
            for line in lines {
                out += line
                out += "\n"
            }
            out += "</svg>\n"
            return out
        }
    }

    /// Figure for one or more polylines (curves) or a filled area (density).
    fileprivate static func lineFigure(
        runs: [[[(x: Double, y: Double)]]], labels: [String], fill: Bool, fillBaseline: Double?,
        title: String, subtitle: String, xLabel: String, yLabel: String, logY: Bool,
        padBottom: Bool, guides: [(value: Double, series: Int, label: String)] = []
    ) -> String {
        var xLo = Double.infinity, xHi = -Double.infinity
        var yLo = Double.infinity, yHi = -Double.infinity
        for g in guides { yLo = min(yLo, g.value); yHi = max(yHi, g.value) }
        for seriesRuns in runs {
            for run in seriesRuns {
                for p in run {
                    xLo = min(xLo, p.x); xHi = max(xHi, p.x)
                    yLo = min(yLo, p.y); yHi = max(yHi, p.y)
                }
            }
        }
        if !(xLo <= xHi) { xLo = 0; xHi = 1 }
        if !(yLo <= yHi) { yLo = logY ? -1 : 0; yHi = logY ? 0 : 1 }
        if let base = fillBaseline { yLo = min(yLo, base); yHi = max(yHi, base) }
        if xLo == xHi { let pad = xLo == 0 ? 0.5 : abs(xLo) * 0.05; xLo -= pad; xHi += pad }
        if yLo == yHi { let pad = yLo == 0 ? 0.5 : abs(yLo) * 0.05; yLo -= pad; yHi += pad }
        let ySpan = yHi - yLo
        yHi += 0.05 * ySpan
        if padBottom && !(fillBaseline != nil && yLo == fillBaseline) { yLo -= 0.05 * ySpan }

        let xTicks = linearTicks(xLo, xHi)
        let yTicks = logY ? logTicks(yLo, yHi) : linearTicks(yLo, yHi)
        let yTickWidth = yTicks.map { textWidth($0.chars, size: Style.tickSize) }.max() ?? 0
        let legendWidth = labels.isEmpty
            ? 0
            : 16 + 24 + 6 + (labels.map { textWidth($0.count, size: Style.tickSize) }.max() ?? 0)

        let plotLeft = (16 + Style.labelSize + 12 + yTickWidth + 8).rounded()
        let plotTop = subtitle.isEmpty ? 52.0 : 68.0
        let plotWidth = labels.isEmpty ? 520.0 : 500.0
        let plotHeight = 340.0
        let plot = Rect(x: plotLeft, y: plotTop, width: plotWidth, height: plotHeight)
        let width = (plot.right + max(24, legendWidth + 16)).rounded()
        let height = (plot.bottom + 58).rounded()
        let xAxis = Axis(lo: xLo, hi: xHi, pixelLo: plot.x, pixelHi: plot.right)
        let yAxis = Axis(lo: yLo, hi: yHi, pixelLo: plot.bottom, pixelHi: plot.y)

        var doc = Document(width: width, height: height, title: title)
        addTitles(&doc, title: title, subtitle: subtitle, centreX: plot.x + plot.width / 2)
        addGrid(&doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xTicks, yTicks: yTicks)

        for (index, seriesRuns) in runs.enumerated() {
            let colour = fill ? "#3b528b" : Style.palette[index % Style.palette.count]
            let dash = index >= Style.palette.count ? " stroke-dasharray=\"6 3\"" : ""
            let cls = "series-\(index)"
            for run in seriesRuns {
                let pts = run.map { "\(fmt(xAxis.map($0.x))),\(fmt(yAxis.map($0.y)))" }
                if fill, let first = run.first, let last = run.last {
                    let base = fmt(yAxis.map(fillBaseline ?? yLo))
                    let polygon = ["\(fmt(xAxis.map(first.x))),\(base)"] + pts + ["\(fmt(xAxis.map(last.x))),\(base)"]
                    doc.add(
                        "<polygon class=\"density-fill\" points=\"\(polygon.joined(separator: " "))\" fill=\"\(colour)\" fill-opacity=\"0.3\" stroke=\"none\"/>"
                    )
                }
                if run.count == 1, let p = run.first {
                    doc.add(
                        "<circle class=\"\(cls)\" cx=\"\(fmt(xAxis.map(p.x)))\" cy=\"\(fmt(yAxis.map(p.y)))\" r=\"2.2\" fill=\"\(colour)\"/>"
                    )
                } else {
                    doc.add(
                        "<polyline class=\"\(cls)\" points=\"\(pts.joined(separator: " "))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(dash)/>"
                    )
                }
            }
        }

        // Guides: dashed horizontal lines in a series' colour (e.g. an edge-of-stability threshold).
        if !guides.isEmpty {
            doc.add("<g class=\"guides\">")
            for (k, g) in guides.enumerated() {
                let colour = Style.palette[g.series % Style.palette.count]
                let py = yAxis.map(g.value)
                doc.add(
                    "<line class=\"guide series-\(g.series)\" x1=\"\(fmt(plot.x))\" y1=\"\(fmt(py))\" x2=\"\(fmt(plot.right))\" y2=\"\(fmt(py))\" stroke=\"\(colour)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
                )
                doc.add(text(x: plot.right - 4 - 40 * Double(k % 4), y: py - 3, markup: escape(g.label), size: 10, anchor: "end",
                             extra: " fill=\"\(colour)\" class=\"guide-label\""))
            }
            doc.add("</g>")
        }

        addAxes(&doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xTicks, yTicks: yTicks,
                xLabel: xLabel, yLabel: yLabel, yTickWidth: yTickWidth)

        if !labels.isEmpty {
            doc.add("<g class=\"legend\">")
            let lx = plot.right + 16
            for (index, label) in labels.enumerated() {
                let ly = plot.y + 10 + Double(index) * 20
                let colour = Style.palette[index % Style.palette.count]
                let dash = index >= Style.palette.count ? " stroke-dasharray=\"6 3\"" : ""
                doc.add(
                    "<line x1=\"\(fmt(lx))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(lx + 24))\" y2=\"\(fmt(ly))\" stroke=\"\(colour)\" stroke-width=\"2.2\"\(dash)/>"
                )
                doc.add(text(x: lx + 30, y: ly + Style.tickSize * 0.35, markup: escape(label),
                             size: Style.tickSize, anchor: "start"))
            }
            doc.add("</g>")
        }
        return doc.render()
    }

    /// The `<defs>` of the viridis gradient that colour bars fill with (`terrain-colorbar-viridis`).
    static var viridisGradientDefinition: String {
        "<defs><linearGradient id=\"terrain-colorbar-viridis\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
            + ColorMap.viridis.controlPoints.map { p in
                "<stop offset=\"\(fmt(p.t, digits: 4))\" stop-color=\"\(ColorMap.viridis.hex(p.t))\"/>"
            }.joined()
            + "</linearGradient></defs>"
    }

    /// A vertical colour bar beside `plot` at `barX`: the gradient, ticks and `labels` evenly
    /// from bottom to top, and the rotated `valueLabel` (escaped here) at `valueLabelX`.
    static func addColorBar(_ doc: inout Document, plot: Rect, barX: Double, barWidth: Double, labels: [String],
                            valueLabelX: Double, valueLabel: String) {
        doc.add(
            "<rect x=\"\(fmt(barX))\" y=\"\(fmt(plot.y))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(plot.height))\" fill=\"url(#terrain-colorbar-viridis)\" stroke=\"#000000\" stroke-width=\"0.8\"/>"
        )
        let steps = Double(max(labels.count - 1, 1))
        for (k, label) in labels.enumerated() {
            let py = plot.bottom - Double(k) / steps * plot.height
            doc.add(
                "<line x1=\"\(fmt(barX + barWidth))\" y1=\"\(fmt(py))\" x2=\"\(fmt(barX + barWidth + 4))\" y2=\"\(fmt(py))\" stroke=\"#000000\" stroke-width=\"0.8\"/>"
            )
            doc.add(text(x: barX + barWidth + 7, y: py + Style.tickSize * 0.35, markup: escape(label),
                         size: Style.tickSize, anchor: "start"))
        }
        doc.add(text(x: valueLabelX, y: plot.y + plot.height / 2, markup: escape(valueLabel),
                     size: Style.labelSize, anchor: "middle", rotate: -90))
    }

    static func addTitles(_ doc: inout Document, title: String, subtitle: String, centreX: Double) {
        doc.add(text(x: centreX, y: 28, markup: escape(title), size: Style.titleSize, anchor: "middle",
                     extra: " font-weight=\"bold\" class=\"title\""))
        if !subtitle.isEmpty {
            doc.add(text(x: centreX, y: 48, markup: escape(subtitle), size: Style.subtitleSize, anchor: "middle",
                         extra: " fill=\"#555555\" class=\"subtitle\""))
        }
    }

    static func addGrid(
        _ doc: inout Document, plot: Rect, xAxis: Axis, yAxis: Axis, xTicks: [Tick], yTicks: [Tick]
    ) {
        doc.add("<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"0.8\">")
        for t in xTicks where !t.minor {
            let px = xAxis.map(t.value)
            doc.add("<line x1=\"\(fmt(px))\" y1=\"\(fmt(plot.y))\" x2=\"\(fmt(px))\" y2=\"\(fmt(plot.bottom))\"/>")
        }
        for t in yTicks where !t.minor {
            let py = yAxis.map(t.value)
            doc.add("<line x1=\"\(fmt(plot.x))\" y1=\"\(fmt(py))\" x2=\"\(fmt(plot.right))\" y2=\"\(fmt(py))\"/>")
        }
        doc.add("</g>")
    }

    /// Frame, outward ticks, tick labels and axis labels.
    static func addAxes(
        _ doc: inout Document, plot: Rect, xAxis: Axis, yAxis: Axis, xTicks: [Tick], yTicks: [Tick],
        xLabel: String, yLabel: String, yTickWidth: Double
    ) {
        doc.add("<g class=\"axes\">")
        doc.add(
            "<rect x=\"\(fmt(plot.x))\" y=\"\(fmt(plot.y))\" width=\"\(fmt(plot.width))\" height=\"\(fmt(plot.height))\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>"
        )
        for t in xTicks {
            let px = xAxis.map(t.value)
            doc.add(
                "<line x1=\"\(fmt(px))\" y1=\"\(fmt(plot.bottom))\" x2=\"\(fmt(px))\" y2=\"\(fmt(plot.bottom + 5))\" stroke=\"#000000\" stroke-width=\"1\"/>"
            )
            doc.add(text(x: px, y: plot.bottom + 18, markup: t.markup, size: Style.tickSize, anchor: "middle"))
        }
        for t in yTicks {
            let py = yAxis.map(t.value)
            let length = t.minor ? 3.0 : 5.0
            doc.add(
                "<line x1=\"\(fmt(plot.x - length))\" y1=\"\(fmt(py))\" x2=\"\(fmt(plot.x))\" y2=\"\(fmt(py))\" stroke=\"#000000\" stroke-width=\"\(t.minor ? "0.7" : "1")\"/>"
            )
            if t.minor { continue }
            doc.add(text(x: plot.x - 8, y: py + Style.tickSize * 0.35, markup: t.markup, size: Style.tickSize,
                         anchor: "end"))
        }
        doc.add(text(x: plot.x + plot.width / 2, y: plot.bottom + 42, markup: escape(xLabel),
                     size: Style.labelSize, anchor: "middle", extra: " class=\"xlabel\""))
        let yLabelX = plot.x - 8 - yTickWidth - 12 - Style.labelSize / 2
        doc.add(text(x: yLabelX, y: plot.y + plot.height / 2, markup: escape(yLabel),
                     size: Style.labelSize, anchor: "middle", rotate: -90, extra: " class=\"ylabel\""))
        doc.add("</g>")
    }

    /// A `<text>` element; `markup` must already be escaped. With `rotate`, the text is
    /// turned about its anchor point. The baseline sits at `y`, so centred rotated text
    /// is shifted by a third of its size to appear centred on `x`.
    static func text(
        x: Double, y: Double, markup: String, size: Double, anchor: String,
        rotate: Double? = nil, extra: String = ""
    ) -> String {
        if let angle = rotate {
            // Rotated labels: place the baseline so the glyphs are centred on x.
            let shift = size * 0.35 * (angle > 0 ? -1 : 1)
            let bx = x + shift
            return "<text x=\"\(fmt(bx))\" y=\"\(fmt(y))\" font-size=\"\(fmt(size))\" text-anchor=\"\(anchor)\" transform=\"rotate(\(fmt(angle)) \(fmt(bx)) \(fmt(y)))\"\(extra)>\(markup)</text>"
        }
        return "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"\(fmt(size))\" text-anchor=\"\(anchor)\"\(extra)>\(markup)</text>"
    }

    /// Figure shown instead of a plot when the input is inconsistent.
    fileprivate static func invalidDocument(title: String, reason: String) -> String {
        var doc = Document(width: 480, height: 120, title: title)
        doc.add(text(x: 240, y: 40, markup: escape(title), size: Style.titleSize, anchor: "middle",
                     extra: " font-weight=\"bold\" class=\"title\""))
        doc.add(text(x: 240, y: 76, markup: escape("invalid input: " + reason), size: Style.subtitleSize,
                     anchor: "middle", extra: " fill=\"#b00000\" class=\"error\""))
        return doc.render()
    }

    // MARK: Helpers

    /// Splits a sequence into maximal runs of points with finite x and y.
    fileprivate static func finiteRuns(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
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

    /// Cell boundaries for samples at `c`: halfway between neighbours, extended by half
    /// a spacing at both ends (±0.5 for a single sample).
    fileprivate static func cellEdges(_ c: [Double]) -> [Double] {
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
    fileprivate static func interpolate(_ c: [Double], _ f: Double) -> Double {
        guard c.count > 1 else { return c.first ?? 0 }
        let i0 = min(max(Int(f.rounded(.down)), 0), c.count - 2)
        let t = f - Double(i0)
        return c[i0] + t * (c[i0 + 1] - c[i0])
    }

    /// Nice tick step (1, 2 or 5 × 10^k) giving about `target` intervals over the span.
    fileprivate static func niceStep(_ span: Double, target: Double = 5) -> Double {
        let raw = span / target
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let n = raw / magnitude
        let m: Double = n < 1.5 ? 1 : (n < 3.5 ? 2 : (n < 7.5 ? 5 : 10))
        return m * magnitude
    }

    /// Multiples of `step` inside `[lo, hi]` (tiny values snapped to 0).
    fileprivate static func multiples(of step: Double, in lo: Double, _ hi: Double) -> [Double] {
        guard step > 0, step.isFinite, lo.isFinite, hi.isFinite, hi > lo else { return [] }
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard first <= last, last - first <= 1000 else { return [] }
        var out: [Double] = []
        var k = first
        while k <= last {
            let v = k * step
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            k += 1
        }
        return out
    }

    static func linearTicks(_ lo: Double, _ hi: Double) -> [Tick] {
        guard hi > lo else { return [] }
        let step = niceStep(hi - lo)
        let values = multiples(of: step, in: lo, hi)
        let maxAbs = values.map(abs).max() ?? 0
        let exponential = maxAbs >= 1e5 || step < 1e-3
        let decimals = max(0, Int(-(log10(step) + 1e-9).rounded(.down)))
        return values.map { v in
            let label = display(exponential ? significant(v) : String(format: "%.\(decimals)f", v == 0 ? 0 : v))
            return Tick(value: v, markup: escape(label), chars: label.count)
        }
    }

    /// Ticks for a log10 axis spanning `[lo, hi]` (in decades): whole decades labelled
    /// `10^k` when the range covers one, otherwise nice linear values at their logs.
    static func logTicks(_ lo: Double, _ hi: Double) -> [Tick] {
        guard hi > lo else { return [] }
        if hi - lo >= 1 {
            let step = max(1, niceStep(hi - lo).rounded(.up))
            var ticks = multiples(of: step, in: lo, hi).map { k in
                let exponent = display(String(Int(k)))
                return Tick(
                    value: k,
                    markup: "10<tspan dy=\"-0.45em\" font-size=\"\(fmt(Style.tickSize * 0.75))\">\(exponent)</tspan>",
                    chars: 2 + exponent.count)
            }
            if step == 1 && hi - lo <= 6 {
                // Unlabelled minor ticks at 2…9 × 10^k.
                var decade = (lo - 1e-9).rounded(.down)
                while decade < hi {
                    for m in 2...9 {
                        let v = decade + log10(Double(m))
                        if v >= lo && v <= hi { ticks.append(Tick(value: v, markup: "", chars: 0, minor: true)) }
                    }
                    decade += 1
                }
            }
            return ticks
        }
        let a = pow(10, lo), b = pow(10, hi)
        let step = niceStep(b - a)
        let maxAbs = max(abs(a), abs(b))
        let exponential = maxAbs >= 1e5 || step < 1e-3
        let decimals = max(0, Int(-(log10(step) + 1e-9).rounded(.down)))
        return multiples(of: step, in: a, b).filter { $0 > 0 }.map { v in
            let label = display(exponential ? significant(v) : String(format: "%.\(decimals)f", v))
            return Tick(value: log10(v), markup: escape(label), chars: label.count)
        }
    }

    /// Compact `%.3g` rendering (`-0` printed as `0`).
    static func significant(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "inf" : "-inf") }
        let s = String(format: "%.3g", v)
        return s == "-0" ? "0" : s
    }

    /// A number label for display: hyphen-minus replaced by the minus sign U+2212.
    static func display(_ label: String) -> String {
        label.replacingOccurrences(of: "-", with: "\u{2212}")
    }

    /// Approximate rendered width of `chars` characters at font size `size`.
    static func textWidth(_ chars: Int, size: Double) -> Double {
        Double(chars) * size * 0.6
    }

    /// A coordinate rounded to `digits` decimals without trailing zeros (`-0` → `0`).
    static func fmt(_ v: Double, digits: Int = 2) -> String {
        guard v.isFinite else { return "0" }
        var s = String(format: "%.\(digits)f", v)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        if s == "-0" { s = "0" }
        return s
    }

    /// Escapes text for XML character data and attribute values. Characters not
    /// allowed in XML 1.0 are dropped; tabs and line breaks become spaces.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += " "
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
