/// A fully connected layer `y = x·Wᵀ + b`, as PyTorch's `nn.Linear`.
///
/// Input `[N, in]`, output `[N, out]`; `weight` has shape `[out, in]`, `bias` `[out]`.
public final class Linear<Scalar: TensorScalar>: Layer<Scalar> {
    /// The `[out, in]` weight.
    public let weight: Parameter<Scalar>
    /// The `[out]` bias, if any.
    public let bias: Parameter<Scalar>?
    private var input = Tensor<Scalar>(shape: [0])
    private var usedWeight = Tensor<Scalar>(shape: [0])

    /// Creates a layer with zero weights; the model builder initializes them.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        weight = Parameter("weight", role: .weight, value: Tensor(shape: [outFeatures, inFeatures]))
        self.bias = bias ? Parameter("bias", role: .bias, value: Tensor(shape: [outFeatures])) : nil
    }

    /// Input features.
    public var inFeatures: Int { weight.shape[1] }
    /// Output features.
    public var outFeatures: Int { weight.shape[0] }

    public override var parameters: [Parameter<Scalar>] { [weight] + (bias.map { [$0] } ?? []) }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape == [inFeatures] else {
            throw TerrainError.invalidModel("Linear(\(inFeatures)→\(outFeatures)) got input shape \(inputShape); expected [\(inFeatures)] (add a flatten layer?)")
        }
        return [outFeatures]
    }

    public override func multiplyAccumulates(for inputShape: [Int]) throws -> Int { inFeatures * outFeatures }

    public override var summary: String { "Linear(\(inFeatures) → \(outFeatures)\(bias == nil ? ", no bias" : ""))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition(input.rank == 2 && input.shape[1] == inFeatures,
                     "Linear(\(inFeatures)→\(outFeatures)) got input \(input.shape)")
        self.input = input
        usedWeight = weight.effectiveValue
        let n = input.shape[0], o = outFeatures
        // The product first, then the bias (as PyTorch's addmm): each output is the GEMM's
        // chain from zero plus the bias, so it does not depend on how a caller splits the sum.
        var out = Tensor<Scalar>(shape: [n, o]) { _ in }
        Kernels.matmul(input, usedWeight, transposeB: true, into: &out)
        if let bias { Kernels.addRowBias(&out.storage, bias.value.storage) }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        Kernels.matmul(gradOutput, transposeA: true, input, into: &weight.grad, accumulate: true)
        // y uses W ⊙ M, so ∂L/∂W = (dyᵀx) ⊙ M.
        if weight.mask != nil { weight.maskGradient() }
        if let bias { Kernels.accumulateColumnSums(gradOutput.storage, into: &bias.grad.storage) }
        var gradInput = Tensor<Scalar>(shape: input.shape)
        Kernels.matmul(gradOutput, usedWeight, into: &gradInput)
        return gradInput
    }
}
