/// Hessian-vector products by the R-operator (Pearlmutter 1994; forward-over-reverse), for a
/// block of vectors at once, in the model's own scalar type with `Double` accumulation over
/// data chunks.
///
/// **Method.** The network becomes a tree of ``TangentNode``s (one per layer, residual blocks
/// as composite nodes). For each chunk of data the engine runs one *base* pass at θ (forward,
/// loss gradient, backward; kept for every chunk when it fits in an eighth of the process's
/// ``MemoryBudget``, recomputed for each block otherwise: the bits are the same), then for a
/// block of K directions `v₁…v_K` the R-forward pass, the loss Hessian on the logits (softmax:
/// `p ⊙ (R{z} − ⟨p, R{z}⟩)`; MSE: a constant) and the R-backward pass, whose parameter
/// gradients `R{∇θ}` are the products `H·vₖ`. Layers that are linear in their input run the
/// whole block as one batch of `K·n` samples; convolutions use Terrain's own convolution
/// kernels, linear layers its GEMM (fixed summation orders), so results are identical on
/// every CPU. ReLUs, the ReLU after a residual sum and max pooling use their pattern at θ (the
/// almost-everywhere Hessian that double backprop computes, as the finite-difference path's
/// frozen pattern does). BatchNorm is in evaluation mode (running statistics, as PyHessian),
/// an affine map whose γ and β have second-order cross terms with the input.
///
/// **Block-size independence.** Each output element is the same chain of operations whatever
/// the number of vectors in the block (the chunks of data are fixed by the model and the data
/// alone), so a vector's `H·v` has the same bits alone or in a block.
///
/// **Accuracy.** In `Float` the per-chunk products carry relative errors of order
/// `ε₃₂·√n` (n samples per chunk); chunks are summed in `Double`. On the example MLP λ_max and
/// the trace agree with the `Double` path within 1e-5 relative (docs/performance.md).
///
/// Supported layers: `Linear`, `Conv2d` (1-D and 2-D), `BatchNorm` (with or without its fused
/// ReLU), `ReLU`, `Tanh`, `Dropout` (evaluation: identity), `Flatten`, `Unflatten`,
/// `GlobalAvgPool`, average and max `Pool`, `ZeroPadShortcut`, `ResidualBlock`, nested
/// `Sequential`s: the MLP, convolutional and preset families. Other layers (LayerNorm, GELU)
/// keep the finite-difference path: ``init(model:data:loss:)`` returns `nil` for them.
public final class BlockHessianProduct<Scalar: TensorScalar> {
    /// The most vectors one pass carries; larger blocks are split (results do not depend on it).
    public static var blockLimit: Int { 4 }
    /// Base passes of all chunks are kept when they need at most this many bytes: an eighth
    /// of the memory the process may use (ResNet-20 over 256 images: ≈ 1.2 GB; keeping it saves
    /// the ≈ 9 % of each block's time the base pass takes).
    static var cacheBytes: UInt64 { MemoryBudget.bytes / 8 }

    let root: SequenceNode<Scalar>
    let data: Dataset<Scalar>
    let loss: LossKind
    /// Entries of each parameter, in the model's order.
    let counts: [Int]
    /// P, the length of the vectors.
    public let dimension: Int
    /// Samples per chunk (fixed by the model and the data, never by the block size).
    public let chunkSize: Int
    /// Whether the base passes of all chunks are kept between blocks (memory permitting; the
    /// results do not depend on it).
    public let keepsBasePasses: Bool
    /// The estimated bytes of the base passes of all chunks (two scalars per activation).
    public let basePassBytes: UInt64
    /// Vectors per tangent pass: one when the base passes are kept (a pass's working set then
    /// stays in cache: on the EPYC one vector per pass ran 2.17× PyTorch on the MLP against
    /// 1.82× for passes of 4, and ResNet-20 2.59× against 2.47×), ``blockLimit`` when they are
    /// recomputed (one base pass per chunk then serves the whole block). The bits are the same.
    public var passWidth: Int { keepsBasePasses ? 1 : Self.blockLimit }
    /// Softmax probabilities of each chunk whose base pass is current (cross-entropy only).
    private var probabilities: [Int: [Scalar]] = [:]

    /// The engine for `model` at its current parameters (copied), or `nil` when a layer is
    /// not supported (see the type's documentation) or the loss/target pair has no
    /// R-operator here (cross-entropy needs class targets).
    public convenience init?(model: Model<Scalar>, data: Dataset<Scalar>, loss: LossKind) {
        self.init(model: model, data: data, loss: loss, cacheBytes: Self.cacheBytes)
    }

