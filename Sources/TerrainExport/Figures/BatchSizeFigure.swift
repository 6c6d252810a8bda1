import Foundation

extension RunFigures {
    /// A metric against batch size, one line per learning rate.
    ///
    /// Each point is the mean of `metric` over the seeds of one (learning rate, batch size)
    /// that did not diverge and report it. A batch size where every seed of a learning rate
    /// diverged gets a ✕ in that learning rate's colour in a strip at the top of the plot
    /// (listed as "diverged (every seed)" in the legend) and breaks the line there; batch
    /// sizes with no runs, or whose surviving runs lack the metric, are skipped without a
    /// break. Learning rates are sorted ascending and coloured by that order (legend
    /// `lr = 0.1`, three significant digits, more when needed to tell rates apart).
    ///
    /// Axes: x is `log2(batch size)` over the smallest and largest batch size, widened by
    /// 5 % of the span at both ends (±0.5 when there is one batch size), increasing to the
    /// right, with a tick per batch size (overlapping labels left out). y is linear for
    /// ``GridMetric/testAccuracy`` (percent) and for ``GridMetric/lambdaMax`` when some mean
    /// is `≤ 0`; otherwise λmax uses a log10 axis. For ``GridMetric/lambdaMax`` each learning
    /// rate also gets a dashed line at `2/η` (`(2+2β)/η` with momentum β, η the batch-scaled rate) in its colour — the
    /// edge-of-stability threshold of full-batch gradient descent (Cohen et al. 2021) — and
    /// the y range covers those lines. The y range is `[min, max]` of the plotted values,
    /// widened by 5 % of the span at both ends (by 5 % of the value, or ±0.5 at 0, when
    /// flat); it maps onto `[frame.bottom, frame.y + strip]`, where `strip` is `6 + 14·m`
    /// px when at most `m ≥ 1` ✕ marks share a batch size and 0 without marks.
    ///
    /// SVG structure: per learning rate `k`, `<polyline class="series-k">` pieces,
    /// `<circle class="mean series-k">` per point, `<path class="diverged series-k">` per ✕
    /// and, for λmax, `<line class="threshold series-k">` with a `<text class="threshold-label">`.
    ///
    /// - Parameters:
    ///   - runs: one record per (batch size, learning rate, seed), in any order.
    ///   - metric: the quantity on the y axis.
    ///   - title: figure title (plain text).
    /// - Returns: the SVG document.
    /// - Throws: ``RunFigureError/noRuns(figure:)`` for an empty array,
    ///   ``RunFigureError/invalidRun(index:reason:)`` /
    ///   ``RunFigureError/duplicateRun(index:previous:batchSize:learningRate:seed:)`` for bad
    ///   records, ``RunFigureError/nothingToDraw(figure:metric:runs:diverged:)`` when no run
    ///   yields a value (all diverged, or the metric is missing everywhere).
    public static func batchSizeCurves(_ runs: [GridRun], metric: GridMetric, title: String) throws(RunFigureError) -> String {
        let figureName = "batch-size curves"
        guard !runs.isEmpty else { throw .noRuns(figure: figureName) }
        try GridRun.validate(runs)
        let grid = GridSummary(runs, metric: metric)
        guard grid.hasValues else {
            throw .nothingToDraw(figure: figureName, metric: metric.displayName, runs: runs.count, diverged: runs.filter(\.diverged).count)
        }
        let plot = BatchSizePlot(grid, metric: metric, runs: runs)
        let yTicks = plot.logY ? Ticks.log(plot.y.0, plot.y.1) : Ticks.linear(plot.y.0, plot.y.1)
        let layout = Figure.lineLayout(yTicks: yTicks, legend: plot.legend.map(\.label))
        var fig = Figure(width: layout.width, height: layout.height, title: title, plot: layout.plot, xRange: plot.x, yRange: plot.y,
                         yTop: plot.strip)
        let (xMajor, xMinor) = Ticks.thinned(grid.batchSizes.map { (value: log2(Double($0)), label: String($0)) }, axis: fig.x)
        fig.titles(title, plot.subtitle)
        fig.grid(xTicks: xMajor, yTicks: yTicks)
        if plot.strip > 0 {
            let sy = fig.plot.y + plot.strip
            fig.add("<line class=\"diverged-strip\" x1=\"\(SVGText.fmt(fig.plot.x))\" y1=\"\(SVGText.fmt(sy))\" x2=\"\(SVGText.fmt(fig.plot.right))\" y2=\"\(SVGText.fmt(sy))\" stroke=\"#bbbbbb\" stroke-width=\"0.8\" stroke-dasharray=\"3 3\"/>")
            // Name the strip, so that its border is not read as a reference value.
            fig.add(SVGText.text(x: fig.plot.x + 4, y: sy - 3, markup: "every seed diverged ↑", size: 9, anchor: "start",
                                 extra: " fill=\"#888888\" class=\"diverged-strip-label\""))
        }
        if metric == .lambdaMax { drawThresholds(&fig, plot) }
        drawSeries(&fig, plot)
        if !plot.marks.isEmpty {
            fig.add("<g class=\"diverged-marks\" fill=\"none\" stroke-width=\"2\" stroke-linecap=\"round\">")
            for m in plot.marks {
                let px = fig.x.map(log2(Double(m.batchSize)))
                let py = fig.plot.y + 10 + 14 * Double(m.stack)
                fig.add("<path class=\"diverged series-\(m.lrIndex)\" d=\"\(Figure.cross(px, py, 4.5))\" stroke=\"\(PlotStyle.colour(m.lrIndex))\"/>")
            }
            fig.add("</g>")
        }
        fig.axes(xTicks: xMajor, yTicks: yTicks, xLabel: "batch size (log₂ scale)", yLabel: metric.axisLabel, yTickWidth: layout.yTickWidth)
        fig.minorXTicks(xMinor)
        fig.legend(plot.legend)
        return fig.render()
    }

