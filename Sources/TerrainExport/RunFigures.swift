import Foundation

// MARK: - Inputs

/// One point of a lottery-ticket figure: a (branch, seed, level) result.
///
/// `density` and `testAccuracy` are fractions (`0.512`, `0.871`); the figure shows them
/// in percent.
public struct LotteryPoint: Sendable, Equatable {
    /// Branch name, e.g. `main` (the winning ticket), `random_reinit` or `random_prune`.
    public var branch: String
    /// Seed of the run (one line is the mean over seeds).
    public var seed: UInt64
    /// Pruning level, `0` for the dense network; points are grouped by level.
    public var level: Int
    /// Fraction of the prunable weights still present, in `(0, 1]`.
    public var density: Double
    /// Test accuracy as a fraction in `[0, 1]`.
    public var testAccuracy: Double

    /// Creates a point; values are checked when the figure is drawn, not here.
    public init(branch: String, seed: UInt64, level: Int, density: Double, testAccuracy: Double) {
        self.branch = branch
        self.seed = seed
        self.level = level
        self.density = density
        self.testAccuracy = testAccuracy
    }
}

/// One training run of a batch-size/learning-rate sweep.
///
/// The metrics of a diverged run are ignored, whatever they hold.
public struct GridRun: Sendable, Equatable {
    /// Mini-batch size (examples per step), `> 0`.
    public var batchSize: Int
    /// Learning rate η, finite and `> 0`.
    public var learningRate: Double
    /// Seed of the run (a point of a figure is the mean over seeds).
    public var seed: UInt64
    /// Whether training diverged (loss became non-finite or exceeded the sweep's limit).
    public var diverged: Bool
    /// Final test accuracy as a fraction in `[0, 1]`; `nil` when diverged or missing.
    public var testAccuracy: Double?
    /// Largest Hessian eigenvalue λmax (sharpness) at the end of training; `nil` when
    /// diverged or not measured.
    public var lambdaMax: Double?
    /// The rate actually used at this batch size when the sweep scales the base rate with
    /// the batch size (`linear`, `sqrt`); `nil` = ``learningRate``. The 2/η threshold of the
    /// λmax figure uses it.
    public var effectiveLearningRate: Double? = nil
    /// Heavy-ball momentum β of the run: the edge-of-stability threshold of SGD with momentum
    /// is (2 + 2β)/η (Cohen et al. 2021); 0 gives 2/η.
    public var momentum: Double = 0

    /// Creates a run record; values are checked when a figure is drawn, not here.
    public init(
        batchSize: Int, learningRate: Double, seed: UInt64, diverged: Bool = false,
        testAccuracy: Double? = nil, lambdaMax: Double? = nil, effectiveLearningRate: Double? = nil, momentum: Double = 0
    ) {
        self.effectiveLearningRate = effectiveLearningRate
        self.momentum = momentum
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seed = seed
        self.diverged = diverged
        self.testAccuracy = testAccuracy
        self.lambdaMax = lambdaMax
    }
}

/// The quantity on the vertical axis of ``RunFigures/batchSizeCurves(_:metric:title:)``.
public enum GridMetric: String, Sendable, CaseIterable {
    /// ``GridRun/testAccuracy``, drawn in percent on a linear axis.
    case testAccuracy
    /// ``GridRun/lambdaMax``, drawn with the edge-of-stability threshold 2/η per learning rate.
    case lambdaMax
}

/// Why a run figure cannot be drawn. Every message names the figure, the offending input
/// and what to change.
public enum RunFigureError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// ``RunFigures/lotteryAccuracy(_:title:)`` was given no points.
    case noPoints
    /// `points[index]` cannot be drawn (empty branch name, negative level, density outside
    /// `(0, 1]`, accuracy outside `[0, 1]` or not finite).
    case invalidPoint(index: Int, reason: String)
    /// `points[index]` repeats the (branch, seed, level) of `points[previous]`.
    case duplicatePoint(index: Int, previous: Int, branch: String, seed: UInt64, level: Int)
    /// A batch-size/learning-rate figure was given no runs.
    case noRuns(figure: String)
    /// `runs[index]` cannot be drawn (batch size `≤ 0`, learning rate not finite and
    /// positive, or a run not marked diverged with a non-finite or out-of-range metric).
    case invalidRun(index: Int, reason: String)
    /// `runs[index]` repeats the (batch size, learning rate, seed) of `runs[previous]`.
    case duplicateRun(index: Int, previous: Int, batchSize: Int, learningRate: Double, seed: UInt64)
    /// No run yields a value of `metric`: all `runs` diverged, or the ones that did not
    /// diverge (`runs − diverged`) do not report it.
    case nothingToDraw(figure: String, metric: String, runs: Int, diverged: Int)

    /// One-line message naming the figure, the offending input and how to fix it.
    public var description: String {
        switch self {
        case .noPoints:
            return "lottery accuracy figure: no points to draw; pass at least one LotteryPoint per (branch, seed, level)"
        case .invalidPoint(let index, let reason):
            return "lottery accuracy figure: points[\(index)] \(reason)"
        case .duplicatePoint(let index, let previous, let branch, let seed, let level):
            return "lottery accuracy figure: points[\(index)] and points[\(previous)] are both branch '\(branch)', seed \(seed), level \(level); pass one result per (branch, seed, level)"
        case .noRuns(let figure):
            return "\(figure): no runs to draw; pass at least one GridRun"
        case .invalidRun(let index, let reason):
            return "runs[\(index)] \(reason)"
        case .duplicateRun(let index, let previous, let batchSize, let learningRate, let seed):
            return "runs[\(index)] and runs[\(previous)] are both batch size \(batchSize), learning rate \(learningRate), seed \(seed); pass one result per (batch size, learning rate, seed)"
        case .nothingToDraw(let figure, let metric, let runs, let diverged):
            if diverged == runs {
                return "\(figure): all \(runs) runs diverged, so there is no \(metric) to plot; lower the learning rates or check the divergence criterion"
            }
            return "\(figure): none of the \(runs - diverged) runs that did not diverge reports \(metric) (\(diverged) of \(runs) diverged); record \(metric) for the finished runs before plotting"
        }
    }

    /// The same text as ``description``.
    public var errorDescription: String? { description }
}

