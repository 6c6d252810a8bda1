import Foundation
import TerrainExport
import XCTest

final class RunFiguresTests: XCTestCase {
    // MARK: Helpers

    /// The plot frame: the first `<rect>` inside `<g class="axes">`.
    private func frame(_ doc: ParsedSVG, file: StaticString = #filePath, line: UInt = #line)
        -> (x: Double, y: Double, width: Double, height: Double)
    {
        guard let rect = doc.elements(named: "rect").first(where: { $0.ancestorClasses.contains("axes") }) else {
            XCTFail("no frame rect in the axes group", file: file, line: line)
            return (0, 0, 1, 1)
        }
        func value(_ key: String) -> Double { Double(rect.attributes[key] ?? "") ?? .nan }
        return (value("x"), value("y"), value("width"), value("height"))
    }

    private func number(_ element: ParsedSVG.Element?, _ key: String) -> Double {
        Double(element?.attributes[key] ?? "") ?? .nan
    }

    /// `"x1,y1 x2,y2 …"` as pairs.
    private func pointList(_ element: ParsedSVG.Element?) -> [(x: Double, y: Double)] {
        (element?.attributes["points"] ?? "").split(separator: " ").map { pair in
            let c = pair.split(separator: ",").map { Double($0) ?? .nan }
            return (c[0], c[1])
        }
    }

    private func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }

    /// Sample standard deviation (denominator n − 1).
    private func sampleSD(_ v: [Double]) -> Double {
        let m = mean(v)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
    }

    /// `[lo, hi]` widened by 5 % of the span at both ends (the documented rule for a non-flat range).
    private func widened(_ lo: Double, _ hi: Double) -> (Double, Double) {
        let pad = 0.05 * (hi - lo)
        return (lo - pad, hi + pad)
    }

    /// Texts inside the axes group (tick and axis labels) with their x and y.
    private func axisTexts(_ doc: ParsedSVG) -> [(text: String, x: Double, y: Double)] {
        doc.elements(named: "text").filter { $0.ancestorClasses.contains("axes") }
            .map { ($0.text, number($0, "x"), number($0, "y")) }
    }

    /// Tick labels under the plot (x axis), left to right.
    private func xTickLabels(_ doc: ParsedSVG) -> [(text: String, x: Double)] {
        let bottom = frame(doc).y + frame(doc).height
        return doc.elements(named: "text")
            .filter { $0.ancestorClasses.contains("axes") && !$0.classes.contains("xlabel") && number($0, "y") > bottom + 10 }
            .map { ($0.text, number($0, "x")) }
            .sorted { $0.x < $1.x }
    }

    private func legendTexts(_ doc: ParsedSVG) -> [String] {
        doc.elements(named: "text").filter { $0.ancestorClasses.contains("legend") }.map(\.text)
    }

    private func lottery(levels: Int, fraction: Double = 0.2, branches: [String], seeds: [UInt64]) -> [LotteryPoint] {
        var points: [LotteryPoint] = []
        for (b, branch) in branches.enumerated() {
            for seed in seeds {
                for level in 0..<levels {
                    let density = pow(1 - fraction, Double(level))
                    let accuracy = 0.9 - 0.01 * Double(level) - 0.02 * Double(b) + 0.003 * Double(seed)
                    points.append(LotteryPoint(branch: branch, seed: seed, level: level, density: density,
                                               testAccuracy: accuracy))
                }
            }
        }
        return points
    }

    // MARK: Lottery tickets