    /// Dashed (2+2β)/η per learning rate over the batch sizes it ran at: a line when it does
    /// not change with the batch size, else a polyline, labelled at its last batch size.
    private static func drawThresholds(_ fig: inout Figure, _ plot: BatchSizePlot) {
        let f = SVGText.px
        let grid = plot.grid
        fig.add("<g class=\"thresholds\">")
        for (k, lr) in grid.learningRates.enumerated() {
            let c = PlotStyle.colour(k)
            let sizes = grid.batchSizes.filter { grid.cells[GridKey($0, lr)] != nil }
            guard let last = sizes.last else { continue }
            let ys = sizes.map { fig.y.map(plot.toY(grid.threshold($0, lr))) }
            if Set(ys).count == 1 {
                fig.add("<line class=\"threshold series-\(k)\" x1=\"\(f(fig.plot.x))\" y1=\"\(f(ys[0]))\" x2=\"\(f(fig.plot.right))\" y2=\"\(f(ys[0]))\" stroke=\"\(c)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>")
            } else {
                let pts = zip(sizes, ys).map { "\(f(fig.x.map(log2(Double($0.0))))),\(f($0.1))" }.joined(separator: " ")
                fig.add("<polyline class=\"threshold series-\(k)\" points=\"\(pts)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>")
            }
            let py = fig.y.map(plot.toY(grid.threshold(last, lr)))
            fig.add(SVGText.text(x: fig.plot.right - 4 - 34 * Double(k % 4), y: py - 3, markup: plot.thresholdLabel, size: 10, anchor: "end",
                                 extra: " fill=\"\(c)\" class=\"threshold-label\""))
        }
        fig.add("</g>")
    }

    /// One line per learning rate through its means, broken where every seed diverged, with
    /// a dot per mean.
    private static func drawSeries(_ fig: inout Figure, _ plot: BatchSizePlot) {
        let grid = plot.grid
        for (k, lr) in grid.learningRates.enumerated() {
            let c = PlotStyle.colour(k)
            var pieces: [[(x: Double, y: Double)]] = [[]]
            for bs in grid.batchSizes {
                guard let cell = grid.cells[GridKey(bs, lr)] else { continue }
                if let m = cell.mean {
                    pieces[pieces.count - 1].append((log2(Double(bs)), plot.toY(m * plot.scale)))
                } else if cell.allDiverged, !pieces[pieces.count - 1].isEmpty {
                    pieces.append([])
                }
            }
            for piece in pieces where piece.count > 1 {
                fig.add("<polyline class=\"series-\(k)\" points=\"\(fig.points(piece))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(PlotStyle.dash(k))/>")
            }
            for p in pieces.joined() {
                let (px, py) = fig.pixel(p.x, p.y)
                fig.add("<circle class=\"mean series-\(k)\" cx=\"\(SVGText.fmt(px))\" cy=\"\(SVGText.fmt(py))\" r=\"2.8\" fill=\"\(c)\"/>")
            }
        }
    }
}