// MARK: - Figures

/// SVG figures of training-run results: lottery-ticket accuracy against density, and
/// batch-size/learning-rate sweeps as curves or a heatmap.
///
/// The documents follow ``SVGRenderer``'s conventions (and use its drawing helpers): a
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
        try validate(points)
        let series = lotterySeries(points)

        // x: log10 density, high density on the left.
        let allDensities = series.flatMap { $0.levels.map(\.density) }
        let (dLo, dHi) = (allDensities.min()!, allDensities.max()!)
        let (xLo, xHi) = widened(log10(dLo), log10(dHi), flatPad: { _ in 0.05 })
        // y: percent, covering the bands.
        let bandLo = series.flatMap { $0.levels.map { $0.mean - $0.sd } }.min()!
        let bandHi = series.flatMap { $0.levels.map { $0.mean + $0.sd } }.max()!
        let (yLo, yHi) = widened(bandLo, bandHi, flatPad: { $0 == 0 ? 0.5 : abs($0) * 0.05 })

        // Level ticks at the mean density of each level over all points.
        var byLevel: [Int: (sum: Double, count: Int)] = [:]
        for p in sortedPoints(points) {
            byLevel[p.level, default: (0, 0)].sum += p.density
            byLevel[p.level, default: (0, 0)].count += 1
        }
        let levelDensities = byLevel.keys.sorted().map { byLevel[$0]!.sum / Double(byLevel[$0]!.count) }

        let seedCounts = series.flatMap { $0.levels.map(\.seeds) }
        let maxSeeds = seedCounts.max()!, minSeeds = seedCounts.min()!
        let subtitle = maxSeeds < 2
            ? "one seed per level (no spread shown)"
            : "mean over seeds per level (\(countRange(minSeeds, maxSeeds))); shaded: ±1 sample s.d."
        let anyBand = series.contains { $0.levels.contains { $0.sd > 0 } }
        var legend = series.map { LegendEntry(label: $0.name, kind: .line(colour: colour($0.colourIndex), dashed: $0.colourIndex >= Style.palette.count)) }
        if anyBand { legend.append(LegendEntry(label: "±1 s.d. over seeds", kind: .band)) }

        let yTicks = SVGRenderer.linearTicks(yLo, yHi)
        let layout = LineLayout(yTicks: yTicks, legend: legend)
        let plot = layout.plot
        let xAxis = Axis(lo: xHi, hi: xLo, pixelLo: plot.x, pixelHi: plot.right)
        let yAxis = Axis(lo: yLo, hi: yHi, pixelLo: plot.bottom, pixelHi: plot.y)
        let (xMajor, xMinor) = thinnedTicks(
            levelDensities.map { (value: log10($0), label: percentLabel($0)) }, axis: xAxis)

        var doc = Document(width: layout.width, height: layout.height, title: title)
        SVGRenderer.addTitles(&doc, title: title, subtitle: subtitle, centreX: plot.x + plot.width / 2)
        SVGRenderer.addGrid(&doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xMajor, yTicks: yTicks)

        doc.add("<g class=\"bands\" stroke=\"none\">")
        for (k, s) in series.enumerated() where s.levels.contains(where: { $0.sd > 0 }) {
            let c = colour(s.colourIndex)
            if s.levels.count == 1, let l = s.levels.first {
                let px = xAxis.map(log10(l.density))
                doc.add(
                    "<line class=\"band series-\(k)\" x1=\"\(fmt(px))\" y1=\"\(fmt(yAxis.map(l.mean + l.sd)))\" x2=\"\(fmt(px))\" y2=\"\(fmt(yAxis.map(l.mean - l.sd)))\" stroke=\"\(c)\" stroke-width=\"6\" stroke-opacity=\"0.25\"/>"
                )
                continue
            }
            let upper = s.levels.map { "\(fmt(xAxis.map(log10($0.density)))),\(fmt(yAxis.map($0.mean + $0.sd)))" }
            let lower = s.levels.reversed().map { "\(fmt(xAxis.map(log10($0.density)))),\(fmt(yAxis.map($0.mean - $0.sd)))" }
            doc.add(
                "<polygon class=\"band series-\(k)\" points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(c)\" fill-opacity=\"0.18\"/>"
            )
        }
        doc.add("</g>")

        for (k, s) in series.enumerated() {
            let c = colour(s.colourIndex)
            let dash = s.colourIndex >= Style.palette.count ? " stroke-dasharray=\"6 3\"" : ""
            let pts = s.levels.map { (x: xAxis.map(log10($0.density)), y: yAxis.map($0.mean)) }
            if pts.count > 1 {
                doc.add(
                    "<polyline class=\"series-\(k)\" points=\"\(pts.map { "\(fmt($0.x)),\(fmt($0.y))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(dash)/>"
                )
            }
            for p in pts {
                doc.add("<circle class=\"mean series-\(k)\" cx=\"\(fmt(p.x))\" cy=\"\(fmt(p.y))\" r=\"2.8\" fill=\"\(c)\"/>")
            }
        }

        SVGRenderer.addAxes(
            &doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xMajor, yTicks: yTicks,
            xLabel: "density (% of weights remaining, log scale)", yLabel: "test accuracy (%)",
            yTickWidth: layout.yTickWidth)
        addMinorXTicks(&doc, plot: plot, xAxis: xAxis, values: xMinor)
        addLegend(&doc, plot: plot, entries: legend)
        return doc.render()
    }

    // MARK: Batch size

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
        try validate(runs)
        let grid = GridSummary(runs, metric: metric)
        guard grid.hasValues else {
            throw .nothingToDraw(figure: figureName, metric: metric.displayName, runs: runs.count,
                                 diverged: runs.filter(\.diverged).count)
        }

        let scale: Double = metric == .testAccuracy ? 100 : 1
        let allMeans = grid.cells.values.compactMap(\.mean).map { $0 * scale }
        // 2/η per learning rate and batch size, with η the rate actually used (batch-size scaling).
        // With momentum β the threshold is (2 + 2β)/η.
        var effective = [GridKey: Double]()
        for r in runs { effective[GridKey(r.batchSize, r.learningRate)] = (r.effectiveLearningRate ?? r.learningRate) / (1 + r.momentum) }
        func threshold(_ bs: Int, _ lr: Double) -> Double { 2 / (effective[GridKey(bs, lr)] ?? lr) }
        let thresholdLabel = runs.allSatisfy({ $0.momentum == 0 }) ? "2/η" : "(2+2β)/η"
        let thresholds = metric == .lambdaMax
            ? grid.learningRates.flatMap { lr in grid.batchSizes.filter { effective[GridKey($0, lr)] != nil }.map { threshold($0, lr) } } : []
        let logY = metric == .lambdaMax && allMeans.allSatisfy { $0 > 0 }
        let toY: (Double) -> Double = { logY ? log10($0) : $0 }
        let yValues = (allMeans + thresholds).map(toY)
        let (yLo, yHi) = widened(yValues.min()!, yValues.max()!, flatPad: { $0 == 0 ? 0.5 : abs($0) * 0.05 })
        let xValues = grid.batchSizes.map { log2(Double($0)) }
        let (xLo, xHi) = widened(xValues.first!, xValues.last!, flatPad: { _ in 0.5 })

        // ✕ marks: for each batch size, the learning rates where every seed diverged.
        var marks: [(batchSize: Int, lrIndex: Int, stack: Int)] = []
        for bs in grid.batchSizes {
            var stack = 0
            for (k, lr) in grid.learningRates.enumerated() where grid.cells[GridKey(bs, lr)]?.allDiverged == true {
                marks.append((bs, k, stack))
                stack += 1
            }
        }
        let maxStack = (marks.map(\.stack).max() ?? -1) + 1
        let strip = maxStack > 0 ? 6 + 14 * Double(maxStack) : 0

        let lrLabels = distinctLabels(grid.learningRates)
        var legend = grid.learningRates.indices.map { k in
            LegendEntry(label: "lr = \(lrLabels[k])", kind: .line(colour: colour(k), dashed: k >= Style.palette.count))
        }
        if !marks.isEmpty { legend.append(LegendEntry(label: "diverged (every seed)", kind: .cross)) }
        if metric == .lambdaMax { legend.append(LegendEntry(label: "\(thresholdLabel) (edge of stability)", kind: .threshold)) }

        let yTicks = logY ? SVGRenderer.logTicks(yLo, yHi) : SVGRenderer.linearTicks(yLo, yHi)
        let layout = LineLayout(yTicks: yTicks, legend: legend)
        let plot = layout.plot
        let xAxis = Axis(lo: xLo, hi: xHi, pixelLo: plot.x, pixelHi: plot.right)
        let yAxis = Axis(lo: yLo, hi: yHi, pixelLo: plot.bottom, pixelHi: plot.y + strip)
        let (xMajor, xMinor) = thinnedTicks(
            grid.batchSizes.map { (value: log2(Double($0)), label: String($0)) }, axis: xAxis)

        let seedCounts = grid.cells.values.filter { $0.mean != nil }.map(\.values)
        var subtitle = "mean over seeds (\(countRange(seedCounts.min()!, seedCounts.max()!))); diverged runs excluded"
        if metric == .lambdaMax {
            subtitle += "; dashed: \(thresholdLabel)"
            if let b = runs.first?.momentum, b > 0, Set(runs.map(\.momentum)).count == 1 { subtitle += ", β = \(SVGRenderer.display(SVGRenderer.significant(b)))" }
        }

        var doc = Document(width: layout.width, height: layout.height, title: title)
        SVGRenderer.addTitles(&doc, title: title, subtitle: subtitle, centreX: plot.x + plot.width / 2)
        SVGRenderer.addGrid(&doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xMajor, yTicks: yTicks)
        if strip > 0 {
            let sy = plot.y + strip
            doc.add(
                "<line class=\"diverged-strip\" x1=\"\(fmt(plot.x))\" y1=\"\(fmt(sy))\" x2=\"\(fmt(plot.right))\" y2=\"\(fmt(sy))\" stroke=\"#bbbbbb\" stroke-width=\"0.8\" stroke-dasharray=\"3 3\"/>"
            )
            // Name the strip, so that its border is not read as a reference value.
            doc.add(SVGRenderer.text(x: plot.x + 4, y: sy - 3, markup: "every seed diverged ↑", size: 9, anchor: "start",
                                     extra: " fill=\"#888888\" class=\"diverged-strip-label\""))
        }

        if metric == .lambdaMax {
            doc.add("<g class=\"thresholds\">")
            for (k, lr) in grid.learningRates.enumerated() {
                let c = colour(k)
                let sizes = grid.batchSizes.filter { effective[GridKey($0, lr)] != nil }
                guard let last = sizes.last else { continue }
                let ys = sizes.map { yAxis.map(toY(threshold($0, lr))) }
                if Set(ys).count == 1 {
                    doc.add(
                        "<line class=\"threshold series-\(k)\" x1=\"\(fmt(plot.x))\" y1=\"\(fmt(ys[0]))\" x2=\"\(fmt(plot.right))\" y2=\"\(fmt(ys[0]))\" stroke=\"\(c)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
                    )
                } else {
                    let pts = zip(sizes, ys).map { "\(fmt(xAxis.map(log2(Double($0.0))))),\(fmt($0.1))" }.joined(separator: " ")
                    doc.add(
                        "<polyline class=\"threshold series-\(k)\" points=\"\(pts)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
                    )
                }
                let py = yAxis.map(toY(threshold(last, lr)))
                let lx = plot.right - 4 - 34 * Double(k % 4)
                doc.add(SVGRenderer.text(
                    x: lx, y: py - 3, markup: thresholdLabel, size: 10, anchor: "end",
                    extra: " fill=\"\(c)\" class=\"threshold-label\""))
            }
            doc.add("</g>")
        }

        for (k, lr) in grid.learningRates.enumerated() {
            let c = colour(k)
            let dash = k >= Style.palette.count ? " stroke-dasharray=\"6 3\"" : ""
            var pieces: [[(x: Double, y: Double)]] = [[]]
            for bs in grid.batchSizes {
                guard let cell = grid.cells[GridKey(bs, lr)] else { continue }
                if let m = cell.mean {
                    pieces[pieces.count - 1].append((xAxis.map(log2(Double(bs))), yAxis.map(toY(m * scale))))
                } else if cell.allDiverged, !pieces[pieces.count - 1].isEmpty {
                    pieces.append([])
                }
            }
            for piece in pieces where piece.count > 1 {
                doc.add(
                    "<polyline class=\"series-\(k)\" points=\"\(piece.map { "\(fmt($0.x)),\(fmt($0.y))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(dash)/>"
                )
            }
            for p in pieces.joined() {
                doc.add("<circle class=\"mean series-\(k)\" cx=\"\(fmt(p.x))\" cy=\"\(fmt(p.y))\" r=\"2.8\" fill=\"\(c)\"/>")
            }
        }

        if !marks.isEmpty {
            doc.add("<g class=\"diverged-marks\" fill=\"none\" stroke-width=\"2\" stroke-linecap=\"round\">")
            for m in marks {
                let px = xAxis.map(log2(Double(m.batchSize)))
                let py = plot.y + 10 + 14 * Double(m.stack)
                doc.add("<path class=\"diverged series-\(m.lrIndex)\" d=\"\(cross(px, py, 4.5))\" stroke=\"\(colour(m.lrIndex))\"/>")
            }
            doc.add("</g>")
        }

        SVGRenderer.addAxes(
            &doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xMajor, yTicks: yTicks,
            xLabel: "batch size (log₂ scale)", yLabel: metric.axisLabel, yTickWidth: layout.yTickWidth)
        addMinorXTicks(&doc, plot: plot, xAxis: xAxis, values: xMinor)
        addLegend(&doc, plot: plot, entries: legend)
        return doc.render()
    }

    // MARK: Heatmap

    /// Mean test accuracy over a batch-size × learning-rate grid as a table of coloured cells.
    ///
    /// Columns are the batch sizes (ascending, left to right), rows the learning rates
    /// (ascending, smallest at the bottom); both axes are categorical (equal cell sizes).
    /// A cell's value is the mean test accuracy in percent over the seeds that did not
    /// diverge and report it, coloured with ``ColorMap/viridis`` over `[min, max]` of the
    /// cell means (widened slightly when constant) with a colour bar, and printed in the cell
    /// with one decimal (`"87.1"`). Marks:
    /// - every seed diverged: ``divergedColor`` fill, "✕" and `"n/n div"`;
    /// - some seeds diverged: the mean of the others plus `"k/n div"` (k of n diverged);
    /// - no surviving seed reports an accuracy (the cell has no value, yet not every seed
    ///   diverged): ``SVGRenderer/missingColor`` and `"n/a"` (plus `"k/n div"` if k > 0);
    /// - a combination with no runs: a white cell without text.
    /// A note under the axes explains the marks.
    ///
    /// SVG structure: one `<rect class="cell …">` per (learning rate, batch size), emitted
    /// row by row from the bottom (smallest learning rate), left to right; extra classes
    /// `partial`, `diverged`, `missing` or `empty` as above. Cell `(i, j)` (column `i`, row
    /// `j` from the bottom) spans `x = frame.x + i·w`, `y = frame.bottom − (j + 1)·h` with
    /// `w = frame.width / columns`, `h = frame.height / rows`. Cell texts carry the classes
    /// `cell-value` and `cell-note`.
    ///
    /// - Parameters:
    ///   - runs: one record per (batch size, learning rate, seed), in any order.
    ///   - title: figure title (plain text).
    /// - Returns: the SVG document.
    /// - Throws: ``RunFigureError/noRuns(figure:)`` for an empty array,
    ///   ``RunFigureError/invalidRun(index:reason:)`` /
    ///   ``RunFigureError/duplicateRun(index:previous:batchSize:learningRate:seed:)`` for bad
    ///   records, ``RunFigureError/nothingToDraw(figure:metric:runs:diverged:)`` when no cell
    ///   has a value (all runs diverged, or none reports a test accuracy).
    public static func batchLearningRateHeatmap(_ runs: [GridRun], title: String) throws(RunFigureError) -> String {
        let figureName = "batch-size × learning-rate heatmap"
        guard !runs.isEmpty else { throw .noRuns(figure: figureName) }
        try validate(runs)
        let grid = GridSummary(runs, metric: .testAccuracy)
        guard grid.hasValues else {
            throw .nothingToDraw(figure: figureName, metric: GridMetric.testAccuracy.displayName, runs: runs.count,
                                 diverged: runs.filter(\.diverged).count)
        }
        let columns = grid.batchSizes, rows = grid.learningRates
        let nx = columns.count, ny = rows.count

        let means = grid.cells.values.compactMap(\.mean).map { $0 * 100 }
        var lo = means.min()!, hi = means.max()!
        if hi == lo {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.05
            lo -= pad
            hi += pad
        }
        let seedCounts = grid.cells.values.filter { $0.mean != nil }.map(\.values)

        // Layout.
        let rowLabels = distinctLabels(rows)
        let columnLabels = columns.map { String($0) }
        let yTickWidth = rowLabels.map { textWidth($0.count, size: Style.tickSize) }.max() ?? 0
        let barLabelValues = (0...4).map { lo + Double($0) * (hi - lo) / 4 }
        let barLabels = barLabelValues.map { SVGRenderer.display(SVGRenderer.significant($0)) }
        let barLabelWidth = barLabels.map { textWidth($0.count, size: Style.tickSize) }.max() ?? 0
        let cellWidth = min(90, max(46, (480 / Double(nx)).rounded()))
        let cellHeight = min(60, max(34, (360 / Double(ny)).rounded()))
        let plotLeft = (16 + Style.labelSize + 12 + yTickWidth + 8).rounded()
        let plot = Rect(x: plotLeft, y: 68, width: cellWidth * Double(nx), height: cellHeight * Double(ny))
        let barX = plot.right + 20, barWidth = 14.0
        let valueLabelX = barX + barWidth + 8 + barLabelWidth + 14 + Style.labelSize / 2
        let note = "✕ every seed diverged · k/n div: k of n seeds diverged, mean of the others"
        let noteY = plot.bottom + 66
        let noteRight = plot.x + 18 + textWidth(note.count, size: Style.tickSize)
        let subtitle = "mean test accuracy (%) over seeds (\(countRange(seedCounts.min()!, seedCounts.max()!))); diverged runs excluded"
        // Titles wider than a small grid widen the figure and are centred in it.
        let titleHalf = max(textWidth(title.count, size: Style.titleSize) * 1.1, textWidth(subtitle.count, size: Style.subtitleSize)) / 2 + 16
        let titleCentre = max(plot.x + plot.width / 2, titleHalf)
        let width = (max(valueLabelX + Style.labelSize / 2 + 14, noteRight + 16, titleCentre + titleHalf)).rounded()
        let height = (noteY + 16).rounded()
        let xAxis = Axis(lo: 0, hi: Double(nx), pixelLo: plot.x, pixelHi: plot.right)
        let yAxis = Axis(lo: 0, hi: Double(ny), pixelLo: plot.bottom, pixelHi: plot.y)
        let xTicks = columnLabels.enumerated().map {
            Tick(value: Double($0.offset) + 0.5, markup: escape($0.element), chars: $0.element.count)
        }
        let yTicks = rowLabels.enumerated().map {
            Tick(value: Double($0.offset) + 0.5, markup: escape($0.element), chars: $0.element.count)
        }

        var doc = Document(width: width, height: height, title: title)
        doc.add(SVGRenderer.viridisGradientDefinition)
        SVGRenderer.addTitles(&doc, title: title, subtitle: subtitle, centreX: titleCentre)

        doc.add("<g class=\"cells\" stroke=\"none\">")
        for (j, lr) in rows.enumerated() {
            for (i, bs) in columns.enumerated() {
                let left = plot.x + Double(i) * cellWidth, top = plot.bottom - Double(j + 1) * cellHeight
                let cx = left + cellWidth / 2, cy = top + cellHeight / 2
                let rect = { (cls: String, fill: String) in
                    "<rect class=\"\(cls)\" x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(cellWidth))\" height=\"\(fmt(cellHeight))\" fill=\"\(fill)\" stroke=\"#ffffff\" stroke-width=\"1\"/>"
                }
                guard let cell = grid.cells[GridKey(bs, lr)] else {
                    doc.add(rect("cell empty", "#ffffff"))
                    continue
                }
                let divNote = "\(cell.diverged)/\(cell.runs) div"
                if let m = cell.mean {
                    let v = m * 100
                    let t = (v - lo) / (hi - lo)
                    let rgb = ColorMap.viridis.color(t)
                    let luminance = 0.2126 * Double(rgb.r) + 0.7152 * Double(rgb.g) + 0.0722 * Double(rgb.b)
                    let ink = luminance > 140 ? "#000000" : "#ffffff"
                    let partial = cell.diverged > 0
                    doc.add(rect(partial ? "cell partial" : "cell", ColorMap.viridis.hex(t)))
                    doc.add(SVGRenderer.text(
                        x: cx, y: (partial ? cy - 3 : cy + 4), markup: String(format: "%.1f", v), size: Style.tickSize,
                        anchor: "middle", extra: " fill=\"\(ink)\" class=\"cell-value\""))
                    if partial {
                        doc.add(SVGRenderer.text(
                            x: cx, y: cy + 10, markup: divNote, size: 8.5, anchor: "middle",
                            extra: " fill=\"\(ink)\" class=\"cell-note\""))
                    }
                } else if cell.allDiverged {
                    doc.add(rect("cell diverged", divergedColor))
                    doc.add(SVGRenderer.text(
                        x: cx, y: cy + 1, markup: "✕", size: 13, anchor: "middle",
                        extra: " fill=\"#222222\" class=\"cell-value\""))
                    doc.add(SVGRenderer.text(
                        x: cx, y: cy + 12, markup: divNote, size: 8.5, anchor: "middle",
                        extra: " fill=\"#222222\" class=\"cell-note\""))
                } else {
                    doc.add(rect("cell missing", SVGRenderer.missingColor))
                    doc.add(SVGRenderer.text(
                        x: cx, y: (cell.diverged > 0 ? cy - 3 : cy + 4), markup: "n/a", size: Style.tickSize,
                        anchor: "middle", extra: " fill=\"#222222\" class=\"cell-value\""))
                    if cell.diverged > 0 {
                        doc.add(SVGRenderer.text(
                            x: cx, y: cy + 10, markup: divNote, size: 8.5, anchor: "middle",
                            extra: " fill=\"#222222\" class=\"cell-note\""))
                    }
                }
            }
        }
        doc.add("</g>")

        SVGRenderer.addAxes(
            &doc, plot: plot, xAxis: xAxis, yAxis: yAxis, xTicks: xTicks, yTicks: yTicks,
            xLabel: "batch size", yLabel: "learning rate η", yTickWidth: yTickWidth)

        // Colour bar.
        doc.add("<g class=\"colorbar\">")
        SVGRenderer.addColorBar(&doc, plot: plot, barX: barX, barWidth: barWidth, labels: barLabels, valueLabelX: valueLabelX,
                                valueLabel: "test accuracy (%)")
        doc.add("</g>")

        // Note explaining the marks.
        doc.add("<g class=\"note\">")
        doc.add(
            "<rect x=\"\(fmt(plot.x))\" y=\"\(fmt(noteY - 9))\" width=\"12\" height=\"10\" fill=\"\(divergedColor)\" stroke=\"#000000\" stroke-width=\"0.6\"/>"
        )
        doc.add(SVGRenderer.text(
            x: plot.x + 18, y: noteY, markup: escape(note), size: Style.tickSize, anchor: "start",
            extra: " fill=\"#333333\""))
        doc.add("</g>")
        return doc.render()
    }
}

