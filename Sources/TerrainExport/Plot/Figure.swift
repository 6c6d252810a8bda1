import Foundation

/// The plotting layer every renderer draws with: a document, a plot rectangle and the two
/// axes mapping data to it, and the furniture around them — titles, grid, axes with ticks
/// and labels, legend, colour bar. Marks are given in data (or log-data) coordinates; the
/// figure maps them to pixels and writes deterministic markup in call order.
struct Figure {
    private(set) var document: SVGDocument
    /// The plot area; the axes map onto it.
    let plot: PlotRect
    /// Data → pixel maps (x increasing to the right, y up).
    let x: PlotAxis, y: PlotAxis

    /// A `width` × `height` figure whose plot area `plot` shows x in `xRange` and y in `yRange`
    /// (a reversed range reverses the axis); `yTop` insets the top of the y axis (a strip).
    init(width: Double, height: Double, title: String, plot: PlotRect, xRange: (Double, Double), yRange: (Double, Double), yTop: Double = 0) {
        document = SVGDocument(width: width, height: height, title: title)
        self.plot = plot
        x = PlotAxis(lo: xRange.0, hi: xRange.1, pixelLo: plot.x, pixelHi: plot.right)
        y = PlotAxis(lo: yRange.0, hi: yRange.1, pixelLo: plot.bottom, pixelHi: plot.y + yTop)
    }

    /// The pixel position of a data point.
    func pixel(_ px: Double, _ py: Double) -> (x: Double, y: Double) { (x.map(px), y.map(py)) }

    /// `x,y` pairs of data points in pixels, space-separated (an SVG `points` attribute).
    func points(_ data: [(x: Double, y: Double)]) -> String {
        data.map { "\(SVGText.fmt(x.map($0.x))),\(SVGText.fmt(y.map($0.y)))" }.joined(separator: " ")
    }

    /// Appends raw markup (already escaped).
    mutating func add(_ markup: String) { document.add(markup) }

    /// Appends a `<text>` element (`text` is escaped here).
    mutating func text(_ text: String, x: Double, y: Double, size: Double = PlotStyle.tickSize, anchor: String, extra: String = "") {
        document.add(SVGText.text(x: x, y: y, markup: SVGText.escape(text), size: size, anchor: anchor, extra: extra))
    }

    /// The finished document.
    func render() -> String { document.render() }

    // MARK: Furniture

    /// The bold title and the grey subtitle (if any), centred on `centreX` (default: the plot's centre).
    /// A line too wide for the page is set smaller (down to 9 px) and moved inward so that it
    /// is never clipped at the page's edges.
    mutating func titles(_ title: String, _ subtitle: String, centreX: Double? = nil) {
        let cx = centreX ?? plot.x + plot.width / 2
        let page = document.width
        func fitted(_ text: String, _ size: Double) -> (x: Double, size: Double) {
            let room = page - 16
            let bold = 1.1   // bold glyphs are wider than textWidth's estimate
            let width = SVGText.textWidth(text.count, size: size) * bold
            let s = width > room ? max(9, size * room / width) : size
            let half = SVGText.textWidth(text.count, size: s) * bold / 2
            return (half * 2 >= room ? page / 2 : min(max(cx, 8 + half), page - 8 - half), s)
        }
        let t = fitted(title, PlotStyle.titleSize)
        add(SVGText.text(x: t.x, y: 28, markup: SVGText.escape(title), size: t.size, anchor: "middle",
                         extra: " font-weight=\"bold\" class=\"title\""))
        if !subtitle.isEmpty {
            let st = fitted(subtitle, PlotStyle.subtitleSize)
            add(SVGText.text(x: st.x, y: 48, markup: SVGText.escape(subtitle), size: st.size, anchor: "middle",
                             extra: " fill=\"#555555\" class=\"subtitle\""))
        }
    }

    /// Light grid lines at the major ticks.
    mutating func grid(xTicks: [Tick], yTicks: [Tick]) {
        let f = SVGText.px
        add("<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"0.8\">")
        for t in xTicks where !t.minor {
            let px = x.map(t.value)
            add("<line x1=\"\(f(px))\" y1=\"\(f(plot.y))\" x2=\"\(f(px))\" y2=\"\(f(plot.bottom))\"/>")
        }
        for t in yTicks where !t.minor {
            let py = y.map(t.value)
            add("<line x1=\"\(f(plot.x))\" y1=\"\(f(py))\" x2=\"\(f(plot.right))\" y2=\"\(f(py))\"/>")
        }
        add("</g>")
    }

