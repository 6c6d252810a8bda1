import TerrainCore
import XCTest

/// Paths between two points of parameter space and the training of a curve's bend
/// (Garipov et al. 2018), against closed forms.
final class ModePathTests: XCTestCase {
    func testPathWeightsSumToOneAndMeetTheEndPointsAndTheChainsBend() {
        for shape in PathShape.allCases {
            for t in stride(from: 0.0, through: 1.0, by: 0.125) {
                let w = shape.weights(t)
                XCTAssertEqual(w.a + w.bend + w.b, 1, accuracy: 1e-15, "\(shape) at t = \(t)")
            }
            XCTAssertEqual(shape.point(0, a: [1.0, 2], bend: [7, 7], b: [3, 5]), [1, 2])
            XCTAssertEqual(shape.point(1, a: [1.0, 2], bend: [7, 7], b: [3, 5]), [3, 5])
        }
        XCTAssertEqual(PathShape.chain.point(0.5, a: [1.0, 2], bend: [7, 9], b: [3, 5]), [7, 9], "the chain passes through its bend at t = ½")
        // Bezier at t = ½: ¼A + ½C + ¼B.
        XCTAssertEqual(PathShape.bezier.point(0.5, a: [4.0], bend: [8], b: [12]), [8])
        XCTAssertEqual(PathShape.bezier.point(0.25, a: [0.0], bend: [16], b: [0]), [6], "2·¼·¾·16")
        XCTAssertEqual(PathShape.evenlySpaced(61).count, 61)
        XCTAssertEqual(PathShape.evenlySpaced(61)[30], 0.5)
        XCTAssertEqual(PathShape.evenlySpaced(5), [0, 0.25, 0.5, 0.75, 1])
    }

    func testBarrierIsTheMaximumAboveTheMeanOfTheEnds() {
        XCTAssertEqual(PathBarrier.height([1, 3, 2, 0]), 2.5)
        XCTAssertEqual(PathBarrier.height([1, 0.5, 1]), 0)
        XCTAssertNil(PathBarrier.height([1, .nan, 1]))
    }

    /// On a quadratic loss L(θ) = ½(θ−m)ᵀH(θ−m) with H positive definite, the bend that
    /// minimizes E_{t~U(0,1)} L(φ(t)) solves E[w_C·(w_A·A + w_C·C + w_B·B − m)] = 0:
    /// Bezier: C* = (m/3 − (A+B)/10)/(2/15) = 2.5m − 0.75(A+B);
    /// chain:  C* = (m/2 − (A+B)/12)/(1/3) = 1.5m − 0.25(A+B) — whatever H is.
    /// The loss here is the mean squared error of y = w·x + b on (0, 0.5) and (1, 1.5), so
    /// m = (w, b) = (1, 0.5).
    func testTrainedBendsReachTheClosedFormOptimumOfAQuadraticLoss() throws {
        let data = Dataset<Double>(x: Tensor(shape: [2, 1], storage: [0, 1]), y: .values(Tensor(shape: [2, 1], storage: [0.5, 1.5])))
        let a: [Double] = [2, -1], b: [Double] = [-1, 3], m: [Double] = [1, 0.5]
        let expected: [PathShape: [Double]] = [
            .bezier: (0..<2).map { 2.5 * m[$0] - 0.75 * (a[$0] + b[$0]) },
            .chain: (0..<2).map { 1.5 * m[$0] - 0.25 * (a[$0] + b[$0]) },
        ]
        for shape in [PathShape.bezier, .chain] {
            let spec = ModelSpec(kind: .mlp, hidden: [])
            let model: Model<Double> = try ModelBuilder.build(spec, dataShape: [1], outputs: 1, seed: 0)
            let bend: Model<Double> = try ModelBuilder.build(spec, dataShape: [1], outputs: 1, seed: 0)
            let config = TrainingConfig(batchSize: 2, epochs: 20_000, seed: 3, optimizer: OptimizerSpec(name: .sgd, lr: 0.1),
                                        schedule: LearningRateSchedule(kind: .cosine), loss: .mse)
            let trainer = try CurveTrainer(model: model, bend: bend, shape: shape, a: a, b: b, train: data, config: config)
            XCTAssertEqual(trainer.bendValues(), [0.5, 1], "the bend starts at the midpoint: the untrained curve is the line")
            while trainer.step < trainer.totalSteps { trainer.trainStep() }
            let c = trainer.bendValues(), want = expected[shape]!
            for i in 0..<2 { XCTAssertEqual(c[i], want[i], accuracy: 0.02, "\(shape) bend \(c) vs the closed form \(want)") }
        }
    }

    func testTheDrawsOfTAreUniformAndFixedByTheSeed() throws {
        let data = Dataset<Double>(x: Tensor(shape: [2, 1], storage: [0, 1]), y: .values(Tensor(shape: [2, 1], storage: [0, 1])))
        func trainer(seed: UInt64) throws -> CurveTrainer<Double> {
            let spec = ModelSpec(kind: .mlp, hidden: [])
            return try CurveTrainer(model: try ModelBuilder.build(spec, dataShape: [1], outputs: 1, seed: 0),
                                    bend: try ModelBuilder.build(spec, dataShape: [1], outputs: 1, seed: 0), shape: .bezier,
                                    a: [0, 0], b: [1, 1], train: data,
                                    config: TrainingConfig(batchSize: 2, epochs: 1, seed: seed, optimizer: OptimizerSpec(name: .sgd, lr: 0.1), loss: .mse))
        }
        let one = try trainer(seed: 1), again = try trainer(seed: 1), other = try trainer(seed: 2)
        let ts = (0..<20_000).map { one.t(at: $0) }
        XCTAssertEqual(ts, (0..<20_000).map { again.t(at: $0) })
        XCTAssertNotEqual(ts.prefix(10).map { $0 }, (0..<10).map { other.t(at: $0) })
        XCTAssertTrue(ts.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(ts.reduce(0, +) / 20_000, 0.5, accuracy: 0.01)
        XCTAssertEqual(ts.reduce(0) { $0 + $1 * $1 } / 20_000, 1.0 / 3, accuracy: 0.01)
        XCTAssertThrowsError(try CurveTrainer(model: one.model, bend: one.bend, shape: .line, a: [0, 0], b: [1, 1], train: data, config: one.config))
    }
}
