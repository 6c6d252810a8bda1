import TerrainCore
import XCTest

/// Every layer's backward pass against central finite differences of its forward pass, in
/// Float64. The scalar objective is `f = Σ r ⊙ layer(x)` for a fixed random `r`, so
/// ∂f/∂output = r and the layer's backward must return ∂f/∂x and accumulate ∂f/∂θ.
final class LayerGradientTests: XCTestCase {
    private func check(_ layer: Layer<Double>, input shape: [Int], context: ForwardContext = .eval,
                       seed: UInt64 = 1, tolerance: Double = 1e-6, file: StaticString = #filePath, line: UInt = #line) {
        TestSupport.randomize(layer, seed: seed)
        let x: Tensor<Double> = TestSupport.randomTensor(shape, seed: seed &+ 100)
        let params = layer.namedParameters()
        let y = layer.forward(x, context: context)
        let r: Tensor<Double> = TestSupport.randomTensor(y.shape, seed: seed &+ 200)
        for p in params { p.grad.zero() }
        let dx = layer.backward(r)
        XCTAssertEqual(dx.shape, x.shape, "input gradient shape", file: file, line: line)

        func objective(_ input: Tensor<Double>) -> Double {
            let out = layer.forward(input, context: context)
            return zip(out.storage, r.storage).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6
        func compare(_ analytic: Double, _ numeric: Double, _ what: String) {
            let scale = max(1, abs(analytic), abs(numeric))
            XCTAssertLessThanOrEqual(abs(analytic - numeric), tolerance * scale,
                                     "\(what): analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
        }
        // Input gradient: every coordinate for small inputs, a spread sample for larger ones.
        let stride = max(1, x.count / 60)
        for i in Swift.stride(from: 0, to: x.count, by: stride) {
            var xp = x, xm = x
            xp.storage[i] += h
            xm.storage[i] -= h
            compare(dx.storage[i], (objective(xp) - objective(xm)) / (2 * h), "∂f/∂x[\(i)]")
        }
        for p in params {
            let analytic = p.grad.storage
            let pstride = max(1, p.count / 40)
            for i in Swift.stride(from: 0, to: p.count, by: pstride) {
                let v = p.value.storage[i]
                p.value.storage[i] = v + h
                let fp = objective(x)
                p.value.storage[i] = v - h
                let fm = objective(x)
                p.value.storage[i] = v
                compare(analytic[i], (fp - fm) / (2 * h), "∂f/∂\(p.name)[\(i)]")
            }
        }
    }

    func testLinearBackwardMatchesFiniteDifferences() {
        check(Linear(inFeatures: 7, outFeatures: 5), input: [4, 7])
        check(Linear(inFeatures: 3, outFeatures: 6, bias: false), input: [2, 3])
    }

    /// Channels-last inputs `[N, H, W, C]` (activations inside a network), and the
    /// channels-first `[N, C, H, W]` a network's first convolution reads; stride 1 (input
    /// gradient by the transposed convolution), strided and 1×1 (scattered).
    func testConv2dBackwardMatchesFiniteDifferencesIn2D() {
        check(Conv2d(inChannels: 3, outChannels: 4, kernelSize: 3, stride: 1, padding: 1), input: [2, 5, 6, 3])
        check(Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 0), input: [2, 7, 7, 2])
        check(Conv2d(inChannels: 2, outChannels: 2, kernelSize: 1, stride: 2, bias: false), input: [3, 4, 4, 2])
        check(Conv2d(inChannels: 3, outChannels: 5, kernelSize: 3, stride: 2, padding: 1), input: [2, 6, 5, 3])
        check(Conv2d(inChannels: 3, outChannels: 4, kernelSize: 3, stride: 1, padding: 1, channelsFirstInput: true), input: [2, 3, 5, 6])
        check(Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, channelsFirstInput: true), input: [2, 2, 5, 5])
    }

    func testConv2dBackwardMatchesFiniteDifferencesIn1D() {
        check(Conv2d(inChannels: 1, outChannels: 4, kernelSize: 5, stride: 2, padding: 2, spatialDimensions: 1,
                     channelsFirstInput: true), input: [3, 1, 12])
        check(Conv2d(inChannels: 3, outChannels: 2, kernelSize: 3, stride: 1, padding: 1, spatialDimensions: 1), input: [2, 9, 3])
        check(Conv2d(inChannels: 4, outChannels: 3, kernelSize: 5, stride: 2, padding: 2, spatialDimensions: 1), input: [2, 11, 4])
    }

