/// The R-operator nodes without parameters and the composite ones: ReLU and tanh,
/// parameter-free linear maps (pooling, flattening, zero-padding shortcuts, evaluation-mode
/// dropout), max pooling, sequences and residual blocks.

/// A ReLU, with its derivative at θ (the almost-everywhere Hessian that double backprop
/// computes): `R{y} = 1[x > 0]·R{x}`, `R{∂L/∂x} = 1[x > 0]·R{e}`.
final class ReLUNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    private var masks: [Int: [Scalar]] = [:]

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        let mask = x.storage.map { $0 > 0 ? Scalar(1) : 0 }
        masks[chunk] = mask
        return Tensor(shape: x.shape, storage: x.storage.map { $0 > 0 ? $0 : 0 })
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        needInput ? Blocks.scaled(e, by: masks[chunk]!) : nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        rx.map { Blocks.scaled($0, by: masks[chunk]!) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        needInput ? Blocks.scaled(re, by: masks[chunk]!) : nil
    }

    override func forget(chunk: Int) { masks[chunk] = nil }
}

/// tanh, `t = tanh(x)`: `R{y} = (1 − t²)·R{x}`,
/// `R{∂L/∂x} = (1 − t²)·R{e} − 2t(1 − t²)·R{x}·e`.
final class TanhNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    private var saved: [Int: (t: [Scalar], e: [Scalar])] = [:]
    private var rx: Tensor<Scalar>?

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        let t = x.storage.map { Scalar.tanh($0) }
        saved[chunk] = (t, [])
        return Tensor(shape: x.shape, storage: t)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        saved[chunk]!.e = e.storage
        return needInput ? Blocks.scaled(e, by: saved[chunk]!.t.map { 1 - $0 * $0 }) : nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        self.rx = rx
        return rx.map { Blocks.scaled($0, by: saved[chunk]!.t.map { 1 - $0 * $0 }) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        guard needInput else { return nil }
        let (t, e) = saved[chunk]!
        let m = t.count
        var d = re.storage
        for j in 0..<block.k {
            for q in 0..<m {
                let s = 1 - t[q] * t[q]
                var value = d[j * m + q] * s
                if let rx { value += (-2 * t[q] * s) * rx.storage[j * m + q] * e[q] }
                d[j * m + q] = value
            }
        }
        return Tensor(shape: re.shape, storage: d)
    }

    override func forget(chunk: Int) { saved[chunk] = nil }
}

/// A layer without parameters that is linear in its input (average pooling, flattening,
/// reshaping, zero-padding shortcuts, dropout in evaluation mode), run through its own
/// forward/backward: the tangent passes are the same map on the block's `K·n` samples.
/// The layer must belong to the engine's private copy of the model (its forward keeps shapes).
final class LinearMapNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let layer: Layer<Scalar>

    init(_ layer: Layer<Scalar>) {
        self.layer = layer
        layer.inputGradientNeeded = true
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        layer.forward(x, context: .eval)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        needInput ? layer.backward(e) : nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        rx.map { layer.forward($0, context: .eval) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        needInput ? layer.backward(re) : nil
    }
}

/// Max pooling with the winners chosen at θ (the frozen pattern): a gather forward and a
/// scatter backward through the base pass's indices, for every member of the block.
final class MaxPoolNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let pool: Pool<Scalar>
    private var saved: [Int: (indices: [Int32], inputShape: [Int], outputShape: [Int])] = [:]

    init(_ pool: Pool<Scalar>) { self.pool = pool }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        let y = pool.forward(x, context: .eval)
        saved[chunk] = (pool.maxIndices, x.shape, y.shape)
        return y
    }

    private func scatter(_ g: [Scalar], k: Int, _ s: (indices: [Int32], inputShape: [Int], outputShape: [Int])) -> [Scalar] {
        let m = s.inputShape.reduce(1, *), o = s.indices.count
        var d = [Scalar](repeating: 0, count: k * m)
        for j in 0..<k {
            for i in 0..<o { d[j * m + Int(s.indices[i])] += g[j * o + i] }
        }
        return d
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        guard needInput else { return nil }
        let s = saved[chunk]!
        return Tensor(shape: s.inputShape, storage: scatter(e.storage, k: 1, s))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        guard let rx else { return nil }
        let s = saved[chunk]!, k = block.k
        let m = s.inputShape.reduce(1, *), o = s.indices.count
        var r = [Scalar](repeating: 0, count: k * o)
        for j in 0..<k {
            for i in 0..<o { r[j * o + i] = rx.storage[j * m + Int(s.indices[i])] }
        }
        return Tensor(shape: Blocks.stacked(s.outputShape, k), storage: r)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        guard needInput else { return nil }
        let s = saved[chunk]!
        return Tensor(shape: Blocks.stacked(s.inputShape, block.k), storage: scatter(re.storage, k: block.k, s))
    }

    override func forget(chunk: Int) { saved[chunk] = nil }
}

