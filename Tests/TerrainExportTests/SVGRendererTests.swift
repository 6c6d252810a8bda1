import Foundation
import TerrainExport
import XCTest

final class SVGRendererTests: XCTestCase {
    /// Parses `svg` as XML, failing the test when it is not well-formed.
    private func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> ParsedSVG {
        parseSVG(svg, file: file, line: line)
    }

    private func grid(_ n: Int, from lo: Double = -1, to hi: Double = 1) -> [Double] {
        (0..<n).map { lo + (hi - lo) * Double($0) / Double(n - 1) }
    }

    private func landscape(_ x: [Double], _ y: [Double]) -> [Double] {
        var values: [Double] = []
        for yj in y { for xi in x { values.append((xi * xi - 0.5) * (xi * xi - 0.5) + yj * yj + 0.3 * xi) } }
        return values
    }

    // MARK: Heatmap

    func testHeatmapParsesAndHasOneCellPerSampleAndAColourBar() {
        let x = grid(7), y = grid(5)
        let svg = SVGRenderer.heatmap(
            x: x, y: y, values: landscape(x, y), title: "Loss surface", subtitle: "ResNet-20, filter-normalised",
            xLabel: "α", yLabel: "β", valueLabel: "train loss")
        let doc = parse(svg)
        XCTAssertEqual(doc.elements(withClass: "cell").count, 35)
        XCTAssertTrue(doc.elements(withClass: "cell").allSatisfy { $0.name == "rect" })
        XCTAssertTrue(doc.elements(withClass: "missing").isEmpty)
        let texts = doc.texts()
        for expected in ["Loss surface", "ResNet-20, filter-normalised", "α", "β", "train loss"] {
            XCTAssertTrue(texts.contains(expected), "missing text \(expected)")
        }
        XCTAssertFalse(texts.contains("missing"))
        // Colour bar: a gradient-filled rect and five labelled ticks.
        let bar = doc.elements(withClass: "colorbar")
        XCTAssertEqual(bar.count, 1)
        let barTexts = doc.elements(named: "text").filter { $0.ancestorClasses.contains("colorbar") }
        XCTAssertEqual(barTexts.count, 6, "five tick labels and the value label")
        XCTAssertTrue(doc.elements(named: "linearGradient").count == 1)
        XCTAssertTrue(doc.elements(withClass: "contours").count == 1)
        XCTAssertTrue(svg.hasPrefix("<?xml"))
    }

    /// A title longer than the page (a checkpoint path and a spec name) is set smaller and
    /// kept inside the page instead of running off both edges; a short one keeps its size.
    func testALongTitleIsFittedInsideThePage() {
        let x = grid(5), y = grid(5)
        let long = "train_loss around resnet20-noshort-with-a-long-name.safetensors (surface-resnet20-noshort-long-name)"
        for (title, fitted) in [(long, true), ("Loss surface", false)] {
            let doc = parse(SVGRenderer.heatmap(x: x, y: y, values: landscape(x, y), title: title, subtitle: "",
                                                xLabel: "α", yLabel: "β", valueLabel: "loss"))
            let page = Double(doc.elements(named: "svg")[0].attributes["width"]!)!
            let t = doc.elements(withClass: "title")[0]
            let size = Double(t.attributes["font-size"]!)!, cx = Double(t.attributes["x"]!)!
            let half = Double(title.count) * size * 0.6 * 1.1 / 2   // the renderer's width estimate, bold
            XCTAssertGreaterThanOrEqual(cx - half, 0, title)
            XCTAssertLessThanOrEqual(cx + half, page, title)
            if fitted { XCTAssertLessThan(size, 16) } else { XCTAssertEqual(size, 16) }
        }
    }

