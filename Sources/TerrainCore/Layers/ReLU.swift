/// The rectifier `max(0, x)`, elementwise, any shape. Its derivative at 0 is taken as 0,
/// as in PyTorch; NaN inputs give 0.
///
/// When the layer before it is a BatchNorm, the model fuses the two
/// (``BatchNorm/fuseReLU(_:)``): the BatchNorm rectifies in its own pass and this layer
/// passes values and gradients through unchanged (``isFused``).
public final class ReLU<Scalar: TensorScalar>: Layer<Scalar> {
    private var output = Tensor<Scalar>(shape: [0])
    private var pattern: [Bool] = []
    private var mask: [Bool]? = nil
    /// Whether a preceding layer applies this ReLU (then this layer is the identity).
    public internal(set) var isFused = false

    /// Creates the layer.
    public override init() {}

    public override var summary: String { isFused ? "ReLU (fused)" : "ReLU" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        if isFused { return input }
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
                    Elementwise.relu(x.baseAddress!, into: y.baseAddress!, count: x.count)
                }
            }
            if context.activations == .record { pattern = input.storage.map { $0 > 0 } }
        }
        output = context.retainsForBackward ? out : Tensor(shape: [0])
        if context.activations == .frozen { mask = pattern } else { mask = nil }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        if isFused { return gradOutput }
        if let mask {
            return gradOutput.storage.withUnsafeBufferPointer { g in
                Tensor<Scalar>(shape: gradOutput.shape) { out in
                    for i in 0..<g.count { out[i] = mask[i] ? g[i] : 0 }
                }
            }
        }
        precondition(output.count == gradOutput.count, "ReLU: backward without a matching forward")
        return output.storage.withUnsafeBufferPointer { y in
            gradOutput.storage.withUnsafeBufferPointer { g in
                Tensor<Scalar>(shape: gradOutput.shape) { out in
                    Elementwise.maskWherePositive(g.baseAddress!, by: y.baseAddress!, into: out.baseAddress!, count: g.count)
                }
            }
        }
    }
}
