import Foundation
import TerrainCore
import XCTest

/// The presets against PyTorch: the committed fixture of Fixtures/presets/ was made by
/// `python3 docs/pytorch_presets.py fixture Tests/TerrainCoreTests/Fixtures/presets` (torch
/// 2.15, the modules of that script, which carry loss-landscape's names). Weights are float32;
/// the references are float64 computations from those float32 weights.
///
/// Each model is checked twice. In Float64, Terrain must reproduce the float64 reference to
/// rounding: logits, loss and running statistics within 1e-9 relative, gradients within 1e-8
/// of their tensor's largest entry. In Float32: logits within 5e-5 relative to
/// max(|reference|, RMS of the reference logits), the loss within 5e-5, running statistics
/// within 1e-5, and each gradient within max(1e-3, 10 × PyTorch's own float32 error on it)
/// of its largest entry — training-mode gradients of early layers on four images are
/// ill-conditioned (sums with heavy cancellation), and PyTorch's float32 gradients themselves
/// differ from float64 by up to 5 % there (recorded per tensor in the reference as
/// `grad_f32_error.*`), while the last layers agree to 1e-6. Gradients that are zero in exact
/// arithmetic (a convolution bias right before a training-mode BatchNorm) must be zero to
/// 1e-12 (Float64) or 1e-4 (Float32) of the largest recorded gradient.
final class PresetReferenceTests: XCTestCase {
    private struct Tolerance {
        var logits: Double, loss: Double, statistics: Double, gradient: Double, pytorchFactor: Double, zero: Double
        static let float64 = Tolerance(logits: 1e-9, loss: 1e-9, statistics: 1e-9, gradient: 1e-8, pytorchFactor: 0, zero: 1e-12)
        static let float32 = Tolerance(logits: 5e-5, loss: 5e-5, statistics: 1e-5, gradient: 1e-3, pytorchFactor: 10, zero: 1e-4)
    }

    private func reference(_ name: String) throws -> [String: StoredTensor] {
        try SafeTensors.read(contentsOf: TestSupport.fixture("presets/\(name)-reference.safetensors")).tensors
    }

