import Foundation

extension RunFigures {
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
        try GridRun.validate(runs)
        let grid = GridSummary(runs, metric: .testAccuracy)
        guard grid.hasValues else {
            throw .nothingToDraw(figure: figureName, metric: GridMetric.testAccuracy.displayName, runs: runs.count,
                                 diverged: runs.filter(\.diverged).count)
        }
        let means = grid.cells.values.compactMap(\.mean).map { $0 * 100 }
        let (lo, hi) = means.min()! == means.max()! ? PlotRange.widened(means.min()!, means.max()!, flatPad: PlotRange.flatPad)
                                                  : (means.min()!, means.max()!)
        let layout = GridHeatmapLayout(grid, title: title, lo: lo, hi: hi)
        var fig = Figure(width: layout.width, height: layout.height, title: title, plot: layout.plot,
                         xRange: (0, Double(grid.batchSizes.count)), yRange: (0, Double(grid.learningRates.count)))
        fig.viridisGradient()
        fig.titles(title, layout.subtitle, centreX: layout.titleCentre)
        fig.add("<g class=\"cells\" stroke=\"none\">")
        for (j, lr) in grid.learningRates.enumerated() {
            for (i, bs) in grid.batchSizes.enumerated() {
                drawCell(&fig, grid.cells[GridKey(bs, lr)], column: i, row: j, layout: layout, lo: lo, hi: hi)
            }
        }
        fig.add("</g>")
        fig.axes(xTicks: Ticks.categorical(grid.batchSizes.map { String($0) }), yTicks: Ticks.categorical(layout.rowLabels),
                 xLabel: "batch size", yLabel: "learning rate η", yTickWidth: layout.yTickWidth)
        fig.add("<g class=\"colorbar\">")
        fig.colorBar(barX: layout.barX, barWidth: layout.barWidth, labels: layout.barLabels, valueLabelX: layout.valueLabelX,
                     valueLabel: "test accuracy (%)")
        fig.add("</g>")
        // Note explaining the marks.
        fig.add("<g class=\"note\">")
        fig.add("<rect x=\"\(SVGText.fmt(fig.plot.x))\" y=\"\(SVGText.fmt(layout.noteY - 9))\" width=\"12\" height=\"10\" fill=\"\(divergedColor)\" stroke=\"#000000\" stroke-width=\"0.6\"/>")
        fig.text(GridHeatmapLayout.note, x: fig.plot.x + 18, y: layout.noteY, anchor: "start", extra: " fill=\"#333333\"")
        fig.add("</g>")
        return fig.render()
    }

    /// One cell: coloured by its mean with the value printed, grey with ✕ when every seed
    /// diverged, light grey `n/a` without a value, white when no run has that combination.
    private static func drawCell(_ fig: inout Figure, _ cell: GridCell?, column i: Int, row j: Int, layout: GridHeatmapLayout, lo: Double, hi: Double) {
        let f = SVGText.px
        let left = fig.plot.x + Double(i) * layout.cellWidth, top = fig.plot.bottom - Double(j + 1) * layout.cellHeight
        let cx = left + layout.cellWidth / 2, cy = top + layout.cellHeight / 2
        func rect(_ cls: String, _ fill: String) {
            fig.add("<rect class=\"\(cls)\" x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(layout.cellWidth))\" height=\"\(f(layout.cellHeight))\" fill=\"\(fill)\" stroke=\"#ffffff\" stroke-width=\"1\"/>")
        }
        func label(_ text: String, dy: Double, size: Double = PlotStyle.tickSize, ink: String, note: Bool = false) {
            fig.add(SVGText.text(x: cx, y: cy + dy, markup: text, size: size, anchor: "middle",
                                 extra: " fill=\"\(ink)\" class=\"\(note ? "cell-note" : "cell-value")\""))
        }
        guard let cell else { return rect("cell empty", "#ffffff") }
        let divNote = "\(cell.diverged)/\(cell.runs) div"
        if let m = cell.mean {
            let t = (m * 100 - lo) / (hi - lo)
            let rgb = ColorMap.viridis.color(t)
            let luminance = 0.2126 * Double(rgb.r) + 0.7152 * Double(rgb.g) + 0.0722 * Double(rgb.b)
            let ink = luminance > 140 ? "#000000" : "#ffffff"
            let partial = cell.diverged > 0
            rect(partial ? "cell partial" : "cell", ColorMap.viridis.hex(t))
            label(String(format: "%.1f", m * 100), dy: partial ? -3 : 4, ink: ink)
            if partial { label(divNote, dy: 10, size: 8.5, ink: ink, note: true) }
        } else if cell.allDiverged {
            rect("cell diverged", divergedColor)
            label("✕", dy: 1, size: 13, ink: "#222222")
            label(divNote, dy: 12, size: 8.5, ink: "#222222", note: true)
        } else {
            rect("cell missing", SVGRenderer.missingColor)
            label("n/a", dy: cell.diverged > 0 ? -3 : 4, ink: "#222222")
            if cell.diverged > 0 { label(divNote, dy: 10, size: 8.5, ink: "#222222", note: true) }
        }
    }
}