    func testLotteryLegendNamesEveryBranchInTheDocumentedOrderWithDistinctColours() throws {
        let points = lottery(levels: 5, branches: ["zeta_control", "random_prune", "main", "random_reinit"],
                             seeds: [1, 2])
        let svg = try RunFigures.lotteryAccuracy(points, title: "LeNet-300-100 lottery tickets")
        let doc = parseSVG(svg)
        XCTAssertEqual(legendTexts(doc).prefix(4), ["main", "random_reinit", "random_prune", "zeta_control"])
        XCTAssertEqual(legendTexts(doc).last, "±1 s.d. over seeds")
        XCTAssertTrue(doc.texts().contains("LeNet-300-100 lottery tickets"))
        XCTAssertTrue(doc.texts().contains("test accuracy (%)"))
        // One line, one band and five level dots per branch, each branch in its own colour.
        var strokes: Set<String> = []
        for k in 0..<4 {
            let line = doc.elements(withClass: "series-\(k)").filter { $0.name == "polyline" }
            XCTAssertEqual(line.count, 1, "branch \(k)")
            strokes.insert(line.first?.attributes["stroke"] ?? "")
            XCTAssertEqual(doc.elements(withClass: "series-\(k)").filter { $0.classes.contains("mean") }.count, 5)
            XCTAssertEqual(doc.elements(withClass: "series-\(k)").filter { $0.classes.contains("band") }.count, 1)
        }
        XCTAssertEqual(strokes.count, 4)
        // random_prune keeps its colour when it is the only branch.
        let pruneColour = doc.elements(withClass: "series-2").first { $0.name == "polyline" }?.attributes["stroke"]
        let alone = parseSVG(try RunFigures.lotteryAccuracy(
            lottery(levels: 3, branches: ["random_prune"], seeds: [1]), title: "t"))
        XCTAssertEqual(legendTexts(alone), ["random_prune"])
        XCTAssertEqual(alone.elements(withClass: "series-0").first?.attributes["stroke"], pruneColour)
    }

    func testLotteryMeanAndSampleSDBandSitAtTheDocumentedPixelPositions() throws {
        // Three seeds; densities of one level differ by a weight between seeds.
        let accuracies: [[Double]] = [[0.90, 0.92, 0.97], [0.91, 0.95, 0.93], [0.88, 0.86, 0.80]]
        let densities: [[Double]] = [[1, 1, 1], [0.8, 0.8001, 0.7999], [0.64, 0.6402, 0.64]]
        var points: [LotteryPoint] = []
        for level in 0..<3 {
            for s in 0..<3 {
                points.append(LotteryPoint(branch: "main", seed: UInt64(s + 10), level: level,
                                           density: densities[level][s], testAccuracy: accuracies[level][s]))
            }
        }
        let doc = parseSVG(try RunFigures.lotteryAccuracy(points.reversed(), title: "positions"))
        let f = frame(doc)

        let means = accuracies.map { mean($0.map { $0 * 100 }) }
        let sds = accuracies.map { sampleSD($0.map { $0 * 100 }) }
        XCTAssertEqual(sds[0], 13.0.squareRoot(), accuracy: 1e-9, "sample s.d. of 90, 92, 97 is √13")
        let xs = densities.map { log10(mean($0)) }
        let (xLo, xHi) = widened(xs.min()!, xs.max()!)
        let (yLo, yHi) = widened(zip(means, sds).map { $0 - $1 }.min()!, zip(means, sds).map { $0 + $1 }.max()!)
        func px(_ logDensity: Double) -> Double { f.x + (xHi - logDensity) / (xHi - xLo) * f.width }
        func py(_ percent: Double) -> Double { f.y + f.height * (yHi - percent) / (yHi - yLo) }

        let dots = doc.elements(withClass: "mean")
        XCTAssertEqual(dots.count, 3)
        for level in 0..<3 {
            XCTAssertEqual(number(dots[level], "cx"), px(xs[level]), accuracy: 0.011, "level \(level) x")
            XCTAssertEqual(number(dots[level], "cy"), py(means[level]), accuracy: 0.011, "level \(level) y")
        }
        let band = pointList(doc.elements(withClass: "band").first)
        XCTAssertEqual(band.count, 6, "upper edge left to right, then lower edge back")
        for level in 0..<3 {
            let upper = band[level], lower = band[5 - level]
            XCTAssertEqual(upper.x, px(xs[level]), accuracy: 0.011)
            XCTAssertEqual(lower.x, px(xs[level]), accuracy: 0.011)
            XCTAssertEqual(upper.y, py(means[level] + sds[level]), accuracy: 0.011, "level \(level) upper")
            XCTAssertEqual(lower.y, py(means[level] - sds[level]), accuracy: 0.011, "level \(level) lower")
        }
        XCTAssertTrue(doc.texts().contains { $0.contains("n = 3") }, "subtitle states the seed count")
    }

