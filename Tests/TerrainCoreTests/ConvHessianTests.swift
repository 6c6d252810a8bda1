import TerrainCore
import XCTest

/// The R-operator on convolutional networks (convolutions 1-D and 2-D, BatchNorm in
/// evaluation mode with and without its fused ReLU, residual blocks with projection and
/// zero-padding shortcuts, average and max pooling) against the Float64 finite-difference
/// oracle, which differentiates the network's own forward/backward code independently.
final class ConvHessianTests: XCTestCase {
    /// `count` random images `[C, H, W]` with random labels.
    private func images<T: TensorScalar>(_: T.Type, count: Int, shape: [Int], seed: UInt64) -> Dataset<T> {
        var rng = TerrainRNG(seed: seed)
        let x = Tensor<T>(shape: [count] + shape, storage: (0..<(count * shape.reduce(1, *))).map { _ in T(rng.normal()) })
        return Dataset(x: x, y: .classes((0..<count).map { _ in Int(rng.next() % 10) }), classes: 10)
    }

    /// `spec` on `data`, trained briefly so that BatchNorm's running statistics, γ and β are
    /// not their initial values.
    private func trained<T: TensorScalar>(_ spec: ModelSpec, _ data: Dataset<T>) throws -> Model<T> {
        let model: Model<T> = try ModelBuilder.build(spec, dataShape: data.sampleShape, outputs: 10, seed: 5)
        try Trainer(model: model, train: data, config: TrainingConfig(batchSize: 4, epochs: 2, seed: 1,
                                                                      optimizer: OptimizerSpec(name: .sgd, lr: 0.05, momentum: 0.9))).run()
        return model
    }