/// Where the parts of a batch-size × learning-rate heatmap go: equal cells (46–90 × 34–60 px)
/// sized for the grid, the colour bar to the right, the note underneath, and a figure wide
/// enough for its title.
private struct GridHeatmapLayout {
    static let note = "✕ every seed diverged · k/n div: k of n seeds diverged, mean of the others"
    let rowLabels: [String]
    let yTickWidth: Double
    let barLabels: [String]
    let cellWidth: Double, cellHeight: Double
    let plot: PlotRect
    let barX: Double, barWidth = 14.0
    let valueLabelX: Double
    let noteY: Double
    let subtitle: String
    let titleCentre: Double
    let width: Double, height: Double

    init(_ grid: GridSummary, title: String, lo: Double, hi: Double) {
        let nx = grid.batchSizes.count, ny = grid.learningRates.count
        rowLabels = RunFigures.distinctLabels(grid.learningRates)
        yTickWidth = rowLabels.map { SVGText.textWidth($0.count, size: PlotStyle.tickSize) }.max() ?? 0
        barLabels = (0...4).map { lo + Double($0) * (hi - lo) / 4 }.map { SVGText.display(SVGText.significant($0)) }
        let barLabelWidth = barLabels.map { SVGText.textWidth($0.count, size: PlotStyle.tickSize) }.max() ?? 0
        cellWidth = min(90, max(46, (480 / Double(nx)).rounded()))
        cellHeight = min(60, max(34, (360 / Double(ny)).rounded()))
        let plotLeft = (16 + PlotStyle.labelSize + 12 + yTickWidth + 8).rounded()
        plot = PlotRect(x: plotLeft, y: 68, width: cellWidth * Double(nx), height: cellHeight * Double(ny))
        barX = plot.right + 20
        valueLabelX = barX + barWidth + 8 + barLabelWidth + 14 + PlotStyle.labelSize / 2
        noteY = plot.bottom + 66
        let noteRight = plot.x + 18 + SVGText.textWidth(Self.note.count, size: PlotStyle.tickSize)
        let seeds = grid.seedCounts
        subtitle = "mean test accuracy (%) over seeds (\(RunFigures.countRange(seeds.min()!, seeds.max()!))); diverged runs excluded"
        // Titles wider than a small grid widen the figure and are centred in it.
        let titleHalf = max(SVGText.textWidth(title.count, size: PlotStyle.titleSize) * 1.1, SVGText.textWidth(subtitle.count, size: PlotStyle.subtitleSize)) / 2 + 16
        titleCentre = max(plot.x + plot.width / 2, titleHalf)
        width = (max(valueLabelX + PlotStyle.labelSize / 2 + 14, noteRight + 16, titleCentre + titleHalf)).rounded()
        height = (noteY + 16).rounded()
    }
}
