import TerrainExport
import XCTest

/// Iso-lines from `MarchingSquares.contours`: geometry, joining, saddles, missing data.
final class MarchingSquaresTests: XCTestCase {
    /// Samples `f` on an `n × n` grid over `[-1, 1]²` (row-major, `values[j*n + i]`).
    private func sample(_ n: Int, _ f: (Double, Double) -> Double) -> [Double] {
        var values: [Double] = []
        for j in 0..<n {
            for i in 0..<n {
                values.append(f(coordinate(i, n), coordinate(j, n)))
            }
        }
        return values
    }

    private func coordinate(_ g: Double, _ n: Int) -> Double { -1 + 2 * g / Double(n - 1) }
    private func coordinate(_ g: Int, _ n: Int) -> Double { coordinate(Double(g), n) }

    func testContourOfAParaboloidIsACircle() {
        let n = 41
        let values = sample(n) { x, y in x * x + y * y }
        let lines = MarchingSquares.contours(values: values, nx: n, ny: n, level: 0.25)
        XCTAssertEqual(lines.count, 1, "one connected iso-line, not a bag of segments")
        guard let line = lines.first else { return }
        XCTAssertGreaterThan(line.count, 40)
        XCTAssertEqual(line.first?.x, line.last?.x, "closed polyline repeats its first point")
        XCTAssertEqual(line.first?.y, line.last?.y)
        for p in line {
            let r = (coordinate(p.x, n) * coordinate(p.x, n) + coordinate(p.y, n) * coordinate(p.y, n)).squareRoot()
            XCTAssertEqual(r, 0.5, accuracy: 0.01)
        }
        // Consecutive points are neighbours on the circle (joined in order).
        for k in 1..<line.count {
            let dx = line[k].x - line[k - 1].x, dy = line[k].y - line[k - 1].y
            XCTAssertLessThan((dx * dx + dy * dy).squareRoot(), 1.5)
        }
    }