    private func build<Scalar: TensorScalar>(_ spec: ModelSpec, as: Scalar.Type) throws -> Model<Scalar> {
        try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0)
    }

    /// Worst |a − e| / max(|e|, RMS(e)).
    private func worstRelative<Scalar: TensorScalar>(_ actual: [Scalar], _ expected: [Double]) -> Double {
        let rms = (expected.reduce(0) { $0 + $1 * $1 } / Double(max(expected.count, 1))).squareRoot()
        return zip(actual, expected).reduce(0) { max($0, abs(Double($1.0) - $1.1) / max(abs($1.1), rms)) }
    }

    /// Loads `weights` into a fresh model of `spec` in Float64 and in Float32 and checks both.
    private func assertMatches(_ spec: ModelSpec, _ weights: [String: StoredTensor], _ ref: [String: StoredTensor], _ what: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let double = try build(spec, as: Double.self)
        try Checkpoint.apply(weights, source: "\(what) fixture", to: double)
        try assertMatches(double, ref, .float64, "\(what) in Float64", file: file, line: line)
        let single = try build(spec, as: Float.self)
        try Checkpoint.apply(weights, source: "\(what) fixture", to: single)
        try assertMatches(single, ref, .float32, "\(what) in Float32", file: file, line: line)
    }

    /// Checks evaluation logits, training-mode logits, loss, gradients and the updated
    /// running statistics of `model` (weights already loaded) against `ref`.
    private func assertMatches<Scalar: TensorScalar>(_ model: Model<Scalar>, _ ref: [String: StoredTensor], _ tolerance: Tolerance,
                                                     _ what: String, file: StaticString, line: UInt) throws {
        let x: Tensor<Scalar> = try ref["inputs"]!.tensor()
        let labels = try ref["labels"]!.integers()
        // Evaluation mode twice: keeping activations for a backward pass, and the inference
        // pass of `terrain evaluate` and surface points (BatchNorm folded into the convolutions).
        for (context, mode) in [(ForwardContext.eval, "evaluation"), (.inference, "inference")] {
            let eval = model.forward(x, context: context)
            XCTAssertEqual(eval.shape, [labels.count, 10], file: file, line: line)
            let evalError = worstRelative(eval.storage, try ref["eval_logits"]!.values())
            XCTAssertLessThanOrEqual(evalError, tolerance.logits, "\(what): \(mode) logits", file: file, line: line)
        }

        model.zeroGradients()
        let train = model.forward(x, context: .train())
        let trainError = worstRelative(train.storage, try ref["train_logits"]!.values())
        XCTAssertLessThanOrEqual(trainError, tolerance.logits, "\(what): training-mode logits", file: file, line: line)
        let loss = LossKind.crossEntropy.evaluate(logits: train, targets: .classes(labels), normalizer: labels.count, wantGradient: true)
        let expectedLoss: [Double] = try ref["train_loss"]!.values()
        XCTAssertEqual(loss.lossSum / Double(labels.count), expectedLoss[0], accuracy: tolerance.loss * expectedLoss[0],
                       "\(what): loss", file: file, line: line)
        model.backward(loss.gradient!)
        let gradients = try ref.filter { $0.key.hasPrefix("grad.") }.map { (String($0.key.dropFirst("grad.".count)), try $0.value.values(as: Double.self)) }
        XCTAssertGreaterThanOrEqual(gradients.count, 5, "\(what): the reference holds gradients", file: file, line: line)
        let largest = gradients.reduce(0.0) { m, g in g.1.reduce(m) { max($0, abs($1)) } }
        for (name, expected) in gradients {
            guard let p = model.parameter(named: name) else { XCTFail("\(what): no parameter \(name)", file: file, line: line); continue }
            XCTAssertEqual(p.grad.count, expected.count, name, file: file, line: line)
            let scale = expected.reduce(0) { max($0, abs($1)) }
            let worst = zip(p.grad.storage, expected).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
            if scale < 1e-12 * largest {
                XCTAssertLessThanOrEqual(worst, tolerance.zero * largest, "\(what): gradient of \(name) (zero)", file: file, line: line)
                continue
            }
            let pytorch: [Double] = try ref["grad_f32_error." + name]?.values() ?? [0]
            let allowed = max(tolerance.gradient, tolerance.pytorchFactor * pytorch[0]) * scale
            XCTAssertLessThanOrEqual(worst, allowed, "\(what): gradient of \(name) (PyTorch float32: \(pytorch[0]) relative)", file: file, line: line)
        }
        let buffers = Dictionary(uniqueKeysWithValues: model.namedBuffers.map { ($0.name, $0.tensor) })
        var statistics = 0
        for (key, stored) in ref where key.hasPrefix("after_train.") {
            let name = String(key.dropFirst("after_train.".count))
            let expected: [Double] = try stored.values()
            guard let mine = buffers[name] else { XCTFail("\(what): no buffer \(name)", file: file, line: line); continue }
            XCTAssertLessThanOrEqual(worstRelative(mine.storage, expected), tolerance.statistics,
                                     "\(what): \(name) after a training pass", file: file, line: line)
            statistics += 1
        }
        XCTAssertEqual(statistics, model.namedBuffers.filter { $0.local != "num_batches_tracked" }.count, file: file, line: line)
    }

    func testResNet20LoadsAPyTorchStateDictStrictlyAndMatchesItsResults() throws {
        let model = try build(ModelSpec(kind: .resnet20), as: Float.self)
        let path = TestSupport.fixture("presets/resnet20.safetensors")
        try Checkpoint.load(path, into: model)
        let stored = try SafeTensors.read(contentsOf: path).tensors
        XCTAssertEqual(Set(stored.keys), Set(Checkpoint.tensors(model: model).keys))
        // Every tensor, num_batches_tracked included, round-trips bit-exactly.
        for (name, t) in Checkpoint.tensors(model: model) { XCTAssertEqual(t, stored[name], name) }
        try assertMatches(ModelSpec(kind: .resnet20), stored, try reference("resnet20"), "resnet20")
    }

    /// The twins share resnet20's tensors but for the shortcut projections: the full file is
    /// refused (its shortcut tensors are unexpected), the file without them matches PyTorch.
    func testResNet20VariantsWithoutProjectionsMatchPyTorch() throws {
        let path = TestSupport.fixture("presets/resnet20.safetensors")
        let stored = try SafeTensors.read(contentsOf: path).tensors
        for (spec, name) in [(ModelSpec(kind: .resnet20NoShort), "resnet20_noshort"),
                             (ModelSpec(kind: .resnet20, shortcut: .zeroPad), "resnet20-zero_pad")] {
            let model = try build(spec, as: Float.self)
            XCTAssertThrowsError(try Checkpoint.load(path, into: model), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(path), text)
                // shortcut.0.weight and shortcut.1's five tensors in layer2.0 and layer3.0
                XCTAssertTrue(text.contains("12 unexpected"), text)
                XCTAssertTrue(text.contains("layer2.0.shortcut.0.weight [32, 16, 1, 1]"), text)
            }
            let weights = stored.filter { !$0.key.contains(".shortcut.") }
            try assertMatches(spec, weights, try reference(name), name)
        }
    }

    /// VGG-9's large weights are not stored: they are recomputed from the counter hash of
    /// docs/pytorch_presets.py (`hashed_uniform`), checked against the sums the script
    /// recorded, before the model is compared with PyTorch.
    func testVGG9MatchesPyTorch() throws {
        let (stored, metadata) = try SafeTensors.read(contentsOf: TestSupport.fixture("presets/vgg9.safetensors"))
        let ref = try reference("vgg9")
        let model = try build(ModelSpec(kind: .vgg9), as: Float.self)
        var tensors = stored
        let hashed = metadata["terrain.hashed"]!.split(separator: ",").map(String.init)
        // Every weight above 4096 elements: features.{3,7,10,14,17,20}.weight and fc.0.weight.
        XCTAssertEqual(hashed.count, 7)
        for name in hashed {
            let p = try XCTUnwrap(model.parameter(named: name))
            let values = HashedWeights.uniform(name, count: p.count, bound: (6.0 / Double(p.count / p.shape[0])).squareRoot())
            let sums: [Double] = try ref["sum." + name]!.values()
            let sum = values.reduce(0.0) { $0 + Double($1) }, absSum = values.reduce(0.0) { $0 + abs(Double($1)) }
            XCTAssertEqual(sum, sums[0], accuracy: 1e-9 * absSum, name)
            XCTAssertEqual(absSum, sums[1], accuracy: 1e-9 * absSum, name)
            tensors[name] = StoredTensor(Tensor(shape: p.shape, storage: values))
        }
        try assertMatches(ModelSpec(kind: .vgg9), tensors, ref, "vgg9")
    }
}

/// The counter hash of docs/pytorch_presets.py's `hashed_uniform`: element i of the tensor
/// `name` is splitmix64's finalizer of FNV-1a(name) + (i + 1)·0x9E3779B97F4A7C15, its top
/// 24 bits mapped to [-1, 1), times `bound`, rounded once to Float — the same bits as numpy's.
enum HashedWeights {
    static func uniform(_ name: String, count: Int, bound: Double) -> [Float] {
        var key: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { key = (key ^ UInt64(b)) &* 0x100_0000_01B3 }
        return (0..<count).map { i in
            var z = key &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let u = Double(z >> 40) / 8_388_608.0 - 1.0
            return Float(u * bound)
        }
    }
}
