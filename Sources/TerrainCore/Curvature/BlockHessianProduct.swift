/// Hessian-vector products by the R-operator (Pearlmutter 1994; forward-over-reverse), for a
/// block of vectors at once, in the model's own scalar type with `Double` accumulation over
/// data chunks.
///
/// **Method.** For the network's layers at θ the engine keeps one *base* pass (activations
/// `u` and back-propagated gradients `e`, computed once and cached), then for a block of K
/// directions `v₁…v_K` runs the R-forward pass (`R{z} = R{u}·Wᵀ + u·R{W}ᵀ + R{b}`, activations
/// scaled by σ′ at θ), the loss Hessian on the logits (softmax: `p ⊙ (R{z} − ⟨p, R{z}⟩)`;
/// MSE: a constant), and the R-backward pass (`R{∇W} = R{δ}ᵀu + δᵀR{u}`, `R{δ_in} = R{δ}·W +
/// δ·R{W}`, plus the σ″ term of tanh). Every product is a GEMM (``GEMM``'s fixed summation
/// order), the `R{u}·Wᵀ` and `R{δ}·W` products of the whole block in one call, so the cost is
/// GEMM-bound and results are identical on every CPU. ReLUs use their derivative at θ (the
/// almost-everywhere Hessian that double backprop computes, as the finite-difference path's
/// frozen pattern does).
///
/// **Block-size independence.** Each output element is the same chain of operations whatever
/// the number of vectors in the block (the chunks of data are fixed by the model and the data
/// alone), so a vector's `H·v` has the same bits alone or in a block of eight.
///
/// **Accuracy.** In `Float` the per-chunk products carry relative errors of order
/// `ε₃₂·√n` (n samples per chunk); chunks are summed in `Double`. On the example MLP λ_max and
/// the trace agree with the `Double` path within 1e-5 relative (docs/performance.md).
///
/// Supported layers: `Linear`, `ReLU` (not fused into a BatchNorm), `Tanh`, `Dropout`
/// (evaluation: identity), `Flatten` of flat or channels-first input, nested `Sequential`s.
/// Other models (convolutions, BatchNorm, residual blocks) keep the finite-difference path:
/// ``init(model:data:loss:)`` returns `nil` for them.
public final class BlockHessianProduct<Scalar: TensorScalar> {
    struct LinearOp {
        var weight: [Scalar]
        var bias: [Scalar]?
        var inputs: Int, outputs: Int
        var weightOffset: Int, biasOffset: Int
    }
    enum Op { case linear(LinearOp), relu, tanh }

    /// The most vectors one pass carries; larger blocks are split (results do not depend on it).
    public static var blockLimit: Int { 4 }
    /// Cached base passes are kept up to this many scalars; beyond, the base pass is recomputed.
    static var cacheLimit: Int { 64 << 20 }

    let ops: [Op]
    let data: Dataset<Scalar>
    let loss: LossKind
    /// P, the length of the vectors.
    public let dimension: Int
    /// Samples per chunk (fixed by the model and the data, never by the block size).
    public let chunkSize: Int
    private var cache: [Int: Base] = [:]
    private let cacheable: Bool

    struct Base {
        var n: Int
        /// `u[i]`: the input of op i (`u[ops.count]` the logits).
        var u: [[Scalar]]
        /// `e[i]`: ∂L/∂(output of op i).
        var e: [[Scalar]]
        /// Softmax probabilities of the logits (cross-entropy only).
        var probabilities: [Scalar]
    }