    func testActivationsBackwardMatchFiniteDifferences() {
        check(ReLU(), input: [3, 8])
        check(Tanh(), input: [3, 8])
        check(GELU(), input: [4, 9])
    }

    func testBatchNormBackwardMatchesFiniteDifferencesInTrainingAndEvalMode() {
        check(BatchNorm(channels: 4), input: [6, 4], context: .train())
        check(BatchNorm(channels: 3), input: [4, 2, 3, 3], context: .train())
        check(BatchNorm(channels: 3), input: [4, 5, 3], context: .train())
        check(BatchNorm(channels: 8), input: [3, 2, 2, 8], context: .train())   // the 8-channel SIMD path
        let bn = BatchNorm<Double>(channels: 3)
        bn.runningMean = Tensor(shape: [3], storage: [0.1, -0.2, 0.3])
        bn.runningVar = Tensor(shape: [3], storage: [0.5, 1.5, 2.0])
        check(bn, input: [4, 2, 2, 3], context: .eval)
    }

    /// A BatchNorm with its ReLU fused (as models do) has the gradient of the two layers.
    func testBatchNormWithFusedReLUMatchesFiniteDifferences() {
        for (channels, context) in [(3, ForwardContext.train()), (8, .train()), (8, .eval)] {
            let bn = BatchNorm<Double>(channels: channels), relu = ReLU<Double>()
            bn.fuseReLU(relu)
            XCTAssertTrue(relu.isFused)
            check(Sequential([bn, relu]), input: [3, 2, 3, channels], context: context)
        }
    }

    func testLayerNormBackwardMatchesFiniteDifferences() {
        check(LayerNorm(normalizedShape: [6]), input: [4, 6])
        check(LayerNorm(normalizedShape: [2, 5]), input: [3, 2, 5])
    }

    func testPoolingBackwardMatchesFiniteDifferences() {
        check(Pool(.max, kernelSize: 2), input: [2, 4, 6, 3])
        check(Pool(.average, kernelSize: 2), input: [2, 4, 6, 3])
        check(Pool(.max, kernelSize: 3, stride: 2, spatialDimensions: 1), input: [2, 11, 2])
        check(Pool(.average, kernelSize: 2, spatialDimensions: 1), input: [2, 8, 2])
        check(GlobalAvgPool(), input: [3, 2, 3, 4])
    }

    func testShapeLayersBackwardMatchFiniteDifferences() {
        check(Flatten(), input: [2, 3, 4])
        check(Flatten(channelsLastInput: true), input: [2, 3, 4, 5])
        check(Unflatten([2, 5]), input: [3, 10])
    }

    func testDropoutBackwardMatchesFiniteDifferencesForAFixedKey() {
        check(Dropout(p: 0.3, streamID: 2), input: [4, 10], context: .train(seed: 7, step: 3))
        check(Dropout(p: 0.3), input: [4, 10], context: .eval)
    }

