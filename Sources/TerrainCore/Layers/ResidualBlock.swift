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

    public override var summary: String { "ResidualBlock(skip: \(useSkip))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        var h = input
        for (_, layer) in body { h = layer.forward(h, context: context) }
        if useSkip {
            let s = shortcut?.forward(input, context: context) ?? input
            Kernels.axpy(1, s.storage, &h.storage)
        }
        frozen = context.activations == .frozen
        if frozen {
            precondition(pattern.count == h.count, "ResidualBlock: no recorded activation pattern for this batch")
            h.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where !pattern[i] { p[i] = 0 }
            }
        } else {
            if context.activations == .record { pattern = h.storage.map { $0 > 0 } }
            h.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] = p[i] > 0 ? p[i] : 0 }
            }
        }
        output = h
        return h
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = gradOutput
        if frozen {
            g.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where !pattern[i] { p[i] = 0 }
            }
        } else {
            output.storage.withUnsafeBufferPointer { y in
                g.storage.withUnsafeMutableBufferPointer { p in
                    for i in 0..<p.count { p[i] = y[i] > 0 ? p[i] : 0 }
                }
            }
        }
        var gx = g
        for (_, layer) in body.reversed() { gx = layer.backward(gx) }
        if useSkip {
            let gs = shortcut?.backward(g) ?? g
            Kernels.axpy(1, gs.storage, &gx.storage)
        }
        return gx
    }
}
