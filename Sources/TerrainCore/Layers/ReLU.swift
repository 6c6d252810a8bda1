/// The rectifier `max(0, x)`, elementwise, any shape. Its derivative at 0 is taken as 0,
/// as in PyTorch.
public final class ReLU<Scalar: TensorScalar>: Layer<Scalar> {
    private var output = Tensor<Scalar>(shape: [0])
    private var pattern: [Bool] = []
    private var mask: [Bool]? = nil

    /// Creates the layer.
    public override init() {}

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        let out: Tensor<Scalar>
        if context.activations == .frozen {
            precondition(pattern.count == input.count, "ReLU: no recorded activation pattern for this batch")
            out = input.storage.withUnsafeBufferPointer { x in
                Tensor<Scalar>(shape: input.shape) { y in
                    for i in 0..<x.count { y[i] = pattern[i] ? x[i] : 0 }
                }
            }
        } else {
            out = input.storage.withUnsafeBufferPointer { x in
                Tensor<Scalar>(shape: input.shape) { y in
                    for i in 0..<x.count { y[i] = x[i] > 0 ? x[i] : 0 }
                }
            }
            if context.activations == .record { pattern = input.storage.map { $0 > 0 } }
        }
        output = out
        if context.activations == .frozen { mask = pattern } else { mask = nil }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        if let mask {
            return gradOutput.storage.withUnsafeBufferPointer { g in
                Tensor<Scalar>(shape: gradOutput.shape) { out in
                    for i in 0..<g.count { out[i] = mask[i] ? g[i] : 0 }
                }
            }
        }
        return output.storage.withUnsafeBufferPointer { y in
            gradOutput.storage.withUnsafeBufferPointer { g in
                Tensor<Scalar>(shape: gradOutput.shape) { out in
                    for i in 0..<g.count { out[i] = y[i] > 0 ? g[i] : 0 }
                }
            }
        }
    }
}
