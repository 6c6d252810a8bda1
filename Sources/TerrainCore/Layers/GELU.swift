/// The Gaussian error linear unit `x·Φ(x) = ½x(1 + erf(x/√2))` (exact form, PyTorch's
/// default `approximate='none'`), elementwise, any shape. Derivative `Φ(x) + x·φ(x)`.
public final class GELU<Scalar: TensorScalar>: Layer<Scalar> {
    private var input = Tensor<Scalar>(shape: [0])

    /// Creates the layer.
    public override init() {}

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        self.input = input
        var out = input
        let invSqrt2 = Scalar(0.707_106_781_186_547_524_4)
        out.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count {
                let x = p[i]
                p[i] = x * (1 + Scalar.erf(x * invSqrt2)) / 2
            }
        }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = gradOutput
        let invSqrt2 = Scalar(0.707_106_781_186_547_524_4)
        let invSqrt2Pi = Scalar(0.398_942_280_401_432_677_9)
        input.storage.withUnsafeBufferPointer { xs in
            g.storage.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count {
                    let x = xs[i]
                    let cdf = (1 + Scalar.erf(x * invSqrt2)) / 2
                    let pdf = invSqrt2Pi * Scalar.exp(-x * x / 2)
                    p[i] *= cdf + x * pdf
                }
            }
        }
        return g
    }
}