    func testLotteryDensityAxisIsLogarithmicWithHighDensityOnTheLeft() throws {
        let doc = parseSVG(try RunFigures.lotteryAccuracy(
            lottery(levels: 10, branches: ["main"], seeds: [1, 2]), title: "axis"))
        let dots = doc.elements(withClass: "mean").map { number($0, "cx") }
        XCTAssertEqual(dots.count, 10)
        // Level order = decreasing density = increasing x, and equal ratios give equal steps.
        for k in 1..<dots.count {
            XCTAssertGreaterThan(dots[k], dots[k - 1])
            XCTAssertEqual(dots[k] - dots[k - 1], dots[1] - dots[0], accuracy: 0.02)
        }
        let labels = xTickLabels(doc)
        let expected = ["100", "80", "64", "51.2", "41", "32.8", "26.2", "21", "16.8", "13.4"]
        let positions = expected.map { label in labels.first { $0.text == label }?.x ?? .nan }
        XCTAssertFalse(positions.contains { $0.isNaN }, "tick labels \(labels.map(\.text))")
        for k in 0..<expected.count {
            XCTAssertEqual(positions[k], dots[k], accuracy: 0.011, "tick \(expected[k]) sits at level \(k)")
        }

        // 25 levels do not all fit: labels are thinned, never overlap, and the rest stay as minor ticks.
        let dense = parseSVG(try RunFigures.lotteryAccuracy(
            lottery(levels: 25, branches: ["main"], seeds: [1]), title: "many"))
        let tickLabels = xTickLabels(dense)
        XCTAssertLessThan(tickLabels.count, 25)
        XCTAssertGreaterThanOrEqual(tickLabels.count, 5)
        XCTAssertEqual(tickLabels.first?.text, "100")
        for k in 1..<tickLabels.count {
            let gap = tickLabels[k].x - tickLabels[k - 1].x
            let halfWidths = Double(tickLabels[k].text.count + tickLabels[k - 1].text.count) * 11 * 0.6 / 2
            XCTAssertGreaterThanOrEqual(gap, halfWidths + 8)
        }
        let minor = dense.elements(named: "line").filter { $0.ancestorClasses.contains("minor-ticks") }
        XCTAssertEqual(minor.count + tickLabels.count, 25)
    }

    func testLotterySingleSeedDrawsNoBand() throws {
        let doc = parseSVG(try RunFigures.lotteryAccuracy(
            lottery(levels: 4, branches: ["main", "random_reinit"], seeds: [7]), title: "one seed"))
        XCTAssertTrue(doc.elements(withClass: "band").isEmpty)
        XCTAssertFalse(legendTexts(doc).contains("±1 s.d. over seeds"))
        XCTAssertTrue(doc.texts().contains("one seed per level (no spread shown)"))
        XCTAssertEqual(doc.elements(withClass: "mean").count, 8)
    }

    func testLotteryRejectsEmptyInvalidAndDuplicatePoints() {
        XCTAssertThrowsError(try RunFigures.lotteryAccuracy([], title: "t")) { error in
            XCTAssertEqual(error as? RunFigureError, .noPoints)
        }
        let good = LotteryPoint(branch: "main", seed: 1, level: 0, density: 1, testAccuracy: 0.9)
        let percent = LotteryPoint(branch: "main", seed: 2, level: 0, density: 1, testAccuracy: 90)
        XCTAssertThrowsError(try RunFigures.lotteryAccuracy([good, percent], title: "t")) { error in
            guard case .invalidPoint(let index, let reason)? = error as? RunFigureError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(index, 1)
            XCTAssertTrue(reason.contains("0.871, not 87.1"), reason)
            XCTAssertTrue("\(error)".hasPrefix("lottery accuracy figure: points[1]"))
        }
        for bad in [0.0, 1.5, .nan] {
            let p = LotteryPoint(branch: "main", seed: 2, level: 1, density: bad, testAccuracy: 0.9)
            XCTAssertThrowsError(try RunFigures.lotteryAccuracy([good, p], title: "t")) { error in
                guard case .invalidPoint(1, _)? = error as? RunFigureError else { return XCTFail("\(error)") }
            }
        }
        XCTAssertThrowsError(try RunFigures.lotteryAccuracy([good, good], title: "t")) { error in
            XCTAssertEqual(
                error as? RunFigureError, .duplicatePoint(index: 1, previous: 0, branch: "main", seed: 1, level: 0))
        }
    }

    // MARK: Batch-size curves