// MARK: - Aggregation

extension GridMetric {
    /// Name used in messages and subtitles.
    var displayName: String {
        switch self {
        case .testAccuracy: return "test accuracy"
        case .lambdaMax: return "λmax"
        }
    }

    var axisLabel: String {
        switch self {
        case .testAccuracy: return "test accuracy (%)"
        case .lambdaMax: return "λmax (top Hessian eigenvalue)"
        }
    }
}

private typealias Style = SVGRenderer.Style
private typealias Rect = SVGRenderer.Rect
private typealias Axis = SVGRenderer.Axis
private typealias Tick = SVGRenderer.Tick
private typealias Document = SVGRenderer.Document

private func fmt(_ v: Double, digits: Int = 2) -> String { SVGRenderer.fmt(v, digits: digits) }
private func escape(_ s: String) -> String { SVGRenderer.escape(s) }
private func textWidth(_ chars: Int, size: Double) -> Double { SVGRenderer.textWidth(chars, size: size) }

/// A (batch size, learning rate) cell key; the learning rate by bit pattern.
private struct GridKey: Hashable {
    var batchSize: Int
    var learningRateBits: UInt64
    init(_ batchSize: Int, _ learningRate: Double) {
        self.batchSize = batchSize
        self.learningRateBits = learningRate.bitPattern
    }
}

