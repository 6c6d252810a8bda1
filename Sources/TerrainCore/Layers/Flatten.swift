/// Flattens each sample: `[N, d1, d2, …]` → `[N, d1·d2·…]` (PyTorch's `nn.Flatten()`).
public final class Flatten<Scalar: TensorScalar>: Layer<Scalar> {
    private var inputShape: [Int] = []

    /// Creates the layer.
    public override init() {}

    public override func outputShape(for inputShape: [Int]) throws -> [Int] { [inputShape.reduce(1, *)] }

    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        inputShape = input.shape
        return input.reshaped([input.shape[0], input.count / max(input.shape[0], 1)])
    }

    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        gradOutput.reshaped(inputShape)
    }
}
