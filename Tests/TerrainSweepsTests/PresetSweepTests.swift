import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// The presets in every kind of sweep: a surface between two checkpoints of
/// `resnet20_noshort`, a lottery level of `resnet20` (its convolutions and `linear` pruned by
/// their PyTorch names) and a training sweep of `vgg9`, on a small generated shapes set.
final class PresetSweepTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-preset-sweep-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let npz = ShapesDataset.npz(train: ShapesDataset.generate(count: 60, seed: 4, part: "train"),
                                    test: ShapesDataset.generate(count: 20, seed: 4, part: "test"))
        try Data(npz).write(to: URL(fileURLWithPath: dir + "/shapes.npz"))
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private let data = "{path: shapes.npz, scale: 0.00392156862745098, normalize: {mean: [0.5, 0.5, 0.5], std: [0.29, 0.29, 0.29]}}"

    func testASurfaceBetweenTwoPresetCheckpointsEndsAtTheirLosses() throws {
        let modelSpec = ModelSpec(kind: .resnet20NoShort)
        var models = [Model<Float>]()
        for seed in [1, 2] as [UInt64] {
            let m: Model<Float> = try ModelBuilder.build(modelSpec, dataShape: [3, 32, 32], outputs: 10, seed: seed)
            try Checkpoint.save(model: m, step: 0, to: dir + "/m\(seed).safetensors")
            models.append(m)
        }
        let spec = try SweepSpec.parse("""
            kind: surface
            model: {kind: resnet20_noshort}
            data: \(data)
            surface:
              checkpoint: m1.safetensors
              x: "0:1:3"
              directions: {kind: interpolation, to: m2.safetensors}
              sets: [train]
            """, source: "surface.yaml", baseDirectory: dir)
        let outputs = try InProcessSweep.run(spec)
        let tasks = try spec.expand()
        let grid = try SurfaceSpec.assemble(points: 3, metrics: 2, outputs: tasks.compactMap { t in
            outputs[t.id].map { (params: t.params, output: $0.output) }
        })
        let (train, _) = try DataLoader.load(spec.surface!.data, baseDirectory: "/", seed: spec.surface!.dataSeed, as: Float.self)
        for (k, m) in models.enumerated() {
            let expected = Evaluator.evaluate(m, on: train, loss: .crossEntropy).loss
            XCTAssertEqual(grid[0][2 * k], expected, accuracy: 1e-5 * expected, "endpoint \(k)")
        }
        XCTAssertNotEqual(grid[0][1], grid[0][0])
    }

    /// `batch_norm: recompute` on vgg9, whose `fc` block has a BatchNorm1d: at each end the
    /// statistics re-estimated over the training set, then evaluated.
    func testASurfaceWithBatchNormRecomputationOnVGG9() throws {
        var models = [Model<Float>]()
        for seed in [1, 2] as [UInt64] {
            let m: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .vgg9), dataShape: [3, 32, 32], outputs: 10, seed: seed)
            try Checkpoint.save(model: m, step: 0, to: dir + "/v\(seed).safetensors")
            models.append(m)
        }
        let spec = try SweepSpec.parse("""
            kind: surface
            model: {kind: vgg9}
            data: {path: shapes.npz, scale: 0.00392156862745098, train_subset: 20}
            surface:
              checkpoint: v1.safetensors
              x: "0:1:2"
              directions: {kind: interpolation, to: v2.safetensors}
              batch_norm: recompute
              sets: [train]
            """, source: "surface.yaml", baseDirectory: dir)
        let outputs = try InProcessSweep.run(spec)
        let grid = try SurfaceSpec.assemble(points: 2, metrics: 2, outputs: try spec.expand().compactMap { t in
            outputs[t.id].map { (params: t.params, output: $0.output) }
        })
        let (train, _) = try DataLoader.load(spec.surface!.data, baseDirectory: "/", seed: spec.surface!.dataSeed, as: Float.self)
        for (k, m) in models.enumerated() {
            let before = Evaluator.evaluate(m, on: train, loss: .crossEntropy).loss
            Evaluator.recomputeBatchNormStatistics(m, on: train)
            let expected = Evaluator.evaluate(m, on: train, loss: .crossEntropy).loss
            XCTAssertNotEqual(before, expected, "recomputing changes the statistics of a fresh network")
            XCTAssertEqual(grid[0][k], expected, accuracy: 1e-5 * expected, "endpoint \(k)")
        }
    }

    func testALotteryLevelPrunesThePresetsWeightsByName() throws {
        let spec = try SweepSpec.parse("""
            kind: lottery
            model: {kind: resnet20}
            data: \(data)
            training: {optimizer: {name: sgd, lr: 0.05, momentum: 0.9}, batch_size: 30, epochs: 1}
            lottery: {levels: 1, controls: []}
            """, source: "lottery.yaml", baseDirectory: dir)
        let out = try InProcessSweep.run(spec)
        let records = try out.values.map { try RunRecord.decode($0.output) }.sorted { $0.level! < $1.level! }
        XCTAssertEqual(records.map(\.status), ["completed", "completed"])
        let prunable = try XCTUnwrap(records[0].prunable)
        // Every convolution (19, shortcut projections included) and the output layer.
        XCTAssertEqual(prunable.count, 22)
        XCTAssertEqual(prunable["layer2.0.shortcut.0.weight"], 32 * 16)
        XCTAssertEqual(prunable["linear.weight"], 640)
        XCTAssertNil(prunable["bn1.weight"])
        XCTAssertEqual(records[1].density!, 0.8, accuracy: 1e-4)
    }

    func testATrainingSweepTrainsVGG9() throws {
        let spec = try SweepSpec.parse("""
            kind: training
            model: {kind: vgg9}
            data: \(data)
            training: {optimizer: {name: sgd, momentum: 0.9}, batch_size: 20, epochs: 1}
            grid: {lr: [0.01]}
            """, source: "training.yaml", baseDirectory: dir)
        let record = try RunRecord.decode(try XCTUnwrap(InProcessSweep.run(spec)[1]).output)
        XCTAssertEqual(record.status, "completed")
        XCTAssertEqual(record.totalSteps, 3)
        XCTAssertTrue(record.trainLoss!.isFinite)
    }

    func testAPresetSpecWithAFixedOptionIsRefusedNamingFileAndField() {
        XCTAssertThrowsError(try SweepSpec.parse("""
            kind: training
            model: {kind: resnet56, blocks_per_stage: 2}
            data: \(data)
            training: {optimizer: {name: sgd, momentum: 0.9}, batch_size: 20, epochs: 1}
            grid: {lr: [0.01]}
            """, source: "bad.yaml", baseDirectory: dir)) { error in
            XCTAssertTrue("\(error)".contains("bad.yaml"), "\(error)")
            XCTAssertTrue("\(error)".contains("model.blocks_per_stage"), "\(error)")
        }
    }
}