/// Runs of one (batch size, learning rate): counts and the mean of the metric.
private struct GridCell {
    var runs = 0
    var diverged = 0
    /// Runs that contributed a value to `mean`.
    var values = 0
    var sum = 0.0
    var mean: Double? { values > 0 ? sum / Double(values) : nil }
    var allDiverged: Bool { runs > 0 && diverged == runs }
}

/// Runs grouped by (batch size, learning rate), summed in seed order.
private struct GridSummary {
    var batchSizes: [Int]
    var learningRates: [Double]
    var cells: [GridKey: GridCell] = [:]
    var hasValues: Bool { cells.values.contains { $0.mean != nil } }

    init(_ runs: [GridRun], metric: GridMetric) {
        batchSizes = Array(Set(runs.map(\.batchSize))).sorted()
        learningRates = Array(Set(runs.map(\.learningRate))).sorted()
        let ordered = runs.sorted {
            ($0.batchSize, $0.learningRate, $0.seed) < ($1.batchSize, $1.learningRate, $1.seed)
        }
        for run in ordered {
            let key = GridKey(run.batchSize, run.learningRate)
            var cell = cells[key] ?? GridCell()
            cell.runs += 1
            if run.diverged {
                cell.diverged += 1
            } else if let v = metric == .testAccuracy ? run.testAccuracy : run.lambdaMax {
                cell.values += 1
                cell.sum += v
            }
            cells[key] = cell
        }
    }
}

