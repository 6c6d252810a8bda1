/// Evaluates the loss on a plane `θ* + α·d1 + β·d2` reusing algebra across points: when the
/// network starts with a Linear layer, its output is linear in (α, β),
/// `X·(W + αD1 + βD2)ᵀ = X·Wᵀ + α·X·D1ᵀ + β·X·D2ᵀ`, so the three products are computed once
/// per data set and each point only combines them (an elementwise pass instead of a GEMM).
///
/// Results differ from evaluating the rounded point weights directly only by Float
/// rounding; at α = β = 0 they are bit-identical to ``Evaluator/evaluate(_:on:loss:chunkSize:)``
/// (same chunks, the same products, `+ 0` terms). The caller sets the *other* layers'
/// parameters to the point (the first layer's weight and bias are taken from here).
public final class PlaneEvaluator {
    private let model: Model<Float>
    private let data: Dataset<Float>
    private let loss: LossKind
    private let chunks: [(range: Range<Int>, a0: [Float], a1: [Float], a2: [Float]?)]
    private let bias: (centre: [Float], d1: [Float], d2: [Float]?)
    private let width: Int

    /// Prepares the products, or returns nil when the model does not start with an unmasked
    /// Linear layer on flat inputs (then evaluate points directly).
    public init?(model: Model<Float>, data: Dataset<Float>, loss: LossKind, centre: [Float], d1: [Float], d2: [Float]?,
                 chunkSize: Int = Evaluator.defaultChunkSize) {
        guard let first = model.layers.layers.first as? Linear<Float>, first.weight.mask == nil, first.bias?.mask == nil,
              data.sampleShape == [first.inFeatures] else { return nil }
        let layout = ParameterSpace(model).layout
        guard let wSlot = layout.first(where: { $0.name == first.weight.name }) else { return nil }
        let bSlot = first.bias.flatMap { b in layout.first(where: { $0.name == b.name }) }
        self.model = model
        self.data = data
        self.loss = loss
        let h = first.outFeatures, f = first.inFeatures
        width = h
        func matrix(_ v: [Float]) -> Tensor<Float> { Tensor(shape: [h, f], storage: Array(v[wSlot.range])) }
        let w0 = matrix(centre), w1 = matrix(d1), w2 = d2.map(matrix)
        var out = [(range: Range<Int>, a0: [Float], a1: [Float], a2: [Float]?)]()
        var start = 0
        while start < data.count {
            let end = min(start + chunkSize, data.count)
            let x = data.inputs(start..<end)
            func product(_ w: Tensor<Float>) -> [Float] {
                var c = Tensor<Float>(shape: [end - start, h])
                Kernels.matmul(x, w, transposeB: true, into: &c)
                return c.storage
            }
            out.append((start..<end, product(w0), product(w1), w2.map(product)))
            start = end
        }
        chunks = out
        let zeros = [Float](repeating: 0, count: h)
        bias = (bSlot.map { Array(centre[$0.range]) } ?? zeros, bSlot.map { Array(d1[$0.range]) } ?? zeros,
                d2.map { d in bSlot.map { Array(d[$0.range]) } ?? zeros })
    }

    /// Mean loss and accuracy over the data at (α, β).
    public func evaluate(alpha: Double, beta: Double) -> Metrics {
        let h = width
        let a = Float(alpha), b = Float(beta)
        let pointBias: [Float] = (0..<h).map { j in
            Float(Double(bias.centre[j]) + alpha * Double(bias.d1[j]) + beta * Double(bias.d2?[j] ?? 0))
        }
        var total = 0.0, correct = 0
        for c in chunks {
            let n = c.range.count
            var z = Tensor<Float>(shape: [n, h]) { out in
                c.a0.withUnsafeBufferPointer { a0 in
                    c.a1.withUnsafeBufferPointer { a1 in
                        for i in 0..<(n * h) { out[i] = a0[i] + a * a1[i] }
                    }
                }
            }
            if let a2 = c.a2 {
                z.storage.withUnsafeMutableBufferPointer { zp in
                    a2.withUnsafeBufferPointer { p in for i in 0..<(n * h) { zp[i] = zp[i] + b * p[i] } }
                }
            }
            Kernels.addRowBias(&z.storage, pointBias)
            var x = z
            for layer in model.layers.layers.dropFirst() { x = layer.forward(x, context: .inference) }
            let y = data.y.slice(c.range)
            let l = loss.evaluate(logits: x, targets: y, normalizer: n, wantGradient: false, runningTotal: total)
            total = l.lossSum
            correct += l.correct
        }
        let isClasses: Bool
        if case .classes = data.y { isClasses = true } else { isClasses = false }
        return Metrics(loss: total / Double(data.count), accuracy: isClasses ? Double(correct) / Double(data.count) : nil, count: data.count)
    }
}