    /// The engine for `model` at its current parameters (copied), or `nil` when a layer is
    /// not supported (see the type's documentation) or the loss/target pair has no
    /// R-operator here (cross-entropy needs class targets).
    public init?(model: Model<Scalar>, data: Dataset<Scalar>, loss: LossKind) {
        var offsets = [ObjectIdentifier: Int]()
        var offset = 0
        for p in model.parameters { offsets[ObjectIdentifier(p)] = offset; offset += p.count }
        var ops = [Op]()
        var width = data.sampleShape.reduce(1, *)
        var widths = [width]
        func walk(_ layer: Layer<Scalar>) -> Bool {
            switch layer {
            case let s as Sequential<Scalar>: return s.layers.allSatisfy(walk)
            case let l as Linear<Scalar>:
                guard l.inFeatures == width, let w = offsets[ObjectIdentifier(l.weight)] else { return false }
                let b = l.bias.flatMap { offsets[ObjectIdentifier($0)] } ?? -1
                ops.append(.linear(LinearOp(weight: l.weight.effectiveValue.storage, bias: l.bias?.value.storage,
                                            inputs: l.inFeatures, outputs: l.outFeatures, weightOffset: w, biasOffset: b)))
                width = l.outFeatures
                widths.append(width)
                return true
            case let r as ReLU<Scalar>: if r.isFused { return false }; ops.append(.relu); widths.append(width); return true
            case is Tanh<Scalar>: ops.append(.tanh); widths.append(width); return true
            case is Dropout<Scalar>: return true
            case let f as Flatten<Scalar>: return !f.channelsLastInput || !ops.isEmpty
            default: return false
            }
        }
        guard walk(model.layers), ops.contains(where: { if case .linear = $0 { true } else { false } }) else { return nil }
        if case .crossEntropy = loss, case .values = data.y { return nil }
        self.ops = ops
        self.data = data
        self.loss = loss
        self.dimension = offset
        let perSample = widths.reduce(0, +)
        // Working memory of a full block: R{u} and R{e} for every op, ~4M scalars at most, so
        // that a chunk's block stays in the last-level cache between the GEMMs that produce
        // and consume it (with 16M, blocks of 4 ran slower per vector than single vectors).
        let maxChunk = max(1, (4 << 20) / max(1, 2 * Self.blockLimit * perSample))
        let chunks = max(1, (data.count + maxChunk - 1) / maxChunk)
        self.chunkSize = max(1, (data.count + chunks - 1) / chunks)
        self.cacheable = 2 * perSample * data.count <= Self.cacheLimit
    }

