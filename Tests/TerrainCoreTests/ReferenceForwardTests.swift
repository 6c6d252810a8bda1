import TerrainCore
import XCTest

/// Forward values on fixed weights against an independent numpy reference
/// (Fixtures/make_reference.py, float64 arithmetic; fixtures in Fixtures/reference/).
final class ReferenceForwardTests: XCTestCase {
    private func load(_ name: String) throws -> [String: StoredTensor] {
        try SafeTensors.read(contentsOf: TestSupport.fixture("reference/\(name).safetensors")).tensors
    }

    private func assertMatchesReference(_ model: Model<Float>, _ fixture: [String: StoredTensor],
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let weights = fixture.filter { $0.key.hasPrefix("layers.") }
        try Checkpoint.apply(weights, source: "fixture", to: model)
        let input: Tensor<Float> = try fixture["input"]!.tensor()
        let expected: [Double] = try fixture["expected_logits"]!.values()
        let logits = model.forward(input, context: .eval)
        XCTAssertEqual(logits.count, expected.count, file: file, line: line)
        // Relative error per logit, against max(|reference|, RMS of all reference logits) so
        // that logits near zero are not held to an impossible relative standard.
        let rms = (expected.reduce(0) { $0 + $1 * $1 } / Double(expected.count)).squareRoot()
        var worst = 0.0
        for (a, e) in zip(logits.storage, expected) {
            worst = max(worst, abs(Double(a) - e) / max(abs(e), rms))
        }
        XCTAssertLessThanOrEqual(worst, 1e-5, "worst relative error of the logits", file: file, line: line)
        let labels = try fixture["labels"]!.integers()
        let loss = LossKind.crossEntropy.evaluate(logits: logits, targets: .classes(labels), normalizer: labels.count, wantGradient: false)
        let expectedLoss: [Double] = try fixture["expected_loss"]!.values()
        XCTAssertEqual(loss.lossSum / Double(labels.count), expectedLoss[0], accuracy: 1e-5 * expectedLoss[0], file: file, line: line)
    }

    func testMLPForwardMatchesNumpyReference() throws {
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [32, 16]), dataShape: [40], outputs: 10, seed: 0)
        try assertMatchesReference(model, try load("mlp"))
    }

    func testCNN1dForwardMatchesNumpyReference() throws {
        let spec = ModelSpec(kind: .cnn, channels: [4, 6], inputShape: [1, 40], kernelSize: 5, stride: 2)
        let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 0)
        try assertMatchesReference(model, try load("cnn"))
    }

    func testCNN2dWithMaxPoolForwardMatchesNumpyReference() throws {
        let layers = Sequential<Float>([
            Unflatten([1, 8, 8]),
            Conv2d(inChannels: 1, outChannels: 3, kernelSize: 3, stride: 1, padding: 1, channelsFirstInput: true), ReLU(),
            Pool(.max, kernelSize: 2),
            Conv2d(inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 1), ReLU(),
            Flatten(channelsLastInput: true), Linear(inFeatures: 16, outFeatures: 10),
        ])
        let model = try Model(spec: ModelSpec(kind: .cnn, channels: [3, 4], inputShape: [1, 8, 8]), layers: layers, inputShape: [64])
        try assertMatchesReference(model, try load("cnn2d"))
    }
}