    func testTwoMinimaGiveTwoClosedLoops() {
        let n = 61
        let values = sample(n) { x, y in
            min((x - 0.5) * (x - 0.5) + y * y, (x + 0.5) * (x + 0.5) + y * y)
        }
        let lines = MarchingSquares.contours(values: values, nx: n, ny: n, level: 0.04)
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            XCTAssertEqual(line.first?.x, line.last?.x)
            XCTAssertEqual(line.first?.y, line.last?.y)
        }
    }

    func testLinearRampGivesOneStraightLine() {
        let nx = 5, ny = 4
        let values = (0..<(nx * ny)).map { Double($0 % nx) }  // value = i
        let lines = MarchingSquares.contours(values: values, nx: nx, ny: ny, level: 2.5)
        XCTAssertEqual(lines.count, 1)
        guard let line = lines.first else { return }
        XCTAssertEqual(line.count, ny, "one point per crossed horizontal edge")
        for p in line { XCTAssertEqual(p.x, 2.5, accuracy: 1e-12) }
        let ys = line.map(\.y).sorted()
        XCTAssertEqual(ys, [0, 1, 2, 3])
        XCTAssertNotEqual(line.first?.y, line.last?.y, "open line from boundary to boundary")
    }

    func testDiagonalRampLineLiesOnTheLevelSet() {
        let n = 6
        var values: [Double] = []
        for j in 0..<n { for i in 0..<n { values.append(Double(i + 2 * j)) } }
        let lines = MarchingSquares.contours(values: values, nx: n, ny: n, level: 4.3)
        XCTAssertEqual(lines.count, 1)
        for p in lines.first ?? [] { XCTAssertEqual(p.x + 2 * p.y, 4.3, accuracy: 1e-12) }
    }

    /// Asserts that `lines` are exactly the given segments (endpoints in either order).
    private func assertSegments(
        _ lines: [[(x: Double, y: Double)]], _ expected: [((Double, Double), (Double, Double))],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(lines.count, expected.count, file: file, line: line)
        func close(_ p: (x: Double, y: Double), _ q: (Double, Double)) -> Bool {
            abs(p.x - q.0) < 1e-12 && abs(p.y - q.1) < 1e-12
        }
        for (a, b) in expected {
            let found = lines.contains { l in
                guard l.count == 2 else { return false }
                return (close(l[0], a) && close(l[1], b)) || (close(l[0], b) && close(l[1], a))
            }
            XCTAssertTrue(found, "missing segment \(a)–\(b) in \(lines)", file: file, line: line)
        }
    }

    func testSaddleCellIsResolvedByTheCentreAverage() {
        // Lower-left and upper-right corners high, the other two low: centre = 0.5.
        let values: [Double] = [1, 0, 0, 1]
        // Level 0.5: the centre counts as "above", so the high corners connect and the
        // lines cut off the low corners (1,0) and (0,1).
        assertSegments(
            MarchingSquares.contours(values: values, nx: 2, ny: 2, level: 0.5),
            [((0.5, 0), (1, 0.5)), ((0, 0.5), (0.5, 1))])
        // Level 0.6: the centre is below, so the lines cut off the high corners (0,0) and (1,1).
        assertSegments(
            MarchingSquares.contours(values: values, nx: 2, ny: 2, level: 0.6),
            [((0.4, 0), (0, 0.4)), ((1, 0.6), (0.6, 1))])
        // The mirrored saddle (lower-right and upper-left high).
        let mirrored: [Double] = [0, 1, 1, 0]
        assertSegments(
            MarchingSquares.contours(values: mirrored, nx: 2, ny: 2, level: 0.5),
            [((0.5, 0), (0, 0.5)), ((1, 0.5), (0.5, 1))])
        assertSegments(
            MarchingSquares.contours(values: mirrored, nx: 2, ny: 2, level: 0.6),
            [((0.6, 0), (1, 0.4)), ((0, 0.6), (0.4, 1))])
    }

    func testCellsTouchingNaNProduceNoSegments() {
        let n = 5
        var values = (0..<(n * n)).map { Double($0 % n) }  // value = i
        values[2 * n + 2] = .nan  // sample (2, 2): cells (1…2, 1…2) are dropped
        let lines = MarchingSquares.contours(values: values, nx: n, ny: n, level: 2.5)
        XCTAssertEqual(lines.count, 2, "the line is cut where the missing sample is")
        for line in lines {
            for p in line {
                XCTAssertEqual(p.x, 2.5, accuracy: 1e-12)
                XCTAssertFalse(p.y > 1 && p.y < 3, "no segment in cells touching the NaN")
            }
        }
        let allMissing = [Double](repeating: .nan, count: n * n)
        XCTAssertTrue(MarchingSquares.contours(values: allMissing, nx: n, ny: n, level: 0).isEmpty)
    }

    func testInvalidInputGivesNoContours() {
        XCTAssertTrue(MarchingSquares.contours(values: [1, 2, 3], nx: 2, ny: 2, level: 1.5).isEmpty)
        XCTAssertTrue(MarchingSquares.contours(values: [1, 2], nx: 2, ny: 1, level: 1.5).isEmpty)
        XCTAssertTrue(MarchingSquares.contours(values: [1, 2, 3, 4], nx: 2, ny: 2, level: .nan).isEmpty)
        XCTAssertTrue(MarchingSquares.contours(values: [1, 1, 1, 1], nx: 2, ny: 2, level: 5).isEmpty)
    }

    func testOutputIsDeterministic() {
        let n = 31
        let values = sample(n) { x, y in (x * x - 0.5) * (x * x - 0.5) + y * y + 0.3 * x }
        let a = MarchingSquares.contours(values: values, nx: n, ny: n, level: 0.3)
        let b = MarchingSquares.contours(values: values, nx: n, ny: n, level: 0.3)
        XCTAssertEqual(a.count, b.count)
        for (la, lb) in zip(a, b) {
            XCTAssertEqual(la.map(\.x), lb.map(\.x))
            XCTAssertEqual(la.map(\.y), lb.map(\.y))
        }
    }
}
