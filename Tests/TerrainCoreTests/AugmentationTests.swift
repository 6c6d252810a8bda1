import Foundation
import TerrainCore
import XCTest

/// Training-time augmentation: torchvision's RandomCrop(padding) + RandomHorizontalFlip,
/// drawn from (seed, epoch, sample) only, and never applied at evaluation.
final class AugmentationTests: XCTestCase {
    static let (n, c, h, w) = (40, 2, 4, 6)

    /// Raw value of element (c, h, w) of image i.
    static func raw(_ i: Int, _ ch: Int, _ y: Int, _ x: Int) -> UInt8 { UInt8((i * 29 + ch * 101 + y * 17 + x * 5 + 1) % 256) }

    /// A stored NPZ of `n` uint8 NCHW images [2, 4, 6] with labels i mod 3, loaded with
    /// normalization and (optionally) augmentation.
    func images(augment: String?) throws -> Dataset<Float> {
        let dir = NSTemporaryDirectory() + "terrain-augment-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        var px = [UInt8]()
        for i in 0..<Self.n { for ch in 0..<Self.c { for y in 0..<Self.h { for x in 0..<Self.w { px.append(Self.raw(i, ch, y, x)) } } } }
        let members: [(name: String, npy: [UInt8])] = [
            ("x_train", NPY.encode(uint8s: px, shape: [Self.n, Self.c, Self.h, Self.w])),
            ("y_train", NPY.encode(int64s: (0..<Self.n).map { Int64($0 % 3) }, shape: [Self.n])),
        ]
        try Data(NPZ.write(members)).write(to: URL(fileURLWithPath: dir + "/i.npz"))
        var yaml = "path: \(dir)/i.npz\nlayout: nchw\nscale: 0.00392156862745098\nnormalize: {mean: [0.4, 0.6], std: [0.2, 0.3]}"
        if let augment { yaml += "\naugment: \(augment)" }
        return try ImageDataTests.load(yaml).train
    }

    /// The reference: pad the raw image with `p` zeros, cut the H×W window at (i, j), mirror
    /// it when flipped, then normalize.
    static func reference(_ index: Int, p: Int, i: Int, j: Int, flip: Bool) -> [Float] {
        let (ph, pw) = (h + 2 * p, w + 2 * p)
        var padded = [Double](repeating: 0, count: c * ph * pw)
        for ch in 0..<c { for y in 0..<h { for x in 0..<w { padded[(ch * ph + y + p) * pw + x + p] = Double(raw(index, ch, y, x)) } } }
        let mean = [0.4, 0.6], std = [0.2, 0.3]
        var out = [Float]()
        for ch in 0..<c {
            for y in 0..<h {
                for x in 0..<w {
                    let v = padded[(ch * ph + y + i) * pw + (flip ? w - 1 - x : x) + j]
                    out.append(Float((v * 0.00392156862745098 - mean[ch]) / std[ch]))
                }
            }
        }
        return out
    }

    func testCropWithZeroPaddingThenFlipMatchesTheReference() throws {
        let data = try images(augment: "{crop: 2, flip: true}")
        let aug = try XCTUnwrap(data.augmentation)
        XCTAssertEqual(aug, ImageAugmentation(crop: 2, flip: true))
        let picked = [7, 0, 39, 12, 12]
        for epoch in [0, 3] {
            let batch = data.trainingBatch(picked, seed: 11, epoch: epoch)
            XCTAssertEqual(batch.x.shape, [5, 2, 4, 6])
            XCTAssertEqual(batch.y, .classes(picked.map { $0 % 3 }))
            for (k, index) in picked.enumerated() {
                let d = aug.draw(seed: 11, epoch: epoch, index: index)
                let expected = Self.reference(index, p: 2, i: d.i, j: d.j, flip: d.flip)
                XCTAssertEqual(Array(batch.x.storage[(k * 48)..<((k + 1) * 48)]), expected, "sample \(index), epoch \(epoch), draw \(d)")
            }
        }
        // Offsets cover 0…2·crop uniformly enough, flips are fair.
        var seenI = Set<Int>(), seenJ = Set<Int>(), flips = 0
        for index in 0..<2000 {
            let d = aug.draw(seed: 5, epoch: 1, index: index)
            seenI.insert(d.i); seenJ.insert(d.j)
            if d.flip { flips += 1 }
        }
        XCTAssertEqual(seenI, Set(0...4))
        XCTAssertEqual(seenJ, Set(0...4))
        XCTAssertTrue((900...1100).contains(flips), "\(flips) flips of 2000")
        // A flip alone mirrors each row; a crop alone shifts with zeros (before normalization) coming in.
        let flipOnly = try images(augment: "{flip: true}")
        let f = ImageAugmentation(flip: true)
        let index = (0..<40).first { f.draw(seed: 2, epoch: 0, index: $0).flip }!
        XCTAssertEqual(flipOnly.trainingBatch([index], seed: 2, epoch: 0).x.storage, Self.reference(index, p: 0, i: 0, j: 0, flip: true))
    }