    func testHeatmapColoursSpanViridisAndYIncreasesUpward() {
        let x = grid(3), y = grid(3)
        // Value grows with y only: the bottom row is darkest, the top row brightest.
        let values = y.flatMap { yj in x.map { _ in yj } }
        let doc = parse(SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "t", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "v"))
        let cells = doc.elements(withClass: "cell")
        XCTAssertEqual(cells.count, 9)
        XCTAssertEqual(cells.first?.attributes["fill"], ColorMap.viridis.hex(0))
        XCTAssertEqual(cells.last?.attributes["fill"], ColorMap.viridis.hex(1))
        let firstY = Double(cells.first?.attributes["y"] ?? "") ?? 0
        let lastY = Double(cells.last?.attributes["y"] ?? "") ?? 0
        XCTAssertGreaterThan(firstY, lastY, "row j = 0 (lowest y) is drawn at the bottom")
    }

    func testHeatmapContoursFollowTheRequestedLevels() {
        let x = grid(41), y = grid(41)
        var values: [Double] = []
        for yj in y { for xi in x { values.append(xi * xi + yj * yj) } }
        let five = parse(SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "bowl", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "z",
            contourLevels: 5))
        let lines = five.elements(named: "polyline").filter { $0.ancestorClasses.contains("contours") }
        XCTAssertGreaterThanOrEqual(lines.count, 5)
        let none = parse(SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "bowl", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "z",
            contourLevels: 0))
        XCTAssertTrue(none.elements(named: "polyline").isEmpty)
    }

    func testTitlesAndLabelsAreEscaped() {
        let nasty = "loss <train> & \"test\" 'α'"
        let x = grid(3), y = grid(3)
        let svgs = [
            SVGRenderer.heatmap(
                x: x, y: y, values: landscape(x, y), title: nasty, subtitle: nasty, xLabel: nasty, yLabel: nasty,
                valueLabel: nasty),
            SVGRenderer.curves(
                x: [0, 1, 2], series: [(label: nasty, values: [1, 2, 3])], title: nasty, subtitle: nasty,
                xLabel: nasty, yLabel: nasty),
            SVGRenderer.density(
                grid: [0, 1, 2], density: [0.1, 0.5, 0.1], title: nasty, subtitle: nasty, xLabel: nasty,
                yLabel: nasty),
        ]
        for svg in svgs {
            XCTAssertTrue(svg.contains("loss &lt;train&gt; &amp; &quot;test&quot; &apos;α&apos;"))
            XCTAssertFalse(svg.contains("<train>"))
            let doc = parse(svg)
            XCTAssertTrue(doc.texts().contains(nasty), "title round-trips through the XML parser")
        }
        // Control characters that XML 1.0 forbids are dropped, not emitted.
        let control = SVGRenderer.curves(
            x: [0, 1], series: [(label: "a\u{1}b", values: [1, 2])], title: "t\u{0}", subtitle: "",
            xLabel: "x", yLabel: "y")
        let doc = parse(control)
        XCTAssertTrue(doc.texts().contains("ab"))
    }

    func testLogScaleClampsZerosAndNegatives() {
        let x = grid(3), y = grid(2)
        let values: [Double] = [1e-3, 0, -5, 1, 10, 100]
        let svg = SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "log", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "loss",
            logScale: true)
        let doc = parse(svg)
        let fills = doc.elements(withClass: "cell").map { $0.attributes["fill"] ?? "" }
        XCTAssertEqual(fills.count, 6)
        XCTAssertEqual(fills[0], ColorMap.viridis.hex(0), "smallest positive value is the low end")
        XCTAssertEqual(fills[1], fills[0], "zero is clamped to the smallest positive value")
        XCTAssertEqual(fills[2], fills[0], "negative values are clamped too")
        XCTAssertEqual(fills[5], ColorMap.viridis.hex(1))
        XCTAssertEqual(fills[3], ColorMap.viridis.hex(0.6), "log10(1) is 3/5 of the way from −3 to 2")
        XCTAssertFalse(svg.lowercased().contains("nan"))
        XCTAssertFalse(svg.contains("inf"))
        // Colour bar labels show the original values (10^-3 … 10^2).
        let barTexts = doc.elements(named: "text").filter { $0.ancestorClasses.contains("colorbar") }.map(\.text)
        XCTAssertTrue(barTexts.contains("100"))
        XCTAssertTrue(barTexts.contains("0.001"))
        // Only non-positive values: still a valid figure.
        let flat = SVGRenderer.heatmap(
            x: x, y: y, values: [0, -1, -2, 0, 0, -3], title: "flat", subtitle: "", xLabel: "x", yLabel: "y",
            valueLabel: "v", logScale: true)
        XCTAssertEqual(parse(flat).elements(withClass: "cell").count, 6)
        XCTAssertFalse(flat.lowercased().contains("nan"))
    }

    func testMissingCellsAreGreyAndNotedInTheLegend() {
        let x = grid(4), y = grid(4)
        var values = landscape(x, y)
        values[0] = .nan
        values[5] = .nan
        values[15] = .infinity
        let doc = parse(SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "holes", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "v"))
        let missing = doc.elements(withClass: "missing")
        XCTAssertEqual(missing.count, 3)
        XCTAssertTrue(missing.allSatisfy { $0.attributes["fill"] == SVGRenderer.missingColor })
        XCTAssertEqual(SVGRenderer.missingColor, "#d3d3d3")
        XCTAssertEqual(doc.elements(withClass: "cell").count, 16)
        XCTAssertTrue(doc.texts().contains("missing"))
        // All missing: grey cells, no contours, still a complete figure with a colour bar.
        let allMissing = parse(SVGRenderer.heatmap(
            x: x, y: y, values: [Double](repeating: .nan, count: 16), title: "empty", subtitle: "",
            xLabel: "x", yLabel: "y", valueLabel: "v"))
        XCTAssertEqual(allMissing.elements(withClass: "missing").count, 16)
        XCTAssertTrue(allMissing.elements(named: "polyline").isEmpty)
        XCTAssertEqual(allMissing.elements(withClass: "colorbar").count, 1)
    }

    func testMarkerIsDrawnOnlyInsideThePlot() {
        let x = grid(5), y = grid(5)
        let inside = parse(SVGRenderer.heatmap(
            x: x, y: y, values: landscape(x, y), title: "m", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "v",
            marker: (x: 0, y: 0)))
        XCTAssertEqual(inside.elements(withClass: "marker").count, 1)
        let outside = parse(SVGRenderer.heatmap(
            x: x, y: y, values: landscape(x, y), title: "m", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "v",
            marker: (x: 5, y: 0)))
        XCTAssertTrue(outside.elements(withClass: "marker").isEmpty)
    }

    func testInconsistentHeatmapInputGivesAnErrorFigure() {
        let doc = parse(SVGRenderer.heatmap(
            x: [0, 1], y: [0, 1], values: [1, 2, 3], title: "bad", subtitle: "", xLabel: "x", yLabel: "y",
            valueLabel: "v"))
        XCTAssertTrue(doc.texts().contains("bad"))
        XCTAssertTrue(doc.texts().contains { $0.hasPrefix("invalid input") })
        XCTAssertTrue(doc.elements(withClass: "cell").isEmpty)
        let empty = parse(SVGRenderer.heatmap(
            x: [], y: [], values: [], title: "empty", subtitle: "", xLabel: "x", yLabel: "y", valueLabel: "v"))
        XCTAssertTrue(empty.texts().contains { $0.hasPrefix("invalid input") })
    }

    func testAxisTicksUseNiceSteps() {
        let x = grid(11, from: 0, to: 10), y = grid(11, from: -0.3, to: 0.3)
        let doc = parse(SVGRenderer.heatmap(
            x: x, y: y, values: landscape(x, y), title: "ticks", subtitle: "", xLabel: "x", yLabel: "y",
            valueLabel: "v"))
        let labels = doc.elements(named: "text").filter { $0.ancestorClasses.contains("axes") }.map(\.text)
        // x cells span [-0.5, 10.5]: ticks every 2; y cells span [-0.33, 0.33]: every 0.1.
        for expected in ["0", "2", "4", "6", "8", "10", "\u{2212}0.3", "0.0", "0.3"] {
            XCTAssertTrue(labels.contains(expected), "missing tick label \(expected) in \(labels)")
        }
    }

    func testOutputIsDeterministic() {
        let x = grid(21), y = grid(21)
        let values = landscape(x, y)
        let a = SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "same", subtitle: "s", xLabel: "x", yLabel: "y", valueLabel: "v",
            marker: (x: 0.1, y: 0.2))
        let b = SVGRenderer.heatmap(
            x: x, y: y, values: values, title: "same", subtitle: "s", xLabel: "x", yLabel: "y", valueLabel: "v",
            marker: (x: 0.1, y: 0.2))
        XCTAssertEqual(a, b)
        let c1 = SVGRenderer.curves(
            x: x, series: [(label: "a", values: values.prefix(21).map { $0 })], title: "c", subtitle: "",
            xLabel: "x", yLabel: "y")
        let c2 = SVGRenderer.curves(
            x: x, series: [(label: "a", values: values.prefix(21).map { $0 })], title: "c", subtitle: "",
            xLabel: "x", yLabel: "y")
        XCTAssertEqual(c1, c2)
    }

    // MARK: Curves

    func testCurvesBreakAtNaNAndHaveALegend() {
        let x: [Double] = [0, 1, 2, 3, 4, 5]
        let svg = SVGRenderer.curves(
            x: x,
            series: [
                (label: "train loss", values: [2, 1.5, .nan, 1, 0.8, 0.7]),
                (label: "test loss", values: [2.2, 1.8, 1.5, 1.4, 1.3, 1.3]),
                (label: "train acc", values: [0.1, .nan, 0.5, .nan, 0.8, 0.9]),
            ],
            title: "Training", subtitle: "epochs", xLabel: "epoch", yLabel: "loss")
        let doc = parse(svg)
        XCTAssertEqual(doc.elements(withClass: "series-0").filter { $0.name == "polyline" }.count, 2)
        XCTAssertEqual(doc.elements(withClass: "series-1").filter { $0.name == "polyline" }.count, 1)
        // Series 2: runs [0], [2], [4, 5] → two isolated dots and one line.
        XCTAssertEqual(doc.elements(withClass: "series-2").filter { $0.name == "polyline" }.count, 1)
        XCTAssertEqual(doc.elements(withClass: "series-2").filter { $0.name == "circle" }.count, 2)
        let strokes = Set((0..<3).compactMap { doc.elements(withClass: "series-\($0)").first?.attributes["stroke"] })
        XCTAssertEqual(strokes.count, 2, "series 0 and 1 have distinct colours (series 2 starts with a dot)")
        let texts = doc.texts()
        for expected in ["Training", "epochs", "train loss", "test loss", "train acc", "epoch", "loss"] {
            XCTAssertTrue(texts.contains(expected), "missing text \(expected)")
        }
        XCTAssertEqual(doc.elements(withClass: "legend").count, 1)
        XCTAssertFalse(svg.lowercased().contains("nan"))
    }

    func testCurvesLogYSkipsNonPositiveValuesAndLabelsDecades() {
        let x: [Double] = [0, 1, 2, 3, 4]
        let svg = SVGRenderer.curves(
            x: x, series: [(label: "loss", values: [100, 10, 0, 0.1, 0.01])], title: "log", subtitle: "",
            xLabel: "step", yLabel: "loss", logY: true)
        let doc = parse(svg)
        XCTAssertEqual(doc.elements(withClass: "series-0").filter { $0.name == "polyline" }.count, 2)
        let tickTexts = doc.elements(named: "text").filter { $0.ancestorClasses.contains("axes") }.map(\.text)
        XCTAssertTrue(tickTexts.contains("102"), "10^2 (superscript in a tspan)")
        XCTAssertTrue(tickTexts.contains("10\u{2212}2"), "10^-2")
        XCTAssertFalse(svg.lowercased().contains("nan"))
    }

    func testCurvesWithNoPlottablePointsStillRender() {
        let doc = parse(SVGRenderer.curves(
            x: [0, 1], series: [(label: "empty", values: [.nan, .nan])], title: "nothing", subtitle: "",
            xLabel: "x", yLabel: "y"))
        XCTAssertTrue(doc.texts().contains("nothing"))
        XCTAssertTrue(doc.elements(withClass: "series-0").isEmpty)
        let none = parse(SVGRenderer.curves(x: [], series: [], title: "none", subtitle: "", xLabel: "x", yLabel: "y"))
        XCTAssertTrue(none.texts().contains("none"))
    }

    // MARK: Density

    func testDensityIsAFilledAreaWithALogFloor() {
        let g = (0..<50).map { Double($0) / 5 }
        let d = g.map { $0 < 5 ? exp(-$0 * $0) : 0 }  // zeros are floored at 1e-8
        let svg = SVGRenderer.density(
            grid: g, density: d, title: "Hessian spectrum", subtitle: "SLQ", xLabel: "λ", yLabel: "density")
        let doc = parse(svg)
        XCTAssertEqual(doc.elements(withClass: "density-fill").count, 1)
        XCTAssertEqual(doc.elements(withClass: "series-0").count, 1)
        let tickTexts = doc.elements(named: "text").filter { $0.ancestorClasses.contains("axes") }.map(\.text)
        XCTAssertTrue(tickTexts.contains("10\u{2212}8"), "axis reaches the 1e-8 floor: \(tickTexts)")
        XCTAssertTrue(doc.texts().contains("Hessian spectrum"))
        XCTAssertFalse(svg.lowercased().contains("nan"))
        XCTAssertFalse(svg.contains("inf"))

        let linear = parse(SVGRenderer.density(
            grid: g, density: d, title: "linear", subtitle: "", xLabel: "λ", yLabel: "density", logY: false))
        XCTAssertEqual(linear.elements(withClass: "density-fill").count, 1)
    }

    // MARK: Colour map

    func testViridisEndpointsMidpointAndClamping() {
        XCTAssertEqual(ColorMap.viridis.hex(0), "#440154")
        XCTAssertEqual(ColorMap.viridis.hex(1), "#fde725")
        XCTAssertEqual(ColorMap.viridis.hex(-3), "#440154")
        XCTAssertEqual(ColorMap.viridis.hex(7), "#fde725")
        let mid = ColorMap.viridis.color(0.5)  // matplotlib: #21918c
        XCTAssertEqual(Double(mid.r), 0x21, accuracy: 2)
        XCTAssertEqual(Double(mid.g), 0x91, accuracy: 2)
        XCTAssertEqual(Double(mid.b), 0x8c, accuracy: 2)
        // Perceptually ordered: luminance increases monotonically.
        var previous = -1.0
        for k in 0...64 {
            let c = ColorMap.viridis.color(Double(k) / 64)
            let luminance = 0.2126 * Double(c.r) + 0.7152 * Double(c.g) + 0.0722 * Double(c.b)
            XCTAssertGreaterThan(luminance, previous)
            previous = luminance
        }
    }
}
