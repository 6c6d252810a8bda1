/// A residual block `relu(F(x) + S(x))` (He et al. 2016), where `F` is the `body` and `S`
/// the `shortcut` (identity when nil, e.g. a 1×1 convolution when shapes change).
///
/// With `useSkip == false` the block computes `relu(F(x))`: the same parameters without the
/// skip connection, for the "with vs without skip connections" landscape comparison
/// (Li et al. 2018, figure 5).
public final class ResidualBlock<Scalar: TensorScalar>: Layer<Scalar> {
    /// The residual branch, with PyTorch-style attribute names (`conv1`, `bn1`, …).
    public let body: [(name: String, layer: Layer<Scalar>)]
    /// The projection shortcut, if any.
    public let shortcut: Layer<Scalar>?
    /// Whether the skip connection is used.
    public let useSkip: Bool
    private var output = Tensor<Scalar>(shape: [0])
    private var pattern: [Bool] = []
    private var frozen = false

    /// Creates a block.
    public init(body: [(name: String, layer: Layer<Scalar>)], shortcut: Layer<Scalar>?, useSkip: Bool) {
        self.body = body
        self.shortcut = shortcut
        self.useSkip = useSkip
    }

    public override var children: [(name: String, layer: Layer<Scalar>)] {
        body + (shortcut.map { [("shortcut", $0)] } ?? [])
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for (_, layer) in body { shape = try layer.outputShape(for: shape) }
        if useSkip {
            let skipShape = try shortcut?.outputShape(for: inputShape) ?? inputShape
            guard skipShape == shape else {
                throw TerrainError.invalidModel("residual block: body gives \(shape) but the shortcut gives \(skipShape)")
            }
        }
        return shape
    }

    public override func multiplyAccumulates(for inputShape: [Int]) throws -> Int {
        var shape = inputShape, total = 0
        for (_, layer) in body {
            total += try layer.multiplyAccumulates(for: shape)
            shape = try layer.outputShape(for: shape)
        }
        if useSkip, let shortcut { total += try shortcut.multiplyAccumulates(for: inputShape) }
        return total
    }

    public override var summary: String { "ResidualBlock(skip: \(useSkip))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        var h = input
        for (_, layer) in body { h = layer.forward(h, context: context) }
        let skip: Tensor<Scalar>? = useSkip ? (shortcut?.forward(input, context: context) ?? input) : nil
        frozen = context.activations == .frozen
        // One pass: y = relu(F(x) + S(x)) (or the frozen pattern applied to the sum).
        var y = Tensor<Scalar>(shape: h.shape) { out in
            h.storage.withUnsafeBufferPointer { hp in
                if let skip, !frozen, context.activations == .live {
                    skip.storage.withUnsafeBufferPointer { sp in
                        Elementwise.addRelu(hp.baseAddress!, sp.baseAddress!, into: out.baseAddress!, count: hp.count)
                    }
                } else if let skip {
                    skip.storage.withUnsafeBufferPointer { sp in
                        Elementwise.add(hp.baseAddress!, sp.baseAddress!, into: out.baseAddress!, count: hp.count)
                    }
                } else {
                    out.baseAddress!.update(from: hp.baseAddress!, count: hp.count)
                }
            }
        }
        if frozen {
            precondition(pattern.count == y.count, "ResidualBlock: no recorded activation pattern for this batch")
            y.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where !pattern[i] { p[i] = 0 }
            }
        } else if context.activations == .record || skip == nil {
            if context.activations == .record { pattern = y.storage.map { $0 > 0 } }
            y.storage.withUnsafeMutableBufferPointer { p in
                Elementwise.relu(UnsafePointer(p.baseAddress!), into: p.baseAddress!, count: p.count)
            }
        }
        output = context.retainsForBackward ? y : Tensor(shape: [0])
        return y
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = gradOutput
        if frozen {
            g.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where !pattern[i] { p[i] = 0 }
            }
        } else {
            precondition(output.count == g.count, "ResidualBlock: backward without a matching forward")
            g = output.storage.withUnsafeBufferPointer { y in
                gradOutput.storage.withUnsafeBufferPointer { gp in
                    Tensor<Scalar>(shape: gradOutput.shape) { out in
                        Elementwise.maskWherePositive(gp.baseAddress!, by: y.baseAddress!, into: out.baseAddress!, count: gp.count)
                    }
                }
            }
        }
        var gx = g
        for (_, layer) in body.reversed() { gx = layer.backward(gx) }
        guard useSkip else { return gx }
        let gs = shortcut?.backward(g) ?? g
        guard inputGradientNeeded else { return Tensor(shape: [0]) }
        return gx.storage.withUnsafeBufferPointer { a in
            gs.storage.withUnsafeBufferPointer { b in
                Tensor<Scalar>(shape: gx.shape) { out in
                    Elementwise.add(a.baseAddress!, b.baseAddress!, into: out.baseAddress!, count: a.count)
                }
            }
        }
    }
}