    /// Frame, outward ticks, tick labels and axis labels (`yTickWidth`: the widest y label).
    mutating func axes(xTicks: [Tick], yTicks: [Tick], xLabel: String, yLabel: String, yTickWidth: Double) {
        let f = SVGText.px
        add("<g class=\"axes\">")
        add("<rect x=\"\(f(plot.x))\" y=\"\(f(plot.y))\" width=\"\(f(plot.width))\" height=\"\(f(plot.height))\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>")
        for t in xTicks {
            let px = x.map(t.value)
            add("<line x1=\"\(f(px))\" y1=\"\(f(plot.bottom))\" x2=\"\(f(px))\" y2=\"\(f(plot.bottom + 5))\" stroke=\"#000000\" stroke-width=\"1\"/>")
            add(SVGText.text(x: px, y: plot.bottom + 18, markup: t.markup, size: PlotStyle.tickSize, anchor: "middle"))
        }
        for t in yTicks {
            let py = y.map(t.value)
            let length = t.minor ? 3.0 : 5.0
            add("<line x1=\"\(f(plot.x - length))\" y1=\"\(f(py))\" x2=\"\(f(plot.x))\" y2=\"\(f(py))\" stroke=\"#000000\" stroke-width=\"\(t.minor ? "0.7" : "1")\"/>")
            if t.minor { continue }
            add(SVGText.text(x: plot.x - 8, y: py + PlotStyle.tickSize * 0.35, markup: t.markup, size: PlotStyle.tickSize, anchor: "end"))
        }
        add(SVGText.text(x: plot.x + plot.width / 2, y: plot.bottom + 42, markup: SVGText.escape(xLabel), size: PlotStyle.labelSize,
                         anchor: "middle", extra: " class=\"xlabel\""))
        let yLabelX = plot.x - 8 - yTickWidth - 12 - PlotStyle.labelSize / 2
        add(SVGText.text(x: yLabelX, y: plot.y + plot.height / 2, markup: SVGText.escape(yLabel), size: PlotStyle.labelSize,
                         anchor: "middle", rotate: -90, extra: " class=\"ylabel\""))
        add("</g>")
    }

    /// Short unlabelled ticks under the plot at the x values `values`.
    mutating func minorXTicks(_ values: [Double]) {
        guard !values.isEmpty else { return }
        let f = SVGText.px
        add("<g class=\"minor-ticks\" stroke=\"#000000\" stroke-width=\"0.7\">")
        for v in values {
            let px = x.map(v)
            add("<line x1=\"\(f(px))\" y1=\"\(f(plot.bottom))\" x2=\"\(f(px))\" y2=\"\(f(plot.bottom + 3))\"/>")
        }
        add("</g>")
    }

    /// The `<defs>` of the viridis gradient that colour bars fill with (`terrain-colorbar-viridis`).
    mutating func viridisGradient() {
        add("<defs><linearGradient id=\"terrain-colorbar-viridis\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
            + ColorMap.viridis.controlPoints.map { p in
                "<stop offset=\"\(SVGText.fmt(p.t, digits: 4))\" stop-color=\"\(ColorMap.viridis.hex(p.t))\"/>"
            }.joined()
            + "</linearGradient></defs>")
    }

    /// A vertical viridis colour bar beside the plot at `barX`: the gradient, ticks and
    /// `labels` evenly from bottom to top, and the rotated `valueLabel` at `valueLabelX`.
    mutating func colorBar(barX: Double, barWidth: Double, labels: [String], valueLabelX: Double, valueLabel: String) {
        let f = SVGText.px
        add("<rect x=\"\(f(barX))\" y=\"\(f(plot.y))\" width=\"\(f(barWidth))\" height=\"\(f(plot.height))\" fill=\"url(#terrain-colorbar-viridis)\" stroke=\"#000000\" stroke-width=\"0.8\"/>")
        let steps = Double(max(labels.count - 1, 1))
        for (k, label) in labels.enumerated() {
            let py = plot.bottom - Double(k) / steps * plot.height
            add("<line x1=\"\(f(barX + barWidth))\" y1=\"\(f(py))\" x2=\"\(f(barX + barWidth + 4))\" y2=\"\(f(py))\" stroke=\"#000000\" stroke-width=\"0.8\"/>")
            add(SVGText.text(x: barX + barWidth + 7, y: py + PlotStyle.tickSize * 0.35, markup: SVGText.escape(label), size: PlotStyle.tickSize,
                             anchor: "start"))
        }
        add(SVGText.text(x: valueLabelX, y: plot.y + plot.height / 2, markup: SVGText.escape(valueLabel), size: PlotStyle.labelSize,
                         anchor: "middle", rotate: -90))
    }