    /// Two learning rates × four batch sizes × two seeds. lr 0.4: seed 1 diverged at batch 32
    /// (the mean is seed 2 alone), every seed diverged at batch 128.
    private func sweep() -> [GridRun] {
        var runs: [GridRun] = []
        for lr in [0.1, 0.4] {
            for bs in [32, 64, 128, 256] {
                for seed: UInt64 in [1, 2] {
                    let base = lr == 0.1 ? 0.9 : 0.8
                    let accuracy = base - 0.02 * log2(Double(bs) / 32) + (seed == 1 ? 0.01 : -0.01)
                    let diverged = lr == 0.4 && (bs == 128 || (bs == 32 && seed == 1))
                    runs.append(GridRun(
                        batchSize: bs, learningRate: lr, seed: seed, diverged: diverged,
                        testAccuracy: diverged ? nil : accuracy, lambdaMax: diverged ? nil : 2 / lr * 0.9))
                }
            }
        }
        return runs
    }

    func testBatchSizeCurvesAverageSurvivingSeedsAndMarkAllDivergedBatchSizes() throws {
        let runs = sweep()
        let doc = parseSVG(try RunFigures.batchSizeCurves(runs, metric: .testAccuracy, title: "batch size"))
        XCTAssertEqual(legendTexts(doc), ["lr = 0.1", "lr = 0.4", "diverged (every seed)"])
        let lr01 = doc.elements(withClass: "series-0").filter { $0.classes.contains("mean") }
        let lr04 = doc.elements(withClass: "series-1").filter { $0.classes.contains("mean") }
        XCTAssertEqual(lr01.count, 4)
        XCTAssertEqual(lr04.count, 3, "batch 128 has no mean")
        // log2 x axis: batch sizes 32…256 are equally spaced and increase to the right.
        let xs = lr01.map { number($0, "cx") }
        for k in 1..<4 { XCTAssertEqual(xs[k] - xs[k - 1], xs[1] - xs[0], accuracy: 0.02) }
        XCTAssertGreaterThan(xs[1], xs[0])

        // One ✕, in lr 0.4's colour, above batch 128, inside the top strip of the plot.
        let crosses = doc.elements(withClass: "diverged")
        XCTAssertEqual(crosses.count, 1)
        XCTAssertTrue(crosses[0].classes.contains("series-1"))
        XCTAssertEqual(crosses[0].attributes["stroke"], lr04.first?.attributes["fill"])
        let f = frame(doc)
        let d = crosses[0].attributes["d"] ?? ""
        let numbers = d.split(whereSeparator: { "ML,".contains($0) }).compactMap { Double($0) }
        XCTAssertEqual((numbers[0] + numbers[2]) / 2, xs[2], accuracy: 0.011, "centred on batch 128")
        XCTAssertEqual((numbers[1] + numbers[3]) / 2, f.y + 10, accuracy: 0.011)

        // The line of lr 0.4 breaks at batch 128: a two-point piece (32, 64) and a lone dot at 256.
        let pieces = doc.elements(withClass: "series-1").filter { $0.name == "polyline" }
        XCTAssertEqual(pieces.map { pointList($0).count }, [2])

        // y mapping: means in percent, widened by 5 %, onto [bottom, top + strip] with a 20 px strip.
        var values: [Double] = []
        for lr in [0.1, 0.4] {
            for bs in [32, 64, 128, 256] {
                let ok = runs.filter { $0.learningRate == lr && $0.batchSize == bs && !$0.diverged }
                if !ok.isEmpty { values.append(mean(ok.map { $0.testAccuracy! * 100 })) }
            }
        }
        let (lo, hi) = widened(values.min()!, values.max()!)
        let strip = 6.0 + 14
        func py(_ v: Double) -> Double { f.y + f.height - (v - lo) / (hi - lo) * (f.height - strip) }
        // lr 0.4 at batch 32: only seed 2 (0.8 − 0.01) counts.
        XCTAssertEqual(number(lr04[0], "cy"), py(79), accuracy: 0.011)
        // lr 0.1 at batch 64: mean of 0.89 and 0.87.
        XCTAssertEqual(number(lr01[1], "cy"), py(88), accuracy: 0.011)
        XCTAssertTrue(doc.texts().contains("mean over seeds (n = 1–2); diverged runs excluded"))
    }