/// What a batch-size figure shows, before drawing: the axes' ranges and scale, the ✕ marks
/// of learning rates where every seed diverged (stacked in a strip at the top), the legend
/// and the subtitle.
private struct BatchSizePlot {
    let grid: GridSummary
    /// Test accuracy is drawn in percent.
    let scale: Double
    /// λmax on a log10 axis when every mean is positive.
    let logY: Bool
    let x: (Double, Double), y: (Double, Double)
    let marks: [(batchSize: Int, lrIndex: Int, stack: Int)]
    /// Pixels at the top of the plot reserved for the marks.
    let strip: Double
    let thresholdLabel: String
    let legend: [LegendEntry]
    let subtitle: String

    func toY(_ v: Double) -> Double { logY ? log10(v) : v }

    init(_ grid: GridSummary, metric: GridMetric, runs: [GridRun]) {
        self.grid = grid
        scale = metric == .testAccuracy ? 100 : 1
        let allMeans = grid.cells.values.compactMap(\.mean).map { $0 * (metric == .testAccuracy ? 100 : 1) }
        let thresholds = metric == .lambdaMax
            ? grid.learningRates.flatMap { lr in grid.batchSizes.filter { grid.cells[GridKey($0, lr)] != nil }.map { grid.threshold($0, lr) } } : []
        let logY = metric == .lambdaMax && allMeans.allSatisfy { $0 > 0 }
        self.logY = logY
        let yValues = (allMeans + thresholds).map { logY ? log10($0) : $0 }
        y = PlotRange.widened(yValues.min()!, yValues.max()!, flatPad: PlotRange.flatPad)
        let xValues = grid.batchSizes.map { log2(Double($0)) }
        x = PlotRange.widened(xValues.first!, xValues.last!, flatPad: { _ in 0.5 })
        var marks: [(batchSize: Int, lrIndex: Int, stack: Int)] = []
        for bs in grid.batchSizes {
            var stack = 0
            for (k, lr) in grid.learningRates.enumerated() where grid.cells[GridKey(bs, lr)]?.allDiverged == true {
                marks.append((bs, k, stack))
                stack += 1
            }
        }
        self.marks = marks
        let maxStack = (marks.map(\.stack).max() ?? -1) + 1
        strip = maxStack > 0 ? 6 + 14 * Double(maxStack) : 0
        thresholdLabel = EdgeOfStability.label(anyMomentum: !runs.allSatisfy { $0.momentum == 0 })
        let lrLabels = RunFigures.distinctLabels(grid.learningRates)
        var legend = grid.learningRates.indices.map { k in
            LegendEntry(label: "lr = \(lrLabels[k])", kind: .line(colour: PlotStyle.colour(k), dashed: k >= PlotStyle.palette.count, dot: true))
        }
        if !marks.isEmpty { legend.append(LegendEntry(label: "diverged (every seed)", kind: .cross)) }
        if metric == .lambdaMax { legend.append(LegendEntry(label: "\(thresholdLabel) (edge of stability)", kind: .threshold)) }
        self.legend = legend
        let seeds = grid.seedCounts
        var subtitle = "mean over seeds (\(RunFigures.countRange(seeds.min()!, seeds.max()!))); diverged runs excluded"
        if metric == .lambdaMax {
            subtitle += "; dashed: \(thresholdLabel)"
            if let b = runs.first?.momentum, b > 0, Set(runs.map(\.momentum)).count == 1 {
                subtitle += ", β = \(SVGText.display(SVGText.significant(b)))"
            }
        }
        self.subtitle = subtitle
    }
}