    func testTheDrawDependsOnlyOnSeedEpochAndSample() throws {
        let data = try images(augment: "{crop: 4, flip: true}")
        let a = data.trainingBatch([3, 1, 30], seed: 7, epoch: 2).x.storage
        let b = data.trainingBatch([30, 3], seed: 7, epoch: 2).x.storage
        XCTAssertEqual(Array(a[0..<48]), Array(b[48..<96]), "sample 3 is augmented the same at any batch position")
        XCTAssertEqual(Array(a[96..<144]), Array(b[0..<48]))
        let all = Array(0..<40)
        XCTAssertNotEqual(data.trainingBatch(all, seed: 7, epoch: 2).x, data.trainingBatch(all, seed: 7, epoch: 3).x)
        XCTAssertNotEqual(data.trainingBatch(all, seed: 7, epoch: 2).x, data.trainingBatch(all, seed: 8, epoch: 2).x)
        // A subset keeps each image's draw (keyed by its row in the file, not its position).
        let sub = data.subset(10, seed: 1)
        let rows = try XCTUnwrap(sub.imageRows)
        XCTAssertEqual(sub.trainingBatch(0..<10, seed: 7, epoch: 2).x, data.trainingBatch(rows, seed: 7, epoch: 2).x)
    }

    func testEvaluationNeverAugments() throws {
        let plain = try images(augment: nil)
        let augmented = try images(augment: "{crop: 3, flip: true}")
        XCTAssertNil(plain.augmentation)
        XCTAssertEqual(augmented.batch([1, 2]).x, plain.batch([1, 2]).x)
        XCTAssertEqual(augmented.inputs(0..<40), plain.inputs(0..<40))
        XCTAssertEqual(plain.trainingBatch([1, 2], seed: 1, epoch: 0).x, plain.batch([1, 2]).x)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8]), dataShape: [2, 4, 6], outputs: 3, seed: 0)
        XCTAssertEqual(Evaluator.evaluate(model, on: augmented, loss: .crossEntropy, chunkSize: 7),
                       Evaluator.evaluate(model, on: plain, loss: .crossEntropy, chunkSize: 7))
        XCTAssertNil(augmented.holdOut(5, seed: 0).heldOut.augmentation)
        XCTAssertNotNil(augmented.holdOut(5, seed: 0).rest.augmentation)
        XCTAssertNil(augmented.split(testFraction: 0.2, seed: 0).test.augmentation)
    }

    func testResumedTrainingWithAugmentationIsBitIdentical() throws {
        let data = try images(augment: "{crop: 2, flip: true}")
        let spec = ModelSpec(kind: .mlp, hidden: [16])
        let config = TrainingConfig(batchSize: 8, epochs: 3, seed: 4, optimizer: OptimizerSpec(name: .sgd, lr: 0.05, momentum: 0.9))
        func fresh(_ seed: UInt64 = 1) throws -> Model<Float> { try ModelBuilder.build(spec, dataShape: [2, 4, 6], outputs: 3, seed: seed) }
        let full = try fresh()
        try Trainer(model: full, train: data, config: config).run()

        let first = try fresh()
        let t1 = try Trainer(model: first, train: data, config: config)
        try t1.run(until: 7)  // mid-way through the second epoch
        let path = NSTemporaryDirectory() + "terrain-augment-resume-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model: first, optimizer: t1.optimizer, step: t1.step, to: path)
        let second = try fresh(99)
        let t2 = try Trainer(model: second, train: data, config: config)
        t2.resume(atStep: try Checkpoint.load(path, into: second, optimizer: t2.optimizer).step)
        try t2.run()
        for (p, q) in zip(full.parameters, second.parameters) {
            XCTAssertEqual(p.value.storage, q.value.storage, "\(p.name): resumed run differs")
        }
        // The augmentation took part: without it the run ends elsewhere.
        let unaugmented = try fresh()
        var plain = data
        plain.augmentation = nil
        try Trainer(model: unaugmented, train: plain, config: config).run()
        XCTAssertNotEqual(unaugmented.parameters[0].value.storage, full.parameters[0].value.storage)
    }
}