    func testBatchSizeCurvesLambdaMaxDrawsTheEdgeOfStabilityThresholdPerLearningRate() throws {
        let runs = sweep().filter { !$0.diverged }
        let doc = parseSVG(try RunFigures.batchSizeCurves(runs, metric: .lambdaMax, title: "sharpness"))
        let lines = doc.elements(withClass: "threshold")
        XCTAssertEqual(lines.count, 2)
        let labels = doc.elements(withClass: "threshold-label")
        XCTAssertEqual(labels.map(\.text), ["2/η", "2/η"])
        for k in 0..<2 {
            let colour = doc.elements(withClass: "series-\(k)").first { $0.classes.contains("mean") }?.attributes["fill"]
            XCTAssertEqual(lines[k].attributes["stroke"], colour)
            XCTAssertEqual(labels[k].attributes["fill"], colour)
            XCTAssertNotNil(lines[k].attributes["stroke-dasharray"])
        }
        XCTAssertTrue(legendTexts(doc).contains("2/η (edge of stability)"))
        XCTAssertFalse(legendTexts(doc).contains("diverged (every seed)"))
        // Positive values: log10 axis over λmax means (18, 4.5) and thresholds (20, 5).
        let f = frame(doc)
        let (lo, hi) = widened(log10(4.5), log10(20))
        func py(_ v: Double) -> Double { f.y + f.height - (log10(v) - lo) / (hi - lo) * f.height }
        XCTAssertEqual(number(lines[0], "y1"), py(20), accuracy: 0.011, "2/0.1")
        XCTAssertEqual(number(lines[1], "y1"), py(5), accuracy: 0.011, "2/0.4")
        let dots = doc.elements(withClass: "mean")
        XCTAssertEqual(number(dots.first, "cy"), py(18), accuracy: 0.011, "λmax 0.9 · 2/0.1")
        XCTAssertTrue(doc.texts().contains("λmax (top Hessian eigenvalue)"))
    }