/// One level of one lottery branch; `mean` and `sd` in percent.
private struct LotteryLevel {
    var level: Int
    var density: Double
    var mean: Double
    var sd: Double
    var seeds: Int
}

private struct LotterySeries {
    var name: String
    var colourIndex: Int
    var levels: [LotteryLevel]
}

extension RunFigures {
    private static func sortedPoints(_ points: [LotteryPoint]) -> [LotteryPoint] {
        points.sorted { ($0.branch, $0.level, $0.seed) < ($1.branch, $1.level, $1.seed) }
    }

    private static func validate(_ points: [LotteryPoint]) throws(RunFigureError) {
        struct Key: Hashable { var branch: String, seed: UInt64, level: Int }
        var seen: [Key: Int] = [:]
        for (index, p) in points.enumerated() {
            if p.branch.isEmpty { throw .invalidPoint(index: index, reason: "has an empty branch name") }
            if p.level < 0 { throw .invalidPoint(index: index, reason: "has level \(p.level); levels start at 0 (dense)") }
            if !(p.density.isFinite && p.density > 0 && p.density <= 1) {
                throw .invalidPoint(
                    index: index,
                    reason: "has density \(p.density); pass the fraction of weights remaining, in (0, 1]")
            }
            if !(p.testAccuracy.isFinite && p.testAccuracy >= 0 && p.testAccuracy <= 1) {
                throw .invalidPoint(
                    index: index,
                    reason: "has test accuracy \(p.testAccuracy); pass a fraction in [0, 1] (0.871, not 87.1)")
            }
            let key = Key(branch: p.branch, seed: p.seed, level: p.level)
            if let previous = seen[key] {
                throw .duplicatePoint(index: index, previous: previous, branch: p.branch, seed: p.seed, level: p.level)
            }
            seen[key] = index
        }
    }