    /// `H·vₖ` for every vector (each of length P, already projected on the free coordinates;
    /// the caller masks the results). Vectors are processed `blockLimit` at a time.
    public func products(_ vectors: [[Double]]) -> [[Double]] {
        var out = [[Double]]()
        var start = 0
        while start < vectors.count {
            let end = min(start + Self.blockLimit, vectors.count)
            out += block(Array(vectors[start..<end]))
            start = end
        }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func block(_ vectors: [[Double]]) -> [[Double]] {
        let k = vectors.count
        for v in vectors { precondition(v.count == dimension, "vector has \(v.count) entries, parameter space has \(dimension)") }
        // R{W}, R{b} per linear op, the block's K copies contiguous (k-major).
        let directions: [(w: [Scalar], b: [Scalar])] = ops.map { op in
            guard case .linear(let l) = op else { return ([], []) }
            var w = [Scalar](repeating: 0, count: k * l.outputs * l.inputs)
            var b = [Scalar](repeating: 0, count: l.bias == nil ? 0 : k * l.outputs)
            for (j, v) in vectors.enumerated() {
                for i in 0..<(l.outputs * l.inputs) { w[j * l.outputs * l.inputs + i] = Scalar(v[l.weightOffset + i]) }
                if l.bias != nil { for i in 0..<l.outputs { b[j * l.outputs + i] = Scalar(v[l.biasOffset + i]) } }
            }
            return (w, b)
        }
        var out = [[Double]](repeating: [Double](repeating: 0, count: dimension), count: k)
        var start = 0
        while start < data.count {
            let range = start..<min(start + chunkSize, data.count)
            let base = self.base(range)
            accumulate(base: base, directions: directions, k: k, into: &out)
            start = range.upperBound
        }
        return out
    }

    /// The base pass of one chunk (cached when the whole data set's fits).
    private func base(_ range: Range<Int>) -> Base {
        if let b = cache[range.lowerBound] { return b }
        let b = computeBase(range)
        if cacheable { cache[range.lowerBound] = b }
        return b
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func computeBase(_ range: Range<Int>) -> Base {
        let n = range.count
        var u = [data.inputs(range).storage]
        for op in ops {
            let x = u.last!
            switch op {
            case .linear(let l):
                var y = [Scalar](repeating: 0, count: n * l.outputs)
                Self.gemm(false, true, n, l.outputs, l.inputs, x, 0, l.inputs, l.weight, 0, l.inputs, &y, 0, l.outputs, false)
                if let b = l.bias { Kernels.addRowBias(&y, b) }
                u.append(y)
            case .relu: u.append(x.map { $0 > 0 ? $0 : 0 })
            case .tanh: u.append(x.map { Scalar.tanh($0) })
            }
        }
        let logits = u.last!
        let classes = logits.count / max(n, 1)
        let y = range == 0..<data.count ? data.y : data.y.slice(range)
        let l = loss.evaluate(logits: Tensor(shape: [n, classes], storage: logits), targets: y, normalizer: data.count, wantGradient: true)
        var e = [[Scalar]](repeating: [], count: ops.count)
        var g = l.gradient!.storage
        for i in ops.indices.reversed() {
            e[i] = g
            if i == firstLinear { break }
            switch ops[i] {
            case .linear(let op):
                var prev = [Scalar](repeating: 0, count: n * op.inputs)
                Self.gemm(false, false, n, op.inputs, op.outputs, g, 0, op.outputs, op.weight, 0, op.inputs, &prev, 0, op.inputs, false)
                g = prev
            case .relu: for j in g.indices where !(u[i][j] > 0) { g[j] = 0 }
            case .tanh: for j in g.indices { g[j] *= 1 - u[i + 1][j] * u[i + 1][j] }
            }
        }
        var p = [Scalar]()
        if case .crossEntropy = loss {
            p = logits
            for r in 0..<n {
                let row = r * classes
                var m = p[row]
                for j in 1..<max(classes, 1) { m = max(m, p[row + j]) }
                var sum = 0.0
                for j in 0..<classes { p[row + j] = Scalar.exp(p[row + j] - m); sum += Double(p[row + j]) }
                for j in 0..<classes { p[row + j] = Scalar(Double(p[row + j]) / sum) }
            }
        }
        return Base(n: n, u: u, e: e, probabilities: p)
    }

    private var firstLinear: Int { ops.firstIndex { if case .linear = $0 { true } else { false } }! }

    /// The R-forward and R-backward passes of one chunk for the block; adds into `out`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func accumulate(base: Base, directions: [(w: [Scalar], b: [Scalar])], k: Int, into out: inout [[Double]]) {
        let n = base.n
        // ru[i]: R{u[i]} for the block, k-major ([K, n, width]); nil where identically zero.
        var ru = [[Scalar]?](repeating: nil, count: ops.count + 1)
        for (i, op) in ops.enumerated() {
            switch op {
            case .linear(let l):
                let rows = n * l.outputs
                var r = [Scalar](repeating: 0, count: k * rows)
                if let rin = ru[i] {
                    Self.gemm(false, true, k * n, l.outputs, l.inputs, rin, 0, l.inputs, l.weight, 0, l.inputs, &r, 0, l.outputs, false)
                }
                for j in 0..<k {
                    Self.gemm(false, true, n, l.outputs, l.inputs, base.u[i], 0, l.inputs, directions[i].w, j * l.outputs * l.inputs, l.inputs,
                              &r, j * rows, l.outputs, ru[i] != nil)
                    if l.bias != nil {
                        for s in 0..<n { for c in 0..<l.outputs { r[j * rows + s * l.outputs + c] += directions[i].b[j * l.outputs + c] } }
                    }
                }
                ru[i + 1] = r
            case .relu:
                ru[i + 1] = ru[i].map { r in Self.scaled(r, n: base.u[i].count) { j in base.u[i][j] > 0 ? 1 : 0 } }
            case .tanh:
                ru[i + 1] = ru[i].map { r in Self.scaled(r, n: base.u[i].count) { j in 1 - base.u[i + 1][j] * base.u[i + 1][j] } }
            }
        }
        var re = lossHessian(ru[ops.count]!, base: base, k: k)
        for i in ops.indices.reversed() {
            let e = base.e[i]
            switch ops[i] {
            case .linear(let l):
                weightProducts(l, re: re, u: base.u[i], e: e, ru: ru[i], n: n, k: k, into: &out)
                if i == firstLinear { return }
                var prev = [Scalar](repeating: 0, count: k * n * l.inputs)
                Self.gemm(false, false, k * n, l.inputs, l.outputs, re, 0, l.outputs, l.weight, 0, l.inputs, &prev, 0, l.inputs, false)
                for j in 0..<k {
                    Self.gemm(false, false, n, l.inputs, l.outputs, e, 0, l.outputs, directions[i].w, j * l.outputs * l.inputs, l.inputs,
                              &prev, j * n * l.inputs, l.inputs, true)
                }
                re = prev
            case .relu:
                re = Self.scaled(re, n: base.u[i].count) { j in base.u[i][j] > 0 ? 1 : 0 }
            case .tanh:
                let t = base.u[i + 1], m = t.count
                for j in 0..<k {
                    for q in 0..<m {
                        let d = 1 - t[q] * t[q]
                        var value = re[j * m + q] * d
                        if let r = ru[i] { value += (-2 * t[q] * d) * r[j * m + q] * e[q] }
                        re[j * m + q] = value
                    }
                }
            }
        }
    }

    /// `R{∇W}ₖ = R{δ}ₖᵀu + δᵀR{u}ₖ` and `R{∇b}ₖ = Σ_rows R{δ}ₖ`, added into `out[k]` in Double.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func weightProducts(_ l: LinearOp, re: [Scalar], u: [Scalar], e: [Scalar], ru: [Scalar]?, n: Int, k: Int,
                                into out: inout [[Double]]) {
        var tmp = [Scalar](repeating: 0, count: l.outputs * l.inputs)
        for j in 0..<k {
            Self.gemm(true, false, l.outputs, l.inputs, n, re, j * n * l.outputs, l.outputs, u, 0, l.inputs, &tmp, 0, l.inputs, false)
            if let ru {
                Self.gemm(true, false, l.outputs, l.inputs, n, e, 0, l.outputs, ru, j * n * l.inputs, l.inputs, &tmp, 0, l.inputs, true)
            }
            out[j].withUnsafeMutableBufferPointer { o in
                for q in 0..<tmp.count { o[l.weightOffset + q] += Double(tmp[q]) }
                guard l.bias != nil else { return }
                for s in 0..<n {
                    for c in 0..<l.outputs { o[l.biasOffset + c] += Double(re[j * n * l.outputs + s * l.outputs + c]) }
                }
            }
        }
    }