    /// As ``init(model:data:loss:)``, keeping the base passes only when they need at most
    /// `cacheBytes` bytes (0: recompute them for every block).
    public init?(model: Model<Scalar>, data: Dataset<Scalar>, loss: LossKind, cacheBytes: UInt64) {
        if case .crossEntropy = loss, case .values = data.y { return nil }
        // A private copy: the engine's layers keep shapes between its passes.
        let copy = (try? model.converted(to: Scalar.self)) ?? model
        guard let built = TangentNetwork.build(copy, inputShape: data.sampleShape) else { return nil }
        root = built.root
        self.data = data
        self.loss = loss
        counts = copy.parameters.map(\.count)
        dimension = counts.reduce(0, +)
        // Working memory of a full block: R{u} and R{e} for every node. ~4M scalars keep an MLP
        // chunk's block in the last-level cache between the GEMMs that produce and consume it
        // (with 16M, blocks of 4 ran slower per vector than single vectors); convolutional
        // networks take at least 8 images per chunk so that their kernels see whole images.
        let perSample = max(1, built.activationsPerSample)
        let maxChunk = max(min(8, data.count), (4 << 20) / (2 * Self.blockLimit * perSample))
        let chunks = max(1, (data.count + maxChunk - 1) / maxChunk)
        chunkSize = max(1, (data.count + chunks - 1) / chunks)
        // Kept per sample: each node's input and output gradient and masks, many of them shared
        // between adjacent nodes: two scalars per counted activation (ResNet-20 over 256 images:
        // 1.2 GB estimated, 1.1 GB resident measured for the whole process).
        basePassBytes = 2 * UInt64(perSample) * UInt64(data.count) * UInt64(MemoryLayout<Scalar>.size)
        keepsBasePasses = basePassBytes <= cacheBytes
    }

    /// `H·vₖ` for every vector (each of length P, already projected on the free coordinates;
    /// the caller masks the results). Vectors are processed ``passWidth`` at a time.
    public func products(_ vectors: [[Double]]) -> [[Double]] {
        var out = [[Double]]()
        var start = 0
        while start < vectors.count {
            let end = min(start + passWidth, vectors.count)
            out += block(Array(vectors[start..<end]))
            start = end
        }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func block(_ vectors: [[Double]]) -> [[Double]] {
        for v in vectors { precondition(v.count == dimension, "vector has \(v.count) entries, parameter space has \(dimension)") }
        let directions = TangentBlock<Scalar>(vectors, counts: counts)
        var out = [[Double]](repeating: [Double](repeating: 0, count: dimension), count: vectors.count)
        var start = 0, chunk = 0
        while start < data.count {
            let range = start..<min(start + chunkSize, data.count)
            if probabilities[chunk] == nil { base(range, chunk: chunk) }
            let rz = root.tangentForward(nil, chunk: chunk, block: directions)!
            let re = lossHessian(rz, chunk: chunk, n: range.count, k: vectors.count)
            _ = root.tangentBackward(re, chunk: chunk, block: directions, needInput: false, into: &out)
            if !keepsBasePasses {
                root.forget(chunk: chunk)
                probabilities[chunk] = nil
            }
            start = range.upperBound
            chunk += 1
        }
        return out
    }

    /// The base pass of one chunk: forward, the loss gradient, backward.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func base(_ range: Range<Int>, chunk: Int) {
        let n = range.count
        let logits = root.forward(data.inputs(range), chunk: chunk)
        let y = range == 0..<data.count ? data.y : data.y.slice(range)
        let l = loss.evaluate(logits: logits, targets: y, normalizer: data.count, wantGradient: true)
        _ = root.backward(l.gradient!, chunk: chunk, needInput: false)
        var p = [Scalar]()
        if case .crossEntropy = loss {
            let classes = logits.count / max(n, 1)
            p = logits.storage
            for r in 0..<n {
                let row = r * classes
                var m = p[row]
                for j in 1..<max(classes, 1) { m = max(m, p[row + j]) }
                var sum = 0.0
                for j in 0..<classes { p[row + j] = Scalar.exp(p[row + j] - m); sum += Double(p[row + j]) }
                for j in 0..<classes { p[row + j] = Scalar(Double(p[row + j]) / sum) }
            }
        }
        probabilities[chunk] = p
    }

