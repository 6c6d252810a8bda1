import Foundation
import TerrainCore
import XCTest

/// The generated 32×32 shapes set: deterministic, balanced, written by `terrain data shapes`
/// as NPZ or CIFAR-10 files that load to the same images, and learnable by a small ResNet.
final class ShapesDatasetTests: XCTestCase {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "terrain-shapes-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testGenerationIsDeterministicBalancedAndExtendsSmallerSets() {
        let a = ShapesDataset.generate(count: 30, seed: 1, part: "train")
        XCTAssertEqual(a.pixels.count, 30 * 32 * 32 * 3)
        XCTAssertEqual(a.labels, (0..<30).map { $0 % 10 })
        XCTAssertEqual(ShapesDataset.generate(count: 30, seed: 1, part: "train").pixels, a.pixels)
        let small = ShapesDataset.generate(count: 12, seed: 1, part: "train")
        XCTAssertEqual(small.pixels, Array(a.pixels[0..<(12 * 3072)]))
        XCTAssertNotEqual(ShapesDataset.generate(count: 30, seed: 2, part: "train").pixels, a.pixels)
        XCTAssertNotEqual(ShapesDataset.generate(count: 30, seed: 1, part: "test").pixels, a.pixels)
        // Every image has a background and a shape: many distinct values, not saturated.
        for i in 0..<30 {
            let image = a.pixels[(i * 3072)..<((i + 1) * 3072)]
            XCTAssertGreaterThan(Set(image).count, 40, "image \(i)")
        }
        let stats = ShapesDataset.channelStatistics(a.pixels)
        for c in 0..<3 {
            XCTAssertTrue((0.35...0.65).contains(stats.mean[c]) && (0.15...0.4).contains(stats.std[c]), "\(stats)")
        }
    }

    func testCLIWritesNPZAndCIFARFilesThatLoadToTheSameImages() throws {
        let bin = try TestSupport.terrainBinary()
        let dir = try tempDir()
        let npz = try TestSupport.run(bin, ["data", "shapes", "--train", "23", "--test", "7", "--seed", "4", "--output", dir + "/s.npz"])
        XCTAssertEqual(npz.status, 0, npz.error)
        XCTAssertTrue(npz.output.contains("normalize: {mean: ["), npz.output)
        let cifar = try TestSupport.run(bin, ["data", "shapes", "--train", "23", "--test", "7", "--seed", "4",
                                              "--format", "cifar10", "--output", dir + "/c"])
        XCTAssertEqual(cifar.status, 0, cifar.error)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/c").sorted()
        XCTAssertEqual(files, (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin"])
        let a = try DataLoader.load(DataSpec(path: dir + "/s.npz"), baseDirectory: "/", seed: 0, as: Float.self)
        var spec = DataSpec(path: dir + "/c")
        spec.format = .cifar10
        let b = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
        XCTAssertEqual(a.train.sampleShape, [3, 32, 32])
        XCTAssertEqual(a.train.imageStore?.layout, .nhwc)
        XCTAssertEqual(b.train.imageStore?.layout, .nchw)
        XCTAssertEqual(a.train.x, b.train.x)
        XCTAssertEqual(a.train.y, b.train.y)
        XCTAssertEqual(a.test?.x, b.test?.x)
        XCTAssertEqual(a.test?.count, 7)
        // The images are the library's, byte for byte (NHWC in the NPZ).
        let generated = ShapesDataset.generate(count: 23, seed: 4, part: "train")
        XCTAssertEqual(a.train.inputs(5..<6).storage[2 * 1024 + 3 * 32 + 7], Float(generated.pixels[5 * 3072 + (3 * 32 + 7) * 3 + 2]))
        // `terrain data info` describes a spec's data.
        let yaml = dir + "/spec.yaml"
        try "model: {kind: mlp}\ndata: {path: c, format: cifar10, augment: {crop: 4, flip: true}}\noptimizer: {name: sgd, lr: 0.1}\ntraining: {batch_size: 8, epochs: 1}\n"
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        let info = try TestSupport.run(bin, ["data", "info", yaml])
        XCTAssertEqual(info.status, 0, info.error)
        XCTAssertTrue(info.output.contains("train: 23 samples of shape [3, 32, 32], uint8 nchw memory-mapped"), info.output)
        XCTAssertTrue(info.output.contains("augmented in training (crop padding 4, flip true)"), info.output)
        XCTAssertTrue(info.output.contains("classes: 10"), info.output)
        let bad = try TestSupport.run(bin, ["data", "shapes", "--train", "0", "--output", dir + "/x.npz"])
        XCTAssertNotEqual(bad.status, 0)
    }

    /// ResNet-20 (16/32/64 channels, three basic blocks per stage, BatchNorm; 272k parameters)
    /// trained for 6 epochs on 2,000 generated images (batch 32, Adam 1e-3, cosine; 378 steps,
    /// ≈ 70 s of CPU on one core of an AMD EPYC) reaches 81.4 % test accuracy on 500 test
    /// images (chance: 10 %), measured when this test was written; the test asks for 60 %,
    /// leaving room for kernels that round differently. (At Adam 3e-3 the same budget stays
    /// near chance: 12.4 %.)
    func testResNet20LearnsTheShapes() throws {
        let dir = try tempDir()
        let train = ShapesDataset.generate(count: 2000, seed: 1, part: "train")
        let test = ShapesDataset.generate(count: 500, seed: 1, part: "test")
        try Data(ShapesDataset.npz(train: train, test: test)).write(to: URL(fileURLWithPath: dir + "/shapes.npz"))
        let stats = ShapesDataset.channelStatistics(train.pixels)
        var spec = DataSpec(path: dir + "/shapes.npz")
        spec.scale = 1.0 / 255
        spec.normalize = .init(mean: stats.mean, std: stats.std)
        let (trainSet, testSet) = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(
            ModelSpec(kind: .resnet, channels: [16, 32, 64], inputShape: [3, 32, 32], blocksPerStage: 3),
            dataShape: trainSet.sampleShape, outputs: 10, seed: TerrainRNG.derive(0, "init"))
        let config = TrainingConfig(batchSize: 32, epochs: 6, seed: TerrainRNG.derive(0, "data"),
                                    optimizer: OptimizerSpec(name: .adam, lr: 0.001),
                                    schedule: LearningRateSchedule(kind: .cosine))
        try Trainer(model: model, train: trainSet, config: config).run()
        let metrics = Evaluator.evaluate(model, on: try XCTUnwrap(testSet), loss: .crossEntropy)
        print("shapes: ResNet-20 test accuracy \(metrics.accuracy!) after 6 epochs of 2000 images")
        XCTAssertGreaterThanOrEqual(metrics.accuracy!, 0.60)
    }
}