    /// A legend to the right of the plot, one row per entry, 20 px apart; labels carry
    /// `labelClass` when given.
    mutating func legend(_ entries: [LegendEntry], labelClass: String? = "legend-label") {
        guard !entries.isEmpty else { return }
        add("<g class=\"legend\">")
        let lx = plot.right + 16
        for (index, entry) in entries.enumerated() {
            let ly = plot.y + 10 + Double(index) * 20
            add(entry.sample(x: lx, y: ly))
            add(SVGText.text(x: lx + 30, y: ly + PlotStyle.tickSize * 0.35, markup: SVGText.escape(entry.label), size: PlotStyle.tickSize,
                             anchor: "start", extra: labelClass.map { " class=\"\($0)\"" } ?? ""))
        }
        add("</g>")
    }
}

/// A legend row: a sample (line, line with a dot, shaded band, ✕ or dashed threshold) and a label.
struct LegendEntry {
    enum Kind {
        case line(colour: String, dashed: Bool, dot: Bool)
        case band
        case cross
        case threshold
    }
    var label: String
    var kind: Kind

    /// The sample's markup, 24 px wide from `x`, centred on `y`.
    func sample(x lx: Double, y ly: Double) -> String {
        let f = SVGText.px
        switch kind {
        case let .line(c, dashed, dot):
            let dash = dashed ? " stroke-dasharray=\"6 3\"" : ""
            let line = "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"\(c)\" stroke-width=\"2.2\"\(dash)/>"
            return dot ? line + "\n<circle cx=\"\(f(lx + 12))\" cy=\"\(f(ly))\" r=\"2.8\" fill=\"\(c)\"/>" : line
        case .band:
            return "<rect x=\"\(f(lx))\" y=\"\(f(ly - 6))\" width=\"24\" height=\"12\" fill=\"#555555\" fill-opacity=\"0.18\"/>"
        case .cross:
            return "<path d=\"\(Figure.cross(lx + 12, ly, 4.5))\" fill=\"none\" stroke=\"#555555\" stroke-width=\"2\" stroke-linecap=\"round\"/>"
        case .threshold:
            return "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"#555555\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
        }
    }

    /// The width a legend of `entries` needs beside the plot (0 without entries).
    static func width(_ entries: [String]) -> Double {
        entries.isEmpty ? 0 : 16 + 24 + 6 + (entries.map { SVGText.textWidth($0.count, size: PlotStyle.tickSize) }.max() ?? 0)
    }
}

extension Figure {
    /// SVG path of a ✕ of half-size `r` centred at pixel `(x, y)`.
    static func cross(_ x: Double, _ y: Double, _ r: Double) -> String {
        let f = SVGText.px
        return "M\(f(x - r)),\(f(y - r))L\(f(x + r)),\(f(y + r))M\(f(x - r)),\(f(y + r))L\(f(x + r)),\(f(y - r))"
    }

    /// The geometry of a line figure: the plot area left of a legend, sized for the widest y
    /// tick label; 52 px of titles (68 with a subtitle) above it.
    static func lineLayout(yTicks: [Tick], legend: [String], subtitle: Bool = true)
        -> (plot: PlotRect, width: Double, height: Double, yTickWidth: Double)
    {
        let yTickWidth = Ticks.labelWidth(yTicks)
        let legendWidth = LegendEntry.width(legend)
        let plotLeft = (16 + PlotStyle.labelSize + 12 + yTickWidth + 8).rounded()
        let plot = PlotRect(x: plotLeft, y: subtitle ? 68 : 52, width: legend.isEmpty ? 520 : 500, height: 340)
        return (plot, (plot.right + max(24, legendWidth + 16)).rounded(), (plot.bottom + 58).rounded(), yTickWidth)
    }
}