    private func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        let diff = zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return (diff / max(Kernels.dot(b, b), 1e-300)).squareRoot()
    }

    private func randomVectors(_ count: Int, dimension: Int, seed: UInt64) -> [[Double]] {
        var rng = TerrainRNG(seed: seed)
        return (0..<count).map { _ in (0..<dimension).map { _ in rng.normal() } }
    }

    /// Small members of every convolutional family, each with the layers it exercises.
    private func networks() -> [(name: String, spec: ModelSpec, shape: [Int])] {
        var resnet20 = ModelSpec(kind: .resnet20)
        resnet20.width = 0.25
        var zeroPad = ModelSpec(kind: .resnet20, shortcut: .zeroPad)
        zeroPad.width = 0.25
        var noShort = ModelSpec(kind: .resnet20NoShort)
        noShort.width = 0.25
        var vgg = ModelSpec(kind: .vgg9)
        vgg.width = 0.0625
        return [
            ("cnn, conv + ReLU + linear", ModelSpec(kind: .cnn, channels: [4, 6], inputShape: [2, 9, 9], kernelSize: 3, stride: 2), [2, 9, 9]),
            ("cnn with BatchNorm", ModelSpec(kind: .cnn, channels: [4, 6], inputShape: [2, 8, 8], kernelSize: 3, stride: 1, batchNorm: true), [2, 8, 8]),
            ("resnet family (projection shortcut)", ModelSpec(kind: .resnet, channels: [4, 6], inputShape: [3, 8, 8], kernelSize: 3, stride: 2, blocksPerStage: 1), [3, 8, 8]),
            ("resnet20 width 0.25", resnet20, [3, 8, 8]),
            ("resnet20 zero-pad shortcut", zeroPad, [3, 8, 8]),
            ("resnet20 without skips", noShort, [3, 8, 8]),
            ("vgg9 (max pooling, BatchNorm1d)", vgg, [3, 32, 32]),
            ("1-D cnn", ModelSpec(kind: .cnn, channels: [4, 4], inputShape: [1, 40], kernelSize: 5, stride: 2, batchNorm: true), [1, 40]),
        ]
    }

    /// In Float64 every product equals the central-difference oracle (frozen ReLU/max-pool
    /// patterns) to its O(h²) and rounding error, for cross-entropy and MSE.
    func testConvolutionalProductsEqualTheFiniteDifferenceOracle() throws {
        for (name, spec, shape) in networks() {
            let data = images(Double.self, count: 12, shape: shape, seed: 7)
            let model: Model<Double> = try trained(spec, data)
            for loss in [LossKind.crossEntropy, .mse] {
                let h = try HessianOperator(model: model, data: data, loss: loss)
                XCTAssertEqual(h.method, "r-operator", name)
                let vectors = randomVectors(2, dimension: h.dimension, seed: 3)
                for (v, hv) in zip(vectors, h.products(vectors)) {
                    let oracle = h.differenceProduct(v)
                    XCTAssertGreaterThan(Kernels.dot(oracle, oracle), 0, name)
                    XCTAssertLessThan(relativeError(hv, oracle), 1e-6, "\(name), \(loss)")
                }
            }
        }
    }

    /// A pruned convolution: masked coordinates stay zero and the rest match the oracle.
    func testPrunedConvolutionsKeepTheirMask() throws {
        let data = images(Double.self, count: 8, shape: [3, 8, 8], seed: 2)
        var spec = ModelSpec(kind: .resnet20)
        spec.width = 0.25
        let model: Model<Double> = try trained(spec, data)
        var mask = Tensor<Double>(shape: model.parameters[0].shape, repeating: 1)
        for i in stride(from: 0, to: mask.count, by: 2) { mask.storage[i] = 0 }
        model.parameters[0].mask = mask
        let h = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let v = randomVectors(1, dimension: h.dimension, seed: 4)[0]
        let hv = h.product(v)
        XCTAssertLessThan(relativeError(hv, h.differenceProduct(v)), 1e-6)
        for i in stride(from: 0, to: mask.count, by: 2) { XCTAssertEqual(hv[i], 0, "masked coordinate \(i)") }
    }

    /// A vector's product has the same bits alone or anywhere in a block, across chunks.
    func testConvolutionalBlockSizeDoesNotChangeTheBits() throws {
        let data = images(Float.self, count: 20, shape: [3, 32, 32], seed: 1)
        var spec = ModelSpec(kind: .resnet20)
        spec.width = 0.25
        let model: Model<Float> = try trained(spec, data)
        // Recomputed base passes: the engine runs passes of `blockLimit` vectors.
        let h = try XCTUnwrap(BlockHessianProduct(model: model, data: data, loss: .crossEntropy, cacheBytes: 0))
        XCTAssertEqual(h.passWidth, BlockHessianProduct<Float>.blockLimit)
        XCTAssertGreaterThan(data.count, h.chunkSize, "several chunks")
        let vectors = randomVectors(5, dimension: h.dimension, seed: 9)
        let block = h.products(vectors)
        for (i, v) in vectors.enumerated() { XCTAssertEqual(h.products([v])[0], block[i], "vector \(i)") }
        XCTAssertEqual(h.products(Array(vectors[1..<4])), Array(block[1..<4]))
    }

    /// Keeping the base passes between blocks (when memory allows; one vector per pass) or
    /// recomputing them for every block (passes of four) gives the same bits, block after block.
    func testKeptAndRecomputedBasePassesGiveTheSameBits() throws {
        let data = images(Float.self, count: 20, shape: [3, 32, 32], seed: 4)
        var spec = ModelSpec(kind: .resnet20)
        spec.width = 0.25
        let model: Model<Float> = try trained(spec, data)
        let kept = try XCTUnwrap(BlockHessianProduct(model: model, data: data, loss: .crossEntropy, cacheBytes: 1 << 40))
        let recomputed = try XCTUnwrap(BlockHessianProduct(model: model, data: data, loss: .crossEntropy, cacheBytes: 0))
        XCTAssertTrue(kept.keepsBasePasses)
        XCTAssertFalse(recomputed.keepsBasePasses)
        XCTAssertGreaterThan(data.count, kept.chunkSize, "several chunks")
        for seed: UInt64 in [3, 5] {
            let vectors = randomVectors(3, dimension: kept.dimension, seed: seed)
            XCTAssertEqual(kept.products(vectors), recomputed.products(vectors), "block of seed \(seed)")
        }
    }

    /// The Float32 R-operator of a ResNet-20 against the Float64 difference path: λ_max and
    /// the Hutchinson trace (same probes) within 0.1 %.
    func testFloatResNetCurvatureAgreesWithTheFloat64Path() throws {
        let data = images(Float.self, count: 16, shape: [3, 8, 8], seed: 6)
        var spec = ModelSpec(kind: .resnet20)
        spec.width = 0.5
        let model: Model<Float> = try trained(spec, data)
        let fast = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let slow = try HessianOperator(model: model, data: data, loss: .crossEntropy, method: .differences)
        XCTAssertEqual(fast.method, "r-operator")
        let lf = fast.largestEigenvalue(steps: 20, seed: 2), ls = slow.largestEigenvalue(steps: 20, seed: 2)
        XCTAssertEqual(lf, ls, accuracy: 1e-3 * abs(ls))
        let indices: [UInt64] = [0, 1, 2, 3]
        let tf = fast.hutchinsonSamples(seed: 1, indices: indices).reduce(0, +)
        let ts = slow.hutchinsonSamples(seed: 1, indices: indices).reduce(0, +)
        XCTAssertEqual(tf, ts, accuracy: 1e-3 * abs(ts))
    }
}
