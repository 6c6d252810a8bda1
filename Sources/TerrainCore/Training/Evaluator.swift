/// Full-data evaluation and full-batch gradients, the building blocks of loss surfaces and
/// curvature. Everything runs in evaluation mode (BatchNorm running statistics, no
/// dropout). Each sample's output does not depend on which other samples share its chunk
/// (the kernels' sums run per sample), and losses are added sample after sample in
/// `Double`, so an evaluation's result does not depend on the chunk size at all. Peak
/// memory is the network's activations for one chunk, whatever the data set's size.
public enum Evaluator {
    /// The default number of samples pushed through the network at once: small enough that
    /// a chunk's activations stay in cache-friendly, reusable buffers, large enough to keep
    /// every GEMM's tiles full.
    public static let defaultChunkSize = 128

    /// Mean loss and accuracy of `model` over all of `data`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func evaluate<Scalar: TensorScalar>(
        _ model: Model<Scalar>, on data: Dataset<Scalar>, loss: LossKind, chunkSize: Int = defaultChunkSize
    ) -> Metrics {
        var total = 0.0, correct = 0
        var start = 0
        while start < data.count {
            let end = min(start + chunkSize, data.count)
            let x = data.inputs(start..<end)
            let y = chunkSize >= data.count ? data.y : data.y.slice(start..<end)
            let out = model.forward(x, context: .inference)
            let l = loss.evaluate(logits: out, targets: y, normalizer: end - start, wantGradient: false, runningTotal: total)
            total = l.lossSum
            correct += l.correct
            start = end
        }
        let isClasses: Bool
        if case .classes = data.y { isClasses = true } else { isClasses = false }
        return Metrics(loss: total / Double(data.count), accuracy: isClasses ? Double(correct) / Double(data.count) : nil,
                       count: data.count)
    }

    /// The gradient of the mean loss over all of `data` at the model's current parameters,
    /// as a flat `Double` vector in ``ParameterSpace`` order, with the metrics at that point.
    /// Gradients of masked parameters are zero where the mask is.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func gradient<Scalar: TensorScalar>(
        _ model: Model<Scalar>, on data: Dataset<Scalar>, loss: LossKind, chunkSize: Int = defaultChunkSize
    ) -> (metrics: Metrics, gradient: [Double]) {
        let space = ParameterSpace(model)
        var g = [Double](repeating: 0, count: space.dimension)
        var total = 0.0, correct = 0
        var start = 0
        while start < data.count {
            let end = min(start + chunkSize, data.count)
            let x = data.inputs(start..<end)
            let y = chunkSize >= data.count ? data.y : data.y.slice(start..<end)
            model.zeroGradients()
            let out = model.forward(x, context: .eval)
            let l = loss.evaluate(logits: out, targets: y, normalizer: data.count, wantGradient: true, runningTotal: total)
            model.backward(l.gradient!)
            total = l.lossSum
            correct += l.correct
            for (p, slot) in zip(space.parameters, space.layout) {
                p.grad.storage.withUnsafeBufferPointer { gp in
                    g.withUnsafeMutableBufferPointer { acc in
                        for j in 0..<slot.count { acc[slot.offset + j] += Double(gp[j]) }
                    }
                }
            }
            start = end
        }
        model.zeroGradients()
        let isClasses: Bool
        if case .classes = data.y { isClasses = true } else { isClasses = false }
        let metrics = Metrics(loss: total / Double(data.count),
                              accuracy: isClasses ? Double(correct) / Double(data.count) : nil, count: data.count)
        return (metrics, g)
    }
}

extension Evaluator {
    /// Re-estimates every BatchNorm layer's running statistics at the current parameters:
    /// statistics are reset and recomputed as the cumulative average over `data` in batches of
    /// `batchSize`, in data order, with dropout off (the "recompute BatchNorm statistics at
    /// each point" option of loss surfaces). Returns whether the model has BatchNorm layers.
    @discardableResult
    public static func recomputeBatchNormStatistics<Scalar: TensorScalar>(_ model: Model<Scalar>, on data: Dataset<Scalar>,
                                                                         batchSize: Int = 128) -> Bool {
        let norms = model.layers.allLayers().compactMap { $0 as? BatchNorm<Scalar> }
        guard !norms.isEmpty else { return false }
        for bn in norms {
            bn.runningMean = Tensor(shape: bn.runningMean.shape)
            bn.runningVar = Tensor(shape: bn.runningVar.shape)
            bn.batchesTracked = 0
        }
        var start = 0
        while start < data.count {
            let end = min(start + batchSize, data.count)
            _ = model.forward(data.inputs(start..<end), context: .batchNormStatistics)
            start = end
        }
        return true
    }
}
