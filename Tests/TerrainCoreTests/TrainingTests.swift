import TerrainCore
import XCTest

/// End-to-end training on MNIST-1D: the example models reach their accuracy targets and a
/// run is a pure function of its seed.
final class TrainingTests: XCTestCase {
    static let mlpConfig = TrainingConfig(
        batchSize: 128, epochs: 30, seed: 1,
        optimizer: OptimizerSpec(name: .sgd, lr: 0.1, momentum: 0.9, weightDecay: 5e-4),
        schedule: LearningRateSchedule(kind: .cosine))

    static let cnnConfig = TrainingConfig(
        batchSize: 64, epochs: 40, seed: 1,
        optimizer: OptimizerSpec(name: .adam, lr: 3e-3),
        schedule: LearningRateSchedule(kind: .cosine, warmupSteps: 100))

    private func trainMLP(seed: UInt64) throws -> (Model<Float>, Metrics) {
        let (train, test) = try TestSupport.mnist1d()
        let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: seed)
        try Trainer(model: model, train: train, config: Self.mlpConfig).run()
        return (model, Evaluator.evaluate(model, on: test, loss: .crossEntropy))
    }

    func testExampleMLPReachesSixtyPercentOnMNIST1D() throws {
        let (_, test) = try trainMLP(seed: 0)
        print("example MLP test accuracy: \(test.accuracy!)")
        XCTAssertGreaterThanOrEqual(test.accuracy!, 0.60)
    }

    func testSameSeedGivesBitIdenticalWeights() throws {
        let (a, _) = try trainMLP(seed: 4)
        let (b, _) = try trainMLP(seed: 4)
        for (p, q) in zip(a.parameters, b.parameters) {
            XCTAssertEqual(p.value.storage, q.value.storage, "\(p.name) differs between identical runs")
        }
    }

    func testExampleCNNReachesEightyFivePercentOnMNIST1D() throws {
        let (train, test) = try TestSupport.mnist1d()
        let model: Model<Float> = try ModelBuilder.build(.exampleCNN, dataShape: [40], outputs: 10, seed: 0)
        try Trainer(model: model, train: train, config: Self.cnnConfig).run()
        let m = Evaluator.evaluate(model, on: test, loss: .crossEntropy)
        print("example CNN test accuracy: \(m.accuracy!)")
        XCTAssertGreaterThanOrEqual(m.accuracy!, 0.85)
    }

    func testResumingFromACheckpointContinuesTheUninterruptedRunExactly() throws {
        let (train, _) = try TestSupport.mnist1d()
        let data = train.prefix(1000)
        let config = TrainingConfig(batchSize: 100, epochs: 4, seed: 3,
                                    optimizer: OptimizerSpec(name: .adam, lr: 1e-3),
                                    schedule: LearningRateSchedule(kind: .cosine, warmupSteps: 5))
        let spec = ModelSpec(kind: .mlp, hidden: [32], dropout: 0.2)
        let full: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 2)
        try Trainer(model: full, train: data, config: config).run()

        let first: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 2)
        let t1 = try Trainer(model: first, train: data, config: config)
        try t1.run(until: 17)
        let path = NSTemporaryDirectory() + "terrain-resume-\(ProcessInfo.processInfo.processIdentifier).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model: first, optimizer: t1.optimizer, step: t1.step, to: path)

        let second: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 99)
        let t2 = try Trainer(model: second, train: data, config: config)
        let info = try Checkpoint.load(path, into: second, optimizer: t2.optimizer)
        XCTAssertEqual(info.step, 17)
        t2.resume(atStep: info.step)
        try t2.run()
        for (p, q) in zip(full.parameters, second.parameters) {
            XCTAssertEqual(p.value.storage, q.value.storage, "\(p.name): resumed run differs")
        }
    }

    func testMaskedWeightsStayExactlyZeroDuringTraining() throws {
        let (train, _) = try TestSupport.mnist1d()
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [16]), dataShape: [40], outputs: 10, seed: 0)
        var rng = TerrainRNG(seed: 1)
        for p in model.parameters where p.role == .weight {
            p.mask = Tensor(shape: p.shape, storage: (0..<p.count).map { _ in rng.uniform() < 0.5 ? 0 : 1 })
        }
        let config = TrainingConfig(batchSize: 50, epochs: 1, seed: 0,
                                    optimizer: OptimizerSpec(name: .adamw, lr: 1e-2, weightDecay: 0.1, samRho: 0.05))
        try Trainer(model: model, train: train.prefix(500), config: config).run()
        for p in model.parameters where p.role == .weight {
            for (v, m) in zip(p.value.storage, p.mask!.storage) where m == 0 { XCTAssertEqual(v, 0) }
            XCTAssertTrue(p.value.storage.contains { $0 != 0 })
        }
    }

    func testDivergingLearningRateIsReportedAsDivergence() throws {
        let (train, _) = try TestSupport.mnist1d()
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [32]), dataShape: [40], outputs: 10, seed: 0)
        let config = TrainingConfig(batchSize: 100, epochs: 3, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: 1e4))
        XCTAssertThrowsError(try Trainer(model: model, train: train.prefix(1000), config: config).run()) { error in
            guard case TrainingError.diverged = error else { return XCTFail("expected divergence, got \(error)") }
        }
    }
}

import Foundation