    private static func validate(_ runs: [GridRun]) throws(RunFigureError) {
        var seen: [GridKeyWithSeed: Int] = [:]
        for (index, r) in runs.enumerated() {
            if r.batchSize <= 0 {
                throw .invalidRun(index: index, reason: "has batch size \(r.batchSize); batch sizes must be positive")
            }
            if !(r.learningRate.isFinite && r.learningRate > 0) {
                throw .invalidRun(
                    index: index, reason: "has learning rate \(r.learningRate); learning rates must be finite and positive")
            }
            if !r.diverged {
                if let a = r.testAccuracy, !(a.isFinite && a >= 0 && a <= 1) {
                    throw .invalidRun(
                        index: index,
                        reason: "has test accuracy \(a) but is not marked diverged; pass a fraction in [0, 1] (0.871, not 87.1), or mark the run diverged")
                }
                if let l = r.lambdaMax, !l.isFinite {
                    throw .invalidRun(
                        index: index, reason: "has λmax \(l) but is not marked diverged; mark the run diverged or pass nil")
                }
            }
            let key = GridKeyWithSeed(cell: GridKey(r.batchSize, r.learningRate), seed: r.seed)
            if let previous = seen[key] {
                throw .duplicateRun(
                    index: index, previous: previous, batchSize: r.batchSize, learningRate: r.learningRate, seed: r.seed)
            }
            seen[key] = index
        }
    }

