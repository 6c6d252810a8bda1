import Foundation

/// What a model is trained to predict for each sample.
public enum Targets<Scalar: TensorScalar>: Sendable, Equatable {
    /// Class indices in `0..<classes`, one per sample.
    case classes([Int])
    /// Real-valued targets `[N, outputs]`.
    case values(Tensor<Scalar>)

    /// The number of samples.
    public var count: Int {
        switch self {
        case .classes(let c): return c.count
        case .values(let v): return v.shape.first ?? 0
        }
    }

    /// The targets of the samples at `indices`.
    public func gather(_ indices: some Collection<Int>) -> Targets {
        switch self {
        case .classes(let c): return .classes(indices.map { c[$0] })
        case .values(let v): return .values(v.gatherRows(indices))
        }
    }

    /// The targets of samples `range`.
    public func slice(_ range: Range<Int>) -> Targets {
        switch self {
        case .classes(let c): return .classes(Array(c[range]))
        case .values(let v): return .values(v.rows(range))
        }
    }
}

/// The training objective.
public enum LossKind: String, Sendable, Codable, CaseIterable {
    /// Softmax cross-entropy on logits with class targets, averaged over samples.
    case crossEntropy = "cross_entropy"
    /// Squared error averaged over all output elements (PyTorch's `MSELoss()`); class
    /// targets are one-hot encoded.
    case mse
}

/// The loss of a batch: the summed loss (continuing a running total, so chunks chained
/// through ``LossKind/evaluate(logits:targets:normalizer:wantGradient:runningTotal:)`` sum
/// exactly as one pass over all samples would), the
/// number of correct argmax predictions (for class targets) and, when asked for, ∂L/∂logits.
public struct LossOutput<Scalar: TensorScalar> {
    /// The running total passed in plus every sample's loss, added one sample after another
    /// in `Double`.
    public var lossSum: Double
    /// Samples whose argmax prediction equals the class target (0 for value targets).
    public var correct: Int
    /// Samples in the batch.
    public var count: Int
    /// Gradient of `lossSum / normalizer` with respect to the logits, if requested.
    public var gradient: Tensor<Scalar>?
}

extension LossKind {
    /// Evaluates the loss on `logits` `[N, K]`.
    ///
    /// - Parameters:
    ///   - normalizer: the gradient is that of `lossSum / normalizer`; pass the batch size
    ///     for a mean over this batch, or the full data-set size when gradients of several
    ///     chunks are summed into one full-batch gradient.
    ///   - wantGradient: skip the gradient for evaluation-only passes.
    ///   - runningTotal: where `lossSum` starts. Passing the previous chunk's `lossSum` makes
    ///     the total over a data set independent of how it is split into chunks.
    /// Cross-entropy is computed stably as `logsumexp(z) − z_y` with the max subtracted.
    public func evaluate<Scalar: TensorScalar>(
        logits: Tensor<Scalar>, targets: Targets<Scalar>, normalizer: Int, wantGradient: Bool, runningTotal: Double = 0
    ) -> LossOutput<Scalar> {
        precondition(logits.rank == 2, "loss expects [N, K] logits, got \(logits.shape)")
        let n = logits.shape[0], k = logits.shape[1]
        precondition(targets.count == n, "loss: \(n) predictions but \(targets.count) targets")
        switch (self, targets) {
        case (.crossEntropy, .classes(let labels)):
            return Self.crossEntropy(logits, labels, n: n, k: k, normalizer: normalizer, wantGradient: wantGradient,
                                     total: runningTotal)
        case (.crossEntropy, .values):
            preconditionFailure("cross-entropy needs class targets")
        case (.mse, .classes(let labels)):
            var onehot = Tensor<Scalar>(shape: [n, k])
            for (i, l) in labels.enumerated() { onehot.storage[i * k + l] = 1 }
            var out = Self.meanSquared(logits, onehot, normalizer: normalizer, wantGradient: wantGradient, total: runningTotal)
            out.correct = Self.countCorrect(logits, labels, n: n, k: k)
            return out
        case (.mse, .values(let values)):
            precondition(values.count == logits.count, "mse: targets \(values.shape) vs outputs \(logits.shape)")
            return Self.meanSquared(logits, values, normalizer: normalizer, wantGradient: wantGradient, total: runningTotal)
        }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func crossEntropy<Scalar: TensorScalar>(
        _ logits: Tensor<Scalar>, _ labels: [Int], n: Int, k: Int, normalizer: Int, wantGradient: Bool, total start: Double
    ) -> LossOutput<Scalar> {
        var total = start
        var correct = 0
        var grad: [Scalar] = wantGradient ? logits.storage : []
        let inv = Scalar(1.0 / Double(normalizer))
        logits.storage.withUnsafeBufferPointer { z in
            for i in 0..<n {
                let row = i * k
                var maxValue = z[row], argmax = 0
                for j in 1..<k where z[row + j] > maxValue { maxValue = z[row + j]; argmax = j }
                var sum = 0.0
                for j in 0..<k { sum += Double(Scalar.exp(z[row + j] - maxValue)) }
                let label = labels[i]
                precondition(label >= 0 && label < k, "class target \(label) outside 0..<\(k)")
                total += Foundation.log(sum) + Double(maxValue) - Double(z[row + label])
                if argmax == label { correct += 1 }
                if wantGradient {
                    let invSum = Scalar(1 / sum)
                    for j in 0..<k { grad[row + j] = Scalar.exp(z[row + j] - maxValue) * invSum * inv }
                    grad[row + label] -= inv
                }
            }
        }
        return LossOutput(lossSum: total, correct: correct, count: n,
                          gradient: wantGradient ? Tensor(shape: [n, k], storage: grad) : nil)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func meanSquared<Scalar: TensorScalar>(
        _ outputs: Tensor<Scalar>, _ targets: Tensor<Scalar>, normalizer: Int, wantGradient: Bool, total start: Double
    ) -> LossOutput<Scalar> {
        let n = outputs.shape[0]
        let perSample = outputs.count / max(n, 1)
        var total = start
        var grad: [Scalar] = wantGradient ? outputs.storage : []
        // Mean over all elements: per-sample loss is the sum over outputs / perSample.
        let scale = Scalar(2.0 / Double(normalizer * perSample))
        outputs.storage.withUnsafeBufferPointer { o in
            targets.storage.withUnsafeBufferPointer { t in
                for sample in 0..<n {
                    var squares = 0.0
                    for i in (sample * perSample)..<((sample + 1) * perSample) {
                        let d = o[i] - t[i]
                        squares += Double(d) * Double(d)
                        if wantGradient { grad[i] = scale * d }
                    }
                    total += squares / Double(perSample)
                }
            }
        }
        return LossOutput(lossSum: total, correct: 0, count: n,
                          gradient: wantGradient ? Tensor(shape: outputs.shape, storage: grad) : nil)
    }

    static func countCorrect<Scalar: TensorScalar>(_ logits: Tensor<Scalar>, _ labels: [Int], n: Int, k: Int) -> Int {
        var correct = 0
        for i in 0..<n {
            var best = logits.storage[i * k], arg = 0
            for j in 1..<k where logits.storage[i * k + j] > best { best = logits.storage[i * k + j]; arg = j }
            if arg == labels[i] { correct += 1 }
        }
        return correct
    }
}
