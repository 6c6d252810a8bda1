import Foundation
import TerrainCore
import XCTest

/// Losses against closed forms and finite differences.
final class LossTests: XCTestCase {
    func testCrossEntropyIsStableForHugeLogits() {
        let logits = Tensor<Float>(shape: [2, 3], storage: [1000, 0, -1000, -5000, 5000, 4999])
        let out = LossKind.crossEntropy.evaluate(logits: logits, targets: .classes([0, 2]), normalizer: 2, wantGradient: true)
        // Sample 0: log(1 + e^-1000 + …) ≈ 0; sample 1: logsumexp(5000, 4999) − 4999 = 1 + log(1 + e^-1).
        XCTAssertEqual(out.lossSum, 1 + Foundation.log(1 + Foundation.exp(-1.0)), accuracy: 1e-4)
        XCTAssertEqual(out.correct, 1)
        XCTAssertTrue(out.gradient!.storage.allSatisfy(\.isFinite))
    }

    func testCrossEntropyGradientMatchesFiniteDifferences() {
        let logits: Tensor<Double> = TestSupport.randomTensor([5, 4], seed: 9, scale: 2)
        let labels = [0, 3, 1, 1, 2]
        let out = LossKind.crossEntropy.evaluate(logits: logits, targets: .classes(labels), normalizer: 5, wantGradient: true)
        for i in 0..<logits.count {
            var p = logits, m = logits
            p.storage[i] += 1e-6
            m.storage[i] -= 1e-6
            let fp = LossKind.crossEntropy.evaluate(logits: p, targets: .classes(labels), normalizer: 5, wantGradient: false).lossSum / 5
            let fm = LossKind.crossEntropy.evaluate(logits: m, targets: .classes(labels), normalizer: 5, wantGradient: false).lossSum / 5
            XCTAssertEqual(out.gradient!.storage[i], (fp - fm) / 2e-6, accuracy: 1e-8)
        }
    }

    func testMeanSquaredErrorMatchesPyTorchMeanReduction() {
        let outputs = Tensor<Double>(shape: [2, 2], storage: [1, 2, 3, 4])
        let targets = Tensor<Double>(shape: [2, 2], storage: [0, 2, 5, 4])
        let out = LossKind.mse.evaluate(logits: outputs, targets: .values(targets), normalizer: 2, wantGradient: true)
        // MSELoss(mean) = (1 + 0 + 4 + 0) / 4 = 1.25; lossSum is per-sample-summed: 1.25 · 2.
        XCTAssertEqual(out.lossSum / 2, 1.25, accuracy: 1e-12)
        XCTAssertEqual(out.gradient!.storage, [0.5, 0, -1, 0])
    }
}