    /// Series in legend order: known branches first, then the others sorted.
    private static func lotterySeries(_ points: [LotteryPoint]) -> [LotterySeries] {
        var grouped: [String: [Int: [LotteryPoint]]] = [:]
        for p in sortedPoints(points) { grouped[p.branch, default: [:]][p.level, default: []].append(p) }
        let others = grouped.keys.filter { !knownBranches.contains($0) }.sorted()
        var named: [(name: String, colourIndex: Int)] = knownBranches.enumerated()
            .filter { grouped[$0.element] != nil }.map { (name: $0.element, colourIndex: $0.offset) }
        named += others.enumerated().map { (name: $0.element, colourIndex: knownBranches.count + $0.offset) }
        return named.map { name, colourIndex in
            let levels = grouped[name]!.keys.sorted().map { level -> LotteryLevel in
                let group = grouped[name]![level]!
                let n = Double(group.count)
                let density = group.reduce(0) { $0 + $1.density } / n
                let accuracies = group.map { $0.testAccuracy * 100 }
                let mean = accuracies.reduce(0, +) / n
                let sd = group.count > 1
                    ? (accuracies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
                    : 0
                return LotteryLevel(level: level, density: density, mean: mean, sd: sd, seeds: group.count)
            }
            return LotterySeries(name: name, colourIndex: colourIndex, levels: levels)
        }
    }
}

private struct GridKeyWithSeed: Hashable {
    var cell: GridKey
    var seed: UInt64
}

// MARK: - Drawing helpers

/// A legend row: a sample (line with dot, shaded band, ✕ or dashed threshold) and a label.
private struct LegendEntry {
    enum Kind {
        case line(colour: String, dashed: Bool)
        case band
        case cross
        case threshold
    }
    var label: String
    var kind: Kind
}

/// Geometry of a line figure with a legend on the right (as in ``SVGRenderer/curves``).
private struct LineLayout {
    var plot: Rect
    var width: Double
    var height: Double
    var yTickWidth: Double

    init(yTicks: [Tick], legend: [LegendEntry]) {
        yTickWidth = yTicks.map { textWidth($0.chars, size: Style.tickSize) }.max() ?? 0
        let legendWidth = legend.isEmpty
            ? 0 : 16 + 24 + 6 + (legend.map { textWidth($0.label.count, size: Style.tickSize) }.max() ?? 0)
        let plotLeft = (16 + Style.labelSize + 12 + yTickWidth + 8).rounded()
        plot = Rect(x: plotLeft, y: 68, width: 500, height: 340)
        width = (plot.right + max(24, legendWidth + 16)).rounded()
        height = (plot.bottom + 58).rounded()
    }
}

extension RunFigures {
    private static func colour(_ index: Int) -> String { Style.palette[index % Style.palette.count] }

