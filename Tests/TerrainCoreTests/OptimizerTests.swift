import Foundation
import TerrainCore
import XCTest

/// Update rules against values worked out by hand from PyTorch's definitions.
final class OptimizerTests: XCTestCase {
    private func parameter(_ values: [Double], grad: [Double]) -> Parameter<Double> {
        let p = Parameter<Double>("w", role: .weight, value: Tensor(shape: [values.count], storage: values))
        p.grad.storage = grad
        return p
    }

    func testSGDWithMomentumAndWeightDecayFollowsPyTorch() {
        let p = parameter([1.0], grad: [0.5])
        let sgd = SGD([p], momentum: 0.9, weightDecay: 0.1)
        sgd.step(lr: 0.1)
        // d = 0.5 + 0.1·1 = 0.6; buf = 0.6; w = 1 − 0.06 = 0.94
        XCTAssertEqual(p.value.storage[0], 0.94, accuracy: 1e-12)
        sgd.step(lr: 0.1)
        // d = 0.5 + 0.094 = 0.594; buf = 0.9·0.6 + 0.594 = 1.134; w = 0.94 − 0.1134
        XCTAssertEqual(p.value.storage[0], 0.94 - 0.1134, accuracy: 1e-12)
    }

    func testNesterovUsesTheLookAheadGradient() {
        let p = parameter([0.0], grad: [1.0])
        let sgd = SGD([p], momentum: 0.5, nesterov: true)
        sgd.step(lr: 1)   // buf = 1; step = 1 + 0.5·1 = 1.5
        XCTAssertEqual(p.value.storage[0], -1.5, accuracy: 1e-12)
        sgd.step(lr: 1)   // buf = 0.5 + 1 = 1.5; step = 1 + 0.75 = 1.75
        XCTAssertEqual(p.value.storage[0], -3.25, accuracy: 1e-12)
    }

    func testAdamFirstStepMovesByTheLearningRate() {
        let p = parameter([1.0, -2.0], grad: [0.3, -4.0])
        let adam = Adam([p])
        adam.step(lr: 0.01)
        // m̂ = g, v̂ = g², step = lr·g/(|g| + ε) ≈ lr·sign(g).
        XCTAssertEqual(p.value.storage[0], 1.0 - 0.01 * 0.3 / (0.3 + 1e-8), accuracy: 1e-12)
        XCTAssertEqual(p.value.storage[1], -2.0 + 0.01 * 4 / (4 + 1e-8), accuracy: 1e-12)
    }

    func testAdamWDecaysWeightsDecoupledFromTheGradient() {
        let p = parameter([2.0], grad: [0.0])
        let adamw = Adam([p], weightDecay: 0.1, decoupled: true)
        adamw.step(lr: 0.5)
        // Zero gradient: only the decay acts, w = 2·(1 − 0.5·0.1) = 1.9.
        XCTAssertEqual(p.value.storage[0], 1.9, accuracy: 1e-12)
        let q = parameter([2.0], grad: [0.0])
        let adam = Adam([q], weightDecay: 0.1)
        adam.step(lr: 0.5)
        // L2 Adam: d = 0.2, step = 0.5·0.2/(0.2 + ε) ≈ 0.5.
        XCTAssertEqual(q.value.storage[0], 1.5, accuracy: 1e-6)
    }

    /// SAM on f(θ) = ½ θᵀAθ: the update is θ − lr·A(θ + ρ·Aθ/‖Aθ‖).
    func testSAMTakesTheGradientAtThePerturbedPoint() throws {
        // A linear "model" y = w·x with MSE on one sample x = [1, 0], [0, 1] gives a diagonal A.
        let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp), dataShape: [2], outputs: 1, seed: 0)
        model.parameters[0].value.storage = [1.0, -1.0]
        model.parameters[1].value.storage = [0]
        let x = Tensor<Double>(shape: [2, 2], storage: [1, 0, 0, 2])
        let y = Tensor<Double>(shape: [2, 1], storage: [0, 0])
        // L = ½[(w0 + b)² + (2w1 + b)²]; with b the bias. Freeze b by a mask.
        model.parameters[1].mask = Tensor(shape: [1], storage: [0])
        let data = Dataset(x: x, y: .values(y))
        let rho = 0.1, lr = 0.01
        let config = TrainingConfig(batchSize: 2, epochs: 1, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: lr, samRho: rho), loss: .mse)
        try Trainer(model: model, train: data, config: config).run()
        // ∇L(w) = [w0, 4·w1] (mean over 2 samples of squared error gives ½·2(…)).
        let g = [1.0, -4.0]
        let n = (g[0] * g[0] + g[1] * g[1]).squareRoot()
        let wp = [1.0 + rho * g[0] / n, -1.0 + rho * g[1] / n]
        let gp = [wp[0], 4 * wp[1]]
        XCTAssertEqual(model.parameters[0].value.storage[0], 1.0 - lr * gp[0], accuracy: 1e-12)
        XCTAssertEqual(model.parameters[0].value.storage[1], -1.0 - lr * gp[1], accuracy: 1e-12)
        XCTAssertEqual(model.parameters[1].value.storage[0], 0)
    }

    func testSchedulesWarmUpDecayAndScaleWithBatchSize() {
        let warm = LearningRateSchedule(kind: .constant, warmupSteps: 4)
        XCTAssertEqual(warm.rate(base: 1, batchSize: 128, step: 0, totalSteps: 100, stepsPerEpoch: 10), 0.25)
        XCTAssertEqual(warm.rate(base: 1, batchSize: 128, step: 3, totalSteps: 100, stepsPerEpoch: 10), 1)
        XCTAssertEqual(warm.rate(base: 1, batchSize: 128, step: 50, totalSteps: 100, stepsPerEpoch: 10), 1)
        let step = LearningRateSchedule(kind: .step, decayEvery: 2, gamma: 0.5)
        XCTAssertEqual(step.rate(base: 1, batchSize: 128, step: 19, totalSteps: 100, stepsPerEpoch: 10), 1)
        XCTAssertEqual(step.rate(base: 1, batchSize: 128, step: 20, totalSteps: 100, stepsPerEpoch: 10), 0.5)
        XCTAssertEqual(step.rate(base: 1, batchSize: 128, step: 45, totalSteps: 100, stepsPerEpoch: 10), 0.25)
        let cosine = LearningRateSchedule(kind: .cosine, minFactor: 0.1)
        XCTAssertEqual(cosine.rate(base: 2, batchSize: 128, step: 0, totalSteps: 100, stepsPerEpoch: 10), 2, accuracy: 1e-12)
        XCTAssertEqual(cosine.rate(base: 2, batchSize: 128, step: 50, totalSteps: 100, stepsPerEpoch: 10), 2 * 0.55, accuracy: 1e-12)
        XCTAssertEqual(cosine.rate(base: 2, batchSize: 128, step: 100, totalSteps: 100, stepsPerEpoch: 10), 0.2, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule(scaling: .linear).scaledBaseRate(0.1, batchSize: 512), 0.4, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule(scaling: .sqrt).scaledBaseRate(0.1, batchSize: 512), 0.2, accuracy: 1e-12)
    }
}