    func testBatchSizeCurvesThrowWhenThereIsNothingToDraw() {
        XCTAssertThrowsError(try RunFigures.batchSizeCurves([], metric: .testAccuracy, title: "t")) { error in
            XCTAssertEqual(error as? RunFigureError, .noRuns(figure: "batch-size curves"))
        }
        let diverged = [
            GridRun(batchSize: 32, learningRate: 1, seed: 1, diverged: true),
            GridRun(batchSize: 64, learningRate: 1, seed: 1, diverged: true, testAccuracy: 0.1),
        ]
        XCTAssertThrowsError(try RunFigures.batchSizeCurves(diverged, metric: .testAccuracy, title: "t")) { error in
            XCTAssertEqual(
                error as? RunFigureError,
                .nothingToDraw(figure: "batch-size curves", metric: "test accuracy", runs: 2, diverged: 2))
            XCTAssertTrue("\(error)".contains("all 2 runs diverged"), "\(error)")
        }
        let unmeasured = [GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: 0.9)]
        XCTAssertThrowsError(try RunFigures.batchSizeCurves(unmeasured, metric: .lambdaMax, title: "t")) { error in
            XCTAssertEqual(
                error as? RunFigureError,
                .nothingToDraw(figure: "batch-size curves", metric: "λmax", runs: 1, diverged: 0))
            XCTAssertTrue("\(error)".contains("record λmax"), "\(error)")
        }
        let invalid: [[GridRun]] = [
            [GridRun(batchSize: 0, learningRate: 0.1, seed: 1, testAccuracy: 0.9)],
            [GridRun(batchSize: 32, learningRate: -0.1, seed: 1, testAccuracy: 0.9)],
            [GridRun(batchSize: 32, learningRate: .infinity, seed: 1, testAccuracy: 0.9)],
            [GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: 87.1)],
            [GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: .nan)],
            [GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: 0.9, lambdaMax: .infinity)],
        ]
        for runs in invalid {
            XCTAssertThrowsError(try RunFigures.batchSizeCurves(runs, metric: .testAccuracy, title: "t")) { error in
                guard case .invalidRun(0, _)? = error as? RunFigureError else { return XCTFail("\(error)") }
            }
        }
        // A diverged run's metrics are ignored, even non-finite ones.
        let ignored = [
            GridRun(batchSize: 32, learningRate: 0.1, seed: 1, diverged: true, testAccuracy: .nan),
            GridRun(batchSize: 32, learningRate: 0.1, seed: 2, testAccuracy: 0.9),
        ]
        XCTAssertNoThrow(try RunFigures.batchSizeCurves(ignored, metric: .testAccuracy, title: "t"))
        let twice = [
            GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: 0.9),
            GridRun(batchSize: 64, learningRate: 0.1, seed: 1, testAccuracy: 0.9),
            GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: 0.8),
        ]
        XCTAssertThrowsError(try RunFigures.batchLearningRateHeatmap(twice, title: "t")) { error in
            XCTAssertEqual(
                error as? RunFigureError,
                .duplicateRun(index: 2, previous: 0, batchSize: 32, learningRate: 0.1, seed: 1))
        }
    }

    // MARK: Heatmap

    func testHeatmapColoursValuesAndMarksDivergedCells() throws {
        // 3 batch sizes × 3 learning rates × 2 seeds. lr 1: every seed diverged at batch 128,
        // one of two at batch 64; (batch 32, lr 0.01) has no runs.
        var runs: [GridRun] = []
        for (j, lr) in [0.01, 0.1, 1.0].enumerated() {
            for (i, bs) in [32, 64, 128].enumerated() {
                if bs == 32 && lr == 0.01 { continue }
                for seed: UInt64 in [1, 2] {
                    let diverged = lr == 1 && (bs == 128 || (bs == 64 && seed == 2))
                    let accuracy = 0.70 + 0.05 * Double(i) + 0.08 * Double(j) + (seed == 1 ? 0.001 : -0.001)
                    runs.append(GridRun(batchSize: bs, learningRate: lr, seed: seed, diverged: diverged,
                                        testAccuracy: diverged ? nil : accuracy))
                }
            }
        }
        let svg = try RunFigures.batchLearningRateHeatmap(runs, title: "accuracy grid")
        let doc = parseSVG(svg)
        let cells = doc.elements(withClass: "cell")
        XCTAssertEqual(cells.count, 9)
        XCTAssertEqual(doc.elements(withClass: "diverged").count, 1)
        XCTAssertEqual(doc.elements(withClass: "partial").count, 1)
        XCTAssertEqual(doc.elements(withClass: "empty").count, 1)
        XCTAssertTrue(doc.elements(withClass: "missing").isEmpty)

        // Rows from the bottom (lr 0.01), columns left to right; cell (i, j) at the documented place.
        let f = frame(doc)
        let w = f.width / 3, h = f.height / 3
        for j in 0..<3 {
            for i in 0..<3 {
                let cell = cells[j * 3 + i]
                XCTAssertEqual(number(cell, "x"), f.x + Double(i) * w, accuracy: 0.011)
                XCTAssertEqual(number(cell, "y"), f.y + f.height - Double(j + 1) * h, accuracy: 0.011)
            }
        }
        XCTAssertTrue(cells[0].classes.contains("empty"), "batch 32, lr 0.01")
        XCTAssertTrue(cells[7].classes.contains("partial"), "batch 64, lr 1")
        XCTAssertTrue(cells[8].classes.contains("diverged"), "batch 128, lr 1")
        XCTAssertEqual(cells[8].attributes["fill"], RunFigures.divergedColor)

        // The partial cell's mean is its surviving seed alone (0.70 + 0.05 + 0.16 + 0.001 = 91.1 %),
        // the highest value; the lowest is batch 64, lr 0.01 (75 %).
        XCTAssertEqual(cells[1].attributes["fill"], ColorMap.viridis.hex(0))
        XCTAssertEqual(cells[7].attributes["fill"], ColorMap.viridis.hex(1))
        let values = doc.elements(withClass: "cell-value").map(\.text)
        XCTAssertEqual(values, ["75.0", "80.0", "78.0", "83.0", "88.0", "86.0", "91.1", "✕"])
        let notes = doc.elements(withClass: "cell-note").map(\.text)
        XCTAssertEqual(notes, ["1/2 div", "2/2 div"])
        XCTAssertTrue(doc.texts().contains("✕ every seed diverged · k/n div: k of n seeds diverged, mean of the others"))

        // Categorical axes: learning rates bottom to top, batch sizes left to right.
        let labels = axisTexts(doc)
        func label(_ s: String) -> (x: Double, y: Double) {
            let t = labels.first { $0.text == s }
            return (t?.x ?? .nan, t?.y ?? .nan)
        }
        XCTAssertGreaterThan(label("0.01").y, label("1").y)
        XCTAssertLessThan(label("32").x, label("128").x)
        XCTAssertEqual(doc.elements(withClass: "colorbar").count, 1)
        XCTAssertEqual(doc.elements(named: "linearGradient").count, 1)
    }

    func testHeatmapMarksCellsWhoseSurvivingRunsReportNoAccuracyAsMissing() throws {
        let runs = [
            GridRun(batchSize: 32, learningRate: 0.1, seed: 1, testAccuracy: 0.9),
            GridRun(batchSize: 64, learningRate: 0.1, seed: 1, diverged: true),
            GridRun(batchSize: 64, learningRate: 0.1, seed: 2),  // finished, accuracy not recorded
        ]
        let doc = parseSVG(try RunFigures.batchLearningRateHeatmap(runs, title: "missing"))
        let cells = doc.elements(withClass: "cell")
        XCTAssertEqual(cells.count, 2)
        XCTAssertTrue(cells[1].classes.contains("missing"))
        XCTAssertFalse(cells[1].classes.contains("diverged"))
        XCTAssertEqual(cells[1].attributes["fill"], SVGRenderer.missingColor)
        XCTAssertEqual(doc.elements(withClass: "cell-value").map(\.text), ["90.0", "n/a"])
        XCTAssertEqual(doc.elements(withClass: "cell-note").map(\.text), ["1/2 div"])
    }

    func testHeatmapThrowsWhenEveryRunDiverged() {
        let runs = [
            GridRun(batchSize: 32, learningRate: 1, seed: 1, diverged: true),
            GridRun(batchSize: 32, learningRate: 1, seed: 2, diverged: true),
        ]
        XCTAssertThrowsError(try RunFigures.batchLearningRateHeatmap(runs, title: "t")) { error in
            XCTAssertEqual(
                error as? RunFigureError,
                .nothingToDraw(figure: "batch-size × learning-rate heatmap", metric: "test accuracy", runs: 2,
                               diverged: 2))
        }
        XCTAssertThrowsError(try RunFigures.batchLearningRateHeatmap([], title: "t")) { error in
            XCTAssertEqual(error as? RunFigureError, .noRuns(figure: "batch-size × learning-rate heatmap"))
        }
    }

    // MARK: Shared properties

    func testFiguresAreDeterministicAndIndependentOfInputOrder() throws {
        let points = lottery(levels: 6, branches: ["main", "random_reinit", "random_prune"], seeds: [1, 2, 3])
        let a = try RunFigures.lotteryAccuracy(points, title: "same")
        XCTAssertEqual(a, try RunFigures.lotteryAccuracy(points, title: "same"))
        XCTAssertEqual(a, try RunFigures.lotteryAccuracy(points.reversed(), title: "same"))
        let runs = sweep()
        for metric in GridMetric.allCases {
            let c = try RunFigures.batchSizeCurves(runs, metric: metric, title: "same")
            XCTAssertEqual(c, try RunFigures.batchSizeCurves(runs.reversed(), metric: metric, title: "same"))
        }
        let h = try RunFigures.batchLearningRateHeatmap(runs, title: "same")
        XCTAssertEqual(h, try RunFigures.batchLearningRateHeatmap(runs.reversed(), title: "same"))
        XCTAssertFalse(a.lowercased().contains("nan"))
        XCTAssertFalse(h.lowercased().contains("nan"))
    }

    func testUserTextIsEscaped() throws {
        let nasty = "ticket <late> & \"reset\" 'k'"
        let points = [
            LotteryPoint(branch: nasty, seed: 1, level: 0, density: 1, testAccuracy: 0.9),
            LotteryPoint(branch: nasty, seed: 1, level: 1, density: 0.8, testAccuracy: 0.91),
        ]
        let svg = try RunFigures.lotteryAccuracy(points, title: nasty)
        XCTAssertFalse(svg.contains("<late>"))
        let doc = parseSVG(svg)
        XCTAssertEqual(legendTexts(doc), [nasty])
        XCTAssertTrue(doc.texts().contains(nasty))
        let runs = [GridRun(batchSize: 8, learningRate: 0.5, seed: 1, testAccuracy: 0.5)]
        XCTAssertTrue(parseSVG(try RunFigures.batchLearningRateHeatmap(runs, title: nasty)).texts().contains(nasty))
        XCTAssertTrue(parseSVG(try RunFigures.batchSizeCurves(runs, metric: .testAccuracy, title: nasty)).texts()
            .contains(nasty))
    }
}