    /// `[lo, hi]` widened by 5 % of the span at both ends, or by `flatPad(lo)` when flat.
    private static func widened(_ lo: Double, _ hi: Double, flatPad: (Double) -> Double) -> (Double, Double) {
        if hi == lo {
            let pad = flatPad(lo)
            return (lo - pad, hi + pad)
        }
        let pad = 0.05 * (hi - lo)
        return (lo - pad, hi + pad)
    }

    /// `"n = 3"` or `"n = 2–3"`.
    private static func countRange(_ lo: Int, _ hi: Int) -> String {
        lo == hi ? "n = \(lo)" : "n = \(lo)–\(hi)"
    }

    /// A density fraction in percent: one decimal (trailing `.0` dropped), two significant
    /// digits below 1 %.
    static func percentLabel(_ density: Double) -> String {
        let p = density * 100
        if p >= 1 { return fmt(p, digits: 1) }
        return SVGRenderer.display(String(format: "%.2g", p))
    }

    /// `%.3g` labels, with more digits when needed to keep distinct values apart.
    static func distinctLabels(_ values: [Double]) -> [String] {
        for digits in 3...17 {
            let labels = values.map { v -> String in
                let s = String(format: "%.\(digits)g", v)
                return SVGRenderer.display(s == "-0" ? "0" : s)
            }
            if Set(labels).count == Set(values).count { return labels }
        }
        return values.map { SVGRenderer.display("\($0)") }
    }

    /// Ticks at the given axis values; labels that would overlap the previous labelled one
    /// (scanning left to right, 8 px apart) are dropped and returned as minor positions.
    private static func thinnedTicks(
        _ candidates: [(value: Double, label: String)], axis: Axis
    ) -> (major: [Tick], minor: [Double]) {
        let sorted = candidates.sorted { axis.map($0.value) < axis.map($1.value) }
        var major: [Tick] = [], minor: [Double] = []
        var lastRight = -Double.infinity, lastPixel = -Double.infinity
        for c in sorted {
            let px = axis.map(c.value)
            if px - lastPixel < 0.5 { continue }  // same position as the previous tick
            lastPixel = px
            let halfWidth = textWidth(c.label.count, size: Style.tickSize) / 2
            if px - halfWidth >= lastRight + 8 {
                major.append(Tick(value: c.value, markup: escape(c.label), chars: c.label.count))
                lastRight = px + halfWidth
            } else {
                minor.append(c.value)
            }
        }
        return (major, minor)
    }

    /// Short unlabelled ticks under the plot at `values`.
    private static func addMinorXTicks(_ doc: inout Document, plot: Rect, xAxis: Axis, values: [Double]) {
        guard !values.isEmpty else { return }
        doc.add("<g class=\"minor-ticks\" stroke=\"#000000\" stroke-width=\"0.7\">")
        for v in values {
            let px = xAxis.map(v)
            doc.add("<line x1=\"\(fmt(px))\" y1=\"\(fmt(plot.bottom))\" x2=\"\(fmt(px))\" y2=\"\(fmt(plot.bottom + 3))\"/>")
        }
        doc.add("</g>")
    }

    /// SVG path of a ✕ of half-size `r` centred at `(x, y)`.
    private static func cross(_ x: Double, _ y: Double, _ r: Double) -> String {
        "M\(fmt(x - r)),\(fmt(y - r))L\(fmt(x + r)),\(fmt(y + r))M\(fmt(x - r)),\(fmt(y + r))L\(fmt(x + r)),\(fmt(y - r))"
    }

    /// Legend to the right of the plot, one row per entry, 20 px apart.
    private static func addLegend(_ doc: inout Document, plot: Rect, entries: [LegendEntry]) {
        guard !entries.isEmpty else { return }
        doc.add("<g class=\"legend\">")
        let lx = plot.right + 16
        for (index, entry) in entries.enumerated() {
            let ly = plot.y + 10 + Double(index) * 20
            switch entry.kind {
            case .line(let c, let dashed):
                let dash = dashed ? " stroke-dasharray=\"6 3\"" : ""
                doc.add(
                    "<line x1=\"\(fmt(lx))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(lx + 24))\" y2=\"\(fmt(ly))\" stroke=\"\(c)\" stroke-width=\"2.2\"\(dash)/>"
                )
                doc.add("<circle cx=\"\(fmt(lx + 12))\" cy=\"\(fmt(ly))\" r=\"2.8\" fill=\"\(c)\"/>")
            case .band:
                doc.add(
                    "<rect x=\"\(fmt(lx))\" y=\"\(fmt(ly - 6))\" width=\"24\" height=\"12\" fill=\"#555555\" fill-opacity=\"0.18\"/>"
                )
            case .cross:
                doc.add(
                    "<path d=\"\(cross(lx + 12, ly, 4.5))\" fill=\"none\" stroke=\"#555555\" stroke-width=\"2\" stroke-linecap=\"round\"/>"
                )
            case .threshold:
                doc.add(
                    "<line x1=\"\(fmt(lx))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(lx + 24))\" y2=\"\(fmt(ly))\" stroke=\"#555555\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
                )
            }
            doc.add(SVGRenderer.text(
                x: lx + 30, y: ly + Style.tickSize * 0.35, markup: escape(entry.label), size: Style.tickSize,
                anchor: "start", extra: " class=\"legend-label\""))
        }
        doc.add("</g>")
    }
}
