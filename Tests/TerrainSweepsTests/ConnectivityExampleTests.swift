import Foundation
import TerrainCore
import TerrainDataset
import TerrainSweeps
import XCTest

/// The mode-connectivity and instability examples (examples/connectivity-mlp.yaml,
/// examples/instability-mlp.yaml) on the example MLP, one pair and one seed each, run in this
/// process: what the README reports must hold.
final class ConnectivityExampleTests: XCTestCase {
    /// Garipov et al.'s finding on the example MLP: two networks from different seeds are
    /// separated by a barrier along the line, and a trained Bezier curve or chain between them
    /// has one at least five times lower (in the training loss the curve minimizes).
    func testOnTheExampleMLPTrainedCurvesHaveAtLeastFiveTimesLowerBarriersThanTheLine() throws {
        let spec = try ConnectivityTests.example("connectivity-mlp.yaml", [("pairs: [[0, 1], [2, 3]]", "pairs: [[0, 1]]")])
        let outputs = try InProcessSweep.run(spec)
        let rows = try ConnectivityTests.pathRows(spec, outputs)
        XCTAssertEqual(rows.map(\.shape), ["line", "bezier", "chain"])
        XCTAssertEqual(rows.map(\.points), [61, 61, 61])
        for r in rows {
            print(String(format: "connectivity example: %@ %@ train barrier %.4f, test barrier %.4f, test error barrier %.2f %%, train loss ends %.4f %.4f",
                         r.pair, r.shape, r.trainBarrier ?? .nan, r.testBarrier ?? .nan, 100 * (r.testErrorBarrier ?? .nan),
                         r.trainLossA ?? .nan, r.trainLossB ?? .nan))
        }
        let line = try XCTUnwrap(rows[0].trainBarrier)
        XCTAssertGreaterThan(line, 0.1, "independently trained networks are separated by a barrier along the line")
        for curve in rows.dropFirst() {
            let barrier = try XCTUnwrap(curve.trainBarrier)
            XCTAssertLessThanOrEqual(barrier * 5, line, "the \(curve.shape) curve's barrier \(barrier) against the line's \(line)")
            XCTAssertEqual(curve.trainLossA, rows[0].trainLossA, "every path starts at the same end point")
        }
    }

    /// Frankle et al.'s instability on the example MLP, one seed. Measured (AMD EPYC; the
    /// same bits on any CPU): the test-loss barrier between the two children falls at every
    /// branch step, 0.0242, 0.0143, 0.0075, 0.0034, 0.0012 for k = 0, 8, 32, 128, 480; the test
    /// error barrier 1.20, 0.80, 0.45, 0.15, 0.25 points; the train error barrier 2.59, 2.24,
    /// 2.25, 0.88, 0.04 points. This small MLP is nearly stable from the start (a barrier of
    /// about one point of test error at k = 0), and loses what instability it has within the
    /// first 128 of its 960 steps.
    func testOnTheExampleMLPTheInstabilityBarrierFallsWithTheBranchStep() throws {
        let spec = try ConnectivityTests.example("instability-mlp.yaml", [("seeds: [0, 1]", "seeds: [0]")])
        let outputs = try InProcessSweep.run(spec)
        let rows = try ConnectivityTests.pathRows(spec, outputs)
        XCTAssertEqual(rows.compactMap(\.branchStep), [0, 8, 32, 128, 480])
        for r in rows {
            print(String(format: "instability example: k %d: test error barrier %.2f %%, train error barrier %.2f %%, test loss barrier %.4f",
                         r.branchStep ?? -1, 100 * (r.testErrorBarrier ?? .nan), 100 * (r.trainErrorBarrier ?? .nan), r.testBarrier ?? .nan))
        }
        let barriers = try rows.map { try XCTUnwrap($0.testBarrier) }
        XCTAssertGreaterThan(barriers[0], 0.01, "children of the initialization are separated by a loss barrier")
        for i in 1..<barriers.count { XCTAssertLessThan(barriers[i], barriers[i - 1], "the test-loss barrier falls from k = \(rows[i - 1].branchStep!) to k = \(rows[i].branchStep!)") }
        XCTAssertLessThan(barriers.last! * 4, barriers[0], "branched late, the children are linearly connected")
        let errors = try rows.map { try XCTUnwrap($0.trainErrorBarrier) }
        XCTAssertLessThan(errors.last! * 10, errors[0], "the train error barrier nearly vanishes by k = 480")
    }
}
