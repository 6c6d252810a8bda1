/// The hyperbolic tangent, elementwise, any shape.
public final class Tanh<Scalar: TensorScalar>: Layer<Scalar> {
    private var output = Tensor<Scalar>(shape: [0])

    /// Creates the layer.
    public override init() {}

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        var out = input
        out.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = Scalar.tanh(p[i]) }
        }
        output = out
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = gradOutput
        output.storage.withUnsafeBufferPointer { y in
            g.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] *= 1 - y[i] * y[i] }
            }
        }
        return g
    }
}
