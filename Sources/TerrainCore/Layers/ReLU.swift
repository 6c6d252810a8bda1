/// The rectifier `max(0, x)`, elementwise, any shape. Its derivative at 0 is taken as 0,
/// as in PyTorch.
public final class ReLU<Scalar: TensorScalar>: Layer<Scalar> {
    private var output = Tensor<Scalar>(shape: [0])

    /// Creates the layer.
    public override init() {}

    @_specialize(where Scalar == Float)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        var out = input
        out.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = p[i] > 0 ? p[i] : 0 }
        }
        output = out
        return out
    }

    @_specialize(where Scalar == Float)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = gradOutput
        output.storage.withUnsafeBufferPointer { y in
            g.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] = y[i] > 0 ? p[i] : 0 }
            }
        }
        return g
    }
}