    /// The loss's Hessian with respect to the logits applied to each block member's `R{z}`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func lossHessian(_ rz: [Scalar], base: Base, k: Int) -> [Scalar] {
        let n = base.n, classes = base.u[ops.count].count / max(base.n, 1)
        var out = rz
        switch loss {
        case .mse:
            let scale = Scalar(2.0 / Double(data.count * classes))
            for q in out.indices { out[q] *= scale }
        case .crossEntropy:
            let inv = 1.0 / Double(data.count)
            let p = base.probabilities
            for j in 0..<k {
                for s in 0..<n {
                    let row = s * classes, at = j * n * classes + row
                    var mean = 0.0
                    for c in 0..<classes { mean += Double(p[row + c]) * Double(rz[at + c]) }
                    for c in 0..<classes { out[at + c] = Scalar(Double(p[row + c]) * (Double(rz[at + c]) - mean) * inv) }
                }
            }
        }
        return out
    }

    /// `r` (K blocks of `n` scalars) times `factor(j)` elementwise in every block.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func scaled(_ r: [Scalar], n: Int, _ factor: (Int) -> Scalar) -> [Scalar] {
        var out = r
        let f = (0..<n).map(factor)
        for q in out.indices { out[q] *= f[q % n] }
        return out
    }

    /// ``Kernels/gemm`` on arrays with element offsets.
    @inline(__always)
    private static func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: [Scalar], _ ao: Int, _ lda: Int,
                             _ b: [Scalar], _ bo: Int, _ ldb: Int, _ c: inout [Scalar], _ co: Int, _ ldc: Int, _ acc: Bool) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    Kernels.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: ap.baseAddress! + ao, lda: lda,
                                 b: bp.baseAddress! + bo, ldb: ldb, c: cp.baseAddress! + co, ldc: ldc, accumulate: acc)
                }
            }
        }
    }
}
