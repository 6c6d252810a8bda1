import TerrainExport
import XCTest

/// Block means for drawing large grids.
final class GridDownsamplingTests: XCTestCase {
    func testSmallGridsAreUnchangedAndLargeOnesBecomeBlockMeans() {
        let x = [0.0, 1, 2, 3, 4], y = [10.0, 11, 12]
        let v = (0..<15).map(Double.init)
        let same = GridDownsampling.blockMeans(x: x, y: y, values: v, maxCells: 5)
        XCTAssertEqual(same.factor, 1)
        XCTAssertEqual(same.values, v)
        let coarse = GridDownsampling.blockMeans(x: x, y: y, values: v, maxCells: 3)
        XCTAssertEqual(coarse.factor, 2)
        XCTAssertEqual(coarse.x, [0.5, 2.5, 4])
        XCTAssertEqual(coarse.y, [10.5, 12])
        // Block (0,0) holds values 0, 1, 5, 6; the last column block only 4 and 9; the last row 10, 11.
        XCTAssertEqual(coarse.values, [3, 5, 6.5, 10.5, 12.5, 14])
    }

    func testNaNPointsAreLeftOutOfTheMeans() {
        let v: [Double] = [1, .nan, .nan, .nan]
        let r = GridDownsampling.blockMeans(x: [0, 1], y: [0, 1], values: v, maxCells: 1)
        XCTAssertEqual(r.values, [1])
        let empty = GridDownsampling.blockMeans(x: [0, 1], y: [0, 1], values: [.nan, .nan, .nan, .nan], maxCells: 1)
        XCTAssertTrue(empty.values[0].isNaN)
    }
}