    /// The loss's Hessian with respect to the logits applied to each block member's `R{z}`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func lossHessian(_ rz: Tensor<Scalar>, chunk: Int, n: Int, k: Int) -> Tensor<Scalar> {
        let classes = rz.count / max(k * n, 1)
        var out = rz.storage
        switch loss {
        case .mse:
            let scale = Scalar(2.0 / Double(data.count * classes))
            for q in out.indices { out[q] *= scale }
        case .crossEntropy:
            let inv = 1.0 / Double(data.count)
            let p = probabilities[chunk]!
            for j in 0..<k {
                for s in 0..<n {
                    let row = s * classes, at = j * n * classes + row
                    var mean = 0.0
                    for c in 0..<classes { mean += Double(p[row + c]) * Double(rz.storage[at + c]) }
                    for c in 0..<classes { out[at + c] = Scalar(Double(p[row + c]) * (Double(rz.storage[at + c]) - mean) * inv) }
                }
            }
        }
        return Tensor(shape: rz.shape, storage: out)
    }
}

/// Builds the node tree of a model (``BlockHessianProduct``).
enum TangentNetwork {
    /// The root sequence and the activations one sample produces (for sizing chunks), or nil
    /// when a layer has no R-operator here.
    static func build<Scalar: TensorScalar>(_ model: Model<Scalar>, inputShape: [Int])
        -> (root: SequenceNode<Scalar>, activationsPerSample: Int)? {
        var index = [ObjectIdentifier: Int]()
        for (i, p) in model.parameters.enumerated() { index[ObjectIdentifier(p)] = i }
        var builder = Builder<Scalar>(index: index)
        var shape = inputShape
        guard let nodes = builder.nodes(of: model.layers, shape: &shape), builder.sawParameter else { return nil }
        return (SequenceNode(nodes, needsInputGradient: false), builder.activations)
    }

    struct Builder<Scalar: TensorScalar> {
        let index: [ObjectIdentifier: Int]
        var sawParameter = false
        var activations = 0

        /// The nodes of `layer` for inputs of `shape` (updated to the output shape).
        mutating func nodes(of layer: Layer<Scalar>, shape: inout [Int]) -> [TangentNode<Scalar>]? {
            if let s = layer as? Sequential<Scalar> {
                var all = [TangentNode<Scalar>]()
                for child in s.layers {
                    guard let n = nodes(of: child, shape: &shape) else { return nil }
                    all += n
                }
                return all
            }
            guard let out = try? layer.outputShape(for: shape) else { return nil }
            defer { shape = out; activations += out.reduce(1, *) }
            switch layer {
            case let r as ResidualBlock<Scalar>:
                var bodyShape = shape, bodyNodes = [TangentNode<Scalar>]()
                for (_, l) in r.body {
                    guard let n = nodes(of: l, shape: &bodyShape) else { return nil }
                    bodyNodes += n
                }
                var shortcut: SequenceNode<Scalar>?
                if let s = r.shortcut, r.useSkip {
                    var skipShape = shape
                    guard let n = nodes(of: s, shape: &skipShape) else { return nil }
                    shortcut = SequenceNode(n, needsInputGradient: true)
                }
                return [ResidualNode(body: SequenceNode(bodyNodes, needsInputGradient: true), shortcut: shortcut, useSkip: r.useSkip)]
            case let c as Conv2d<Scalar>:
                guard !c.channelsFirstInput || !sawParameter, let w = index[ObjectIdentifier(c.weight)] else { return nil }
                sawParameter = true
                return [ConvNode(c, weightIndex: w, biasIndex: c.bias.flatMap { index[ObjectIdentifier($0)] })]
            case let l as Linear<Scalar>:
                guard let w = index[ObjectIdentifier(l.weight)] else { return nil }
                sawParameter = true
                return [LinearNode(l, weightIndex: w, biasIndex: l.bias.flatMap { index[ObjectIdentifier($0)] })]
            case let b as BatchNorm<Scalar>:
                guard let w = index[ObjectIdentifier(b.weight)], let s = index[ObjectIdentifier(b.bias)] else { return nil }
                sawParameter = true
                return [BatchNormNode(b, weightIndex: w, biasIndex: s, rectifies: b.fusedReLU != nil)]
            case let r as ReLU<Scalar>:
                return r.isFused ? [] : [ReLUNode()]
            case is Tanh<Scalar>:
                return [TanhNode()]
            case let p as Pool<Scalar>:
                return p.kind == .max ? [MaxPoolNode(p)] : [LinearMapNode(p)]
            case is Dropout<Scalar>, is Flatten<Scalar>, is Unflatten<Scalar>, is GlobalAvgPool<Scalar>, is ZeroPadShortcut<Scalar>:
                return [LinearMapNode(layer)]
            default:
                return nil
            }
        }
    }
}