    func testResidualBlockBackwardMatchesFiniteDifferencesWithAndWithoutSkip() {
        for skip in [true, false] {
            let body: [(name: String, layer: Layer<Double>)] = [
                ("conv1", Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1)),
                ("bn1", BatchNorm(channels: 3)), ("relu", ReLU()),
                ("conv2", Conv2d(inChannels: 3, outChannels: 3, kernelSize: 3, padding: 1)),
                ("bn2", BatchNorm(channels: 3)),
            ]
            let shortcut = Sequential<Double>([Conv2d(inChannels: 2, outChannels: 3, kernelSize: 1, stride: 2), BatchNorm(channels: 3)])
            check(ResidualBlock(body: body, shortcut: skip ? shortcut : nil, useSkip: skip), input: [3, 6, 6, 2], context: .train())
        }
        // Identity shortcut.
        let body: [(name: String, layer: Layer<Double>)] = [
            ("conv1", Conv2d(inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1, spatialDimensions: 1)),
            ("relu", ReLU()),
            ("conv2", Conv2d(inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1, spatialDimensions: 1)),
        ]
        check(ResidualBlock(body: body, shortcut: nil, useSkip: true), input: [2, 7, 2])
    }

    /// He et al.'s option A, 2-D (odd sizes: the output keeps pixel 0, 2, 4) and 1-D, and in
    /// a residual block whose body halves the map and doubles the channels.
    func testZeroPadShortcutBackwardMatchesFiniteDifferences() {
        check(ZeroPadShortcut(inChannels: 2, outChannels: 5, stride: 2), input: [2, 5, 5, 2])
        check(ZeroPadShortcut(inChannels: 3, outChannels: 3, stride: 1), input: [2, 4, 4, 3])
        check(ZeroPadShortcut(inChannels: 2, outChannels: 4, stride: 2), input: [3, 7, 2])
        let body: [(name: String, layer: Layer<Double>)] = [
            ("conv1", Conv2d(inChannels: 2, outChannels: 4, kernelSize: 3, stride: 2, padding: 1)),
            ("bn1", BatchNorm(channels: 4)), ("relu", ReLU()),
            ("conv2", Conv2d(inChannels: 4, outChannels: 4, kernelSize: 3, padding: 1)),
            ("bn2", BatchNorm(channels: 4)),
        ]
        check(ResidualBlock(body: body, shortcut: ZeroPadShortcut(inChannels: 2, outChannels: 4, stride: 2), useSkip: true),
              input: [3, 6, 6, 2], context: .train())
    }

    func testWholeModelsBackwardMatchFiniteDifferences() throws {
        let specs: [(ModelSpec, [Int])] = [
            (ModelSpec(kind: .mlp, hidden: [6, 5], activation: .gelu, layerNorm: true), [8]),
            (ModelSpec(kind: .mlp, hidden: [6], activation: .tanh, batchNorm: true), [8]),
            (ModelSpec(kind: .cnn, channels: [3, 4], inputShape: [1, 12], kernelSize: 3), [12]),
            (ModelSpec(kind: .resnet, channels: [3, 4], inputShape: [1, 6, 6]), [36]),
            (ModelSpec(kind: .resnet, channels: [3, 4], inputShape: [1, 6, 6], batchNorm: false, skip: false), [36]),
            (ModelSpec(kind: .resnet, channels: [8, 16], inputShape: [3, 4, 4]), [48]),   // SIMD channel paths, fused BN+ReLU
            (ModelSpec(kind: .resnet, channels: [2, 4], inputShape: [1, 6, 6], shortcut: .zeroPad), [36]),
        ]
        for (i, (spec, shape)) in specs.enumerated() {
            let model: Model<Double> = try ModelBuilder.build(spec, dataShape: shape, outputs: 3, seed: UInt64(i))
            // A model skips the gradient with respect to its data; this check wants it.
            for layer in model.layers.allLayers() { layer.inputGradientNeeded = true }
            check(model.layers, input: [4] + shape, context: .train(), seed: UInt64(10 + i))
        }
    }

    func testMasksAreAppliedOnEveryForwardPass() {
        let layer = Linear<Double>(inFeatures: 4, outFeatures: 3)
        TestSupport.randomize(layer, seed: 3)
        let x: Tensor<Double> = TestSupport.randomTensor([2, 4], seed: 4)
        var mask = Tensor<Double>(shape: [3, 4], repeating: 1)
        mask[1, 2] = 0
        mask[0, 0] = 0
        layer.weight.mask = mask
        XCTAssertEqual(layer.weight.value[1, 2], 0)
        // Write a non-zero value behind the mask's back: the forward pass must still ignore it.
        layer.weight.value[1, 2] = 5
        let y = layer.forward(x, context: .eval)
        var expected = 0.0
        for j in 0..<4 where j != 2 { expected += x[0, j] * layer.weight.value[1, j] }
        XCTAssertEqual(y[0, 1], expected + layer.bias!.value[1], accuracy: 1e-12)
        layer.weight.grad.zero()
        _ = layer.backward(Tensor(shape: [2, 3], repeating: 1))
        XCTAssertEqual(layer.weight.grad[1, 2], 0)
        XCTAssertEqual(layer.weight.grad[0, 0], 0)
    }
}
