/// Views each flat sample as a tensor of `sampleShape`: `[N, F]` → `[N] + sampleShape`
/// (PyTorch's `nn.Unflatten(1, sampleShape)`), e.g. MNIST-1D's 40 features as `[1, 40]`
/// for a 1-D convolution.
public final class Unflatten<Scalar: TensorScalar>: Layer<Scalar> {
    /// The per-sample shape of the output.
    public let sampleShape: [Int]
    private var inputShape: [Int] = []

    /// Creates the layer.
    public init(_ sampleShape: [Int]) { self.sampleShape = sampleShape }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.reduce(1, *) == sampleShape.reduce(1, *) else {
            throw TerrainError.invalidModel("cannot view input \(inputShape) as \(sampleShape)")
        }
        return sampleShape
    }

    public override var summary: String { "Unflatten(\(sampleShape))" }

    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        inputShape = input.shape
        return input.reshaped([input.shape[0]] + sampleShape)
    }

    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        gradOutput.count == 0 ? gradOutput : gradOutput.reshaped(inputShape)
    }
}