/// Nodes applied in order. Backward passes stop after the first node with parameters when
/// nothing before it needs a gradient (``needsInputGradient`` false: the network's start).
final class SequenceNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let nodes: [TangentNode<Scalar>]
    /// Whether ∂L/∂input of this sequence is wanted (false for the network itself).
    let needsInputGradient: Bool

    init(_ nodes: [TangentNode<Scalar>], needsInputGradient: Bool) {
        self.nodes = nodes
        self.needsInputGradient = needsInputGradient
    }

    override var hasParameters: Bool { nodes.contains { $0.hasParameters } }

    /// The index of the first node whose input gradient is not needed past it.
    private var stop: Int { needsInputGradient ? 0 : (nodes.firstIndex { $0.hasParameters } ?? nodes.count) }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        nodes.reduce(x) { $1.forward($0, chunk: chunk) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        var g: Tensor<Scalar>? = e
        for i in nodes.indices.reversed() where i >= stop {
            g = nodes[i].backward(g!, chunk: chunk, needInput: i > stop || (needInput && needsInputGradient))
        }
        return g
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        nodes.reduce(rx) { $1.tangentForward($0, chunk: chunk, block: block) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        var g: Tensor<Scalar>? = re
        for i in nodes.indices.reversed() where i >= stop {
            g = nodes[i].tangentBackward(g!, chunk: chunk, block: block,
                                         needInput: i > stop || (needInput && needsInputGradient), into: &out)
        }
        return g
    }

    override func forget(chunk: Int) { for n in nodes { n.forget(chunk: chunk) } }
}

/// A residual block `relu(F(x) + S(x))` (or `relu(F(x))` without the skip): the branches'
/// tangents add, and the final ReLU's pattern is the sum's sign at θ.
final class ResidualNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let body: SequenceNode<Scalar>
    /// The shortcut branch; nil with the skip is the identity.
    let shortcut: SequenceNode<Scalar>?
    let useSkip: Bool
    private let relu = ReLUNode<Scalar>()

    init(body: SequenceNode<Scalar>, shortcut: SequenceNode<Scalar>?, useSkip: Bool) {
        self.body = body
        self.shortcut = shortcut
        self.useSkip = useSkip
    }

    override var hasParameters: Bool { true }

    private static func sum(_ a: Tensor<Scalar>?, _ b: Tensor<Scalar>?) -> Tensor<Scalar>? {
        guard let a else { return b }
        guard let b else { return a }
        return Blocks.sum(a, b)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        let h = body.forward(x, chunk: chunk)
        let z = useSkip ? Self.sum(h, shortcut?.forward(x, chunk: chunk) ?? x)! : h
        return relu.forward(z, chunk: chunk)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        let g = relu.backward(e, chunk: chunk, needInput: true)!
        let gx = body.backward(g, chunk: chunk, needInput: needInput)
        guard useSkip else { return gx }
        let gs = shortcut.map { $0.backward(g, chunk: chunk, needInput: needInput) } ?? g
        return needInput ? Self.sum(gx, gs) : nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        let h = body.tangentForward(rx, chunk: chunk, block: block)
        let z = useSkip ? Self.sum(h, shortcut.map { $0.tangentForward(rx, chunk: chunk, block: block) } ?? rx) : h
        return relu.tangentForward(z, chunk: chunk, block: block)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        let g = relu.tangentBackward(re, chunk: chunk, block: block, needInput: true, into: &out)!
        let gx = body.tangentBackward(g, chunk: chunk, block: block, needInput: needInput, into: &out)
        guard useSkip else { return gx }
        let gs = shortcut.map { $0.tangentBackward(g, chunk: chunk, block: block, needInput: needInput, into: &out) } ?? g
        return needInput ? Self.sum(gx, gs) : nil
    }

    override func forget(chunk: Int) {
        body.forget(chunk: chunk)
        shortcut?.forget(chunk: chunk)
        relu.forget(chunk: chunk)
    }
}
