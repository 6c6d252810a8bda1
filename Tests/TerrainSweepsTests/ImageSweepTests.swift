import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// Sweeps over image data: every CIFAR file is checked and hashed, and the training and
/// surface tasks run on the mapped store (hold-outs, subsets, evaluation, BatchNorm
/// recomputation), giving what the dense copy gives.
final class ImageSweepTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-image-sweep-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let train = ShapesDataset.generate(count: 120, seed: 3, part: "train")
        let test = ShapesDataset.generate(count: 40, seed: 3, part: "test")
        func write(_ name: String, _ part: (pixels: [UInt8], labels: [Int]), _ range: Range<Int>) throws {
            let planes = ShapesDataset.channelPlanes(Array(part.pixels[(range.lowerBound * 3072)..<(range.upperBound * 3072)]))
            let bytes = CIFAR.encode(pixels: planes, labels: part.labels[range].map { [UInt8($0)] })
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try write("a.bin", train, 0..<60)
        try write("b.bin", train, 60..<120)
        try write("t.bin", test, 0..<40)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    var data: String {
        """
        {format: cifar10, train_files: [a.bin, b.bin], test_files: [t.bin], scale: 0.00392156862745098,
               normalize: {mean: [0.5, 0.5, 0.5], std: [0.29, 0.29, 0.29]}, augment: {crop: 4, flip: true}}
        """
    }

    func trainingSweep() throws -> SweepSpec {
        try SweepSpec.parse("""
            kind: training
            model: {kind: cnn, channels: [4], kernel_size: 3, stride: 4, input_shape: [3, 32, 32], batch_norm: true}
            data: \(data)
            training: {optimizer: {name: sgd, momentum: 0.9}, batch_size: 20, epochs: 2, eval_samples: 50, validation_samples: 20}
            grid: {lr: [0.05]}
            """, source: "images.yaml", baseDirectory: dir)
    }

    /// Runs a surface sweep in process and returns its assembled grid (metrics × points).
    func surfaceGrid(_ spec: SweepSpec, points: Int) throws -> [[Double]] {
        let outputs = try InProcessSweep.run(spec)
        return try SurfaceSpec.assemble(points: points, metrics: 2, outputs: try spec.expand().compactMap { t in
            outputs[t.id].map { (params: t.params, output: $0.output) }
        })
    }

    func testEveryCIFARFileIsCheckedAndHashed() throws {
        let spec = try trainingSweep()
        let params = try JSONDecoder().decode(RunKind.Params.self, from: Data(try spec.expand()[0].params))
        let digests = try ["a.bin", "b.bin", "t.bin"].flatMap { SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0))) }
        XCTAssertEqual(params.dataSHA256, SHA256.hex(SHA256.hash(digests)))
        XCTAssertEqual(params.data.trainFiles, [dir + "/a.bin", dir + "/b.bin"], "paths resolved against the spec's directory")
        // One file alone is hashed as its bytes.
        var one = DataSpec(path: dir + "/a.bin")
        one.format = .cifar10
        one.trainFiles = [dir + "/a.bin"]
        XCTAssertEqual(try one.sha256(), SHA256.hex(SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.bin")))))
        // Changing the second batch file changes the hash and the sweep's input fingerprint.
        let before = try spec.inputsFingerprint()
        var b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.bin"))
        b[5] ^= 1
        try b.write(to: URL(fileURLWithPath: dir + "/b.bin"))
        XCTAssertNotEqual(try spec.inputsFingerprint(), before)
        XCTAssertNotEqual(try trainingSweep().expand()[0].params, try spec.expand()[0].params)
        // A missing batch file is named by its field when the spec is read.
        try FileManager.default.removeItem(atPath: dir + "/b.bin")
        XCTAssertThrowsError(try trainingSweep()) { error in
            XCTAssertTrue("\(error)".contains("data.train_files[1]: \(dir)/b.bin: no such file"), "\(error)")
        }
    }

    func testATrainingSweepRunsOnTheMappedImages() throws {
        let spec = try trainingSweep()
        let record = try RunRecord.decode(try XCTUnwrap(InProcessSweep.run(spec)[1]).output)
        XCTAssertEqual(record.status, "completed")
        XCTAssertEqual(record.totalSteps, 10, "100 training images after the 20 held out, batch 20, 2 epochs")
        XCTAssertNotNil(record.testAccuracy)
        XCTAssertNotNil(record.validationAccuracy)
        XCTAssertTrue(record.trainLoss!.isFinite)
        // Running it again gives the same record (augmented training is deterministic).
        XCTAssertEqual(try RunRecord.decode(try XCTUnwrap(InProcessSweep.run(spec)[1]).output).trainLoss, record.trainLoss)
    }

    func testASurfaceWithBatchNormRecomputationRunsOnTheMappedImages() throws {
        let modelSpec = ModelSpec(kind: .resnet, channels: [4], inputShape: [3, 32, 32])
        var models = [Model<Float>]()
        for seed in [1, 2] as [UInt64] {
            let m: Model<Float> = try ModelBuilder.build(modelSpec, dataShape: [3, 32, 32], outputs: 10, seed: seed)
            try Checkpoint.save(model: m, step: 0, to: dir + "/m\(seed).safetensors")
            models.append(m)
        }
        let spec = try SweepSpec.parse("""
            kind: surface
            model: {kind: resnet, channels: [4], input_shape: [3, 32, 32]}
            data: \(data)
            surface:
              checkpoint: m1.safetensors
              x: "0:1:2"
              directions: {kind: interpolation, to: m2.safetensors}
              batch_norm: recompute
              sets: [train]
            """, source: "surface.yaml", baseDirectory: dir)
        let grid = try surfaceGrid(spec, points: 2)
        let (train, _) = try DataLoader.load(spec.surface!.data, baseDirectory: "/", seed: spec.surface!.dataSeed, as: Float.self)
        XCTAssertNotNil(train.imageStore)
        for (k, m) in models.enumerated() {
            Evaluator.recomputeBatchNormStatistics(m, on: train)
            let expected = Evaluator.evaluate(m, on: train, loss: .crossEntropy).loss
            XCTAssertEqual(grid[0][k], expected, accuracy: 1e-5 * expected, "endpoint \(k)")
        }
        // With `samples`, the statistics come from a fixed seeded subset of the training set.
        let subsetSpec = try SweepSpec.parse("""
            kind: surface
            model: {kind: resnet, channels: [4], input_shape: [3, 32, 32]}
            data: \(data)
            surface:
              checkpoint: m1.safetensors
              x: "0:1:2"
              directions: {kind: interpolation, to: m2.safetensors}
              batch_norm: {recompute: true, batch_size: 16, samples: 40}
              sets: [train]
            """, source: "surface.yaml", baseDirectory: dir)
        XCTAssertEqual(subsetSpec.surface?.recomputeSamples, 40)
        let subsetGrid = try surfaceGrid(subsetSpec, points: 2)
        let statistics = train.subset(40, seed: TerrainRNG.derive(subsetSpec.surface!.dataSeed, "batch-norm"))
        XCTAssertEqual(statistics.count, 40)
        for (k, m) in models.enumerated() {
            Evaluator.recomputeBatchNormStatistics(m, on: statistics, batchSize: 16)
            let expected = Evaluator.evaluate(m, on: train, loss: .crossEntropy).loss
            XCTAssertEqual(subsetGrid[0][k], expected, accuracy: 1e-5 * expected, "endpoint \(k), statistics of 40 samples")
            XCTAssertNotEqual(subsetGrid[0][k], grid[0][k])
        }
    }

    /// loss-landscape's `--dir_type states`: the statistics move with the parameters. Along
    /// the line from m1 to m2 the point at t has θ and the running statistics both at
    /// (1−t)·m1 + t·m2 (closed form), so t = 1 evaluates m2 exactly as m2 evaluates itself,
    /// where parameter-only directions keep m1's statistics.
    func testStatesDirectionsMoveTheBatchNormStatisticsAlongTheLine() throws {
        let modelSpec = ModelSpec(kind: .resnet, channels: [4], inputShape: [3, 32, 32])
        var models = [Model<Float>]()
        for seed in [1, 2] as [UInt64] {
            let m: Model<Float> = try ModelBuilder.build(modelSpec, dataShape: [3, 32, 32], outputs: 10, seed: seed)
            // Distinct statistics per model (fresh models all have mean 0, variance 1).
            var rng = TerrainRNG(seed: seed)
            for bn in StateSpace(m).norms {
                bn.runningMean = Tensor(shape: [bn.channels], storage: (0..<bn.channels).map { _ in Float(rng.normal() * 0.3) })
                bn.runningVar = Tensor(shape: [bn.channels], storage: (0..<bn.channels).map { _ in Float(0.5 + rng.uniform()) })
            }
            try Checkpoint.save(model: m, step: 0, to: dir + "/s\(seed).safetensors")
            models.append(m)
        }
        func surface(states: Bool) throws -> [Double] {
            let spec = try SweepSpec.parse("""
                kind: surface
                model: {kind: resnet, channels: [4], input_shape: [3, 32, 32]}
                data: \(data)
                surface:
                  checkpoint: s1.safetensors
                  x: "0:1:3"
                  directions: {kind: interpolation, to: s2.safetensors, states: \(states)}
                  sets: [train]
                """, source: "states.yaml", baseDirectory: dir)
            XCTAssertEqual(spec.surface?.states, states)
            return try surfaceGrid(spec, points: 3)[0]
        }
        let moving = try surface(states: true), fixed = try surface(states: false)
        let (images, _) = try DataLoader.load(try trainingSweep().trainingGrid!.data, baseDirectory: "/", seed: 0, as: Float.self)
        let own = models.map { Evaluator.evaluate($0, on: images, loss: .crossEntropy).loss }
        XCTAssertEqual(moving[0], own[0], accuracy: 1e-6 * own[0])
        XCTAssertEqual(fixed[0], own[0], accuracy: 1e-6 * own[0])
        XCTAssertEqual(moving[2], own[1], accuracy: 1e-5 * own[1], "t = 1 is m2 with its own statistics")
        XCTAssertGreaterThan(abs(fixed[2] - own[1]), 1e-3 * own[1], "parameter directions keep m1's statistics")
        // The midpoint: every state entry halfway, statistics included.
        let mid: Model<Float> = try ModelBuilder.build(modelSpec, dataShape: [3, 32, 32], outputs: 10, seed: 9)
        let a = StateSpace(models[0]).values(), b = StateSpace(models[1]).values()
        StateSpace(mid).setValues(zip(a, b).map { Float(0.5 * Double($0) + 0.5 * Double($1)) })
        let firstMean = StateSpace(mid).norms[0].runningMean.storage[0]
        let expectedMean = 0.5 * (StateSpace(models[0]).norms[0].runningMean.storage[0] + StateSpace(models[1]).norms[0].runningMean.storage[0])
        XCTAssertEqual(firstMean, expectedMean, accuracy: 1e-7)
        let expected = Evaluator.evaluate(mid, on: images, loss: .crossEntropy).loss
        XCTAssertEqual(moving[1], expected, accuracy: 1e-5 * expected)
        // States and recomputed statistics contradict each other: the spec says so.
        XCTAssertThrowsError(try SweepSpec.parse("""
            kind: surface
            model: {kind: resnet, channels: [4], input_shape: [3, 32, 32]}
            data: \(data)
            surface: {checkpoint: s1.safetensors, x: "0:1:2", directions: {states: true}, batch_norm: recompute}
            """, source: "both.yaml", baseDirectory: dir)) { error in
            XCTAssertTrue("\(error)".contains("surface.directions.states"), "\(error)")
        }
    }

    func testEvaluationGradientsAndBatchNormRecomputationMatchTheDenseCopy() throws {
        let spec = try trainingSweep()
        let (images, _) = try DataLoader.load(spec.trainingGrid!.data, baseDirectory: "/", seed: 0, as: Float.self)
        let subset = images.subset(70, seed: 2)
        let dense = Dataset(x: subset.x, y: subset.y, classes: subset.classes)
        XCTAssertNotNil(subset.imageStore)
        XCTAssertNil(dense.imageStore)
        let model: Model<Float> = try ModelBuilder.build(
            ModelSpec(kind: .resnet, channels: [4, 8], inputShape: [3, 32, 32]), dataShape: [3, 32, 32], outputs: 10, seed: 1)
        XCTAssertEqual(Evaluator.evaluate(model, on: subset, loss: .crossEntropy, chunkSize: 32),
                       Evaluator.evaluate(model, on: dense, loss: .crossEntropy, chunkSize: 32))
        let g1 = Evaluator.gradient(model, on: subset, loss: .crossEntropy, chunkSize: 32)
        let g2 = Evaluator.gradient(model, on: dense, loss: .crossEntropy, chunkSize: 32)
        XCTAssertEqual(g1.gradient, g2.gradient)
        Evaluator.recomputeBatchNormStatistics(model, on: subset, batchSize: 25)
        let a = model.namedBuffers.map(\.tensor)
        Evaluator.recomputeBatchNormStatistics(model, on: dense, batchSize: 25)
        XCTAssertEqual(a, model.namedBuffers.map(\.tensor))
        let h = try HessianOperator(model: model, data: subset.prefix(8), loss: .crossEntropy)
        XCTAssertTrue(h.data.imageStore === images.imageStore, "the Float64 operator reads the same map")
        // It normalizes the pixels in Float64 (the dense copy was rounded to Float first), so
        // the two agree to Float's precision, not bit for bit.
        let exact = h.gradient(), rounded = try HessianOperator(model: model, data: dense.prefix(8), loss: .crossEntropy).gradient()
        let scale = exact.map { abs($0) }.max()!
        for (a, b) in zip(exact, rounded) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale) }
        XCTAssertEqual(h.data.inputs(0..<8).storage, (0..<8).flatMap { i in
            images.imageStore!.tensor([subset.imageRows![i]], as: Double.self).storage
        })
    }
}
