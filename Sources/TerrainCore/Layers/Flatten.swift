/// Flattens each sample: `[N, d1, d2, …]` → `[N, d1·d2·…]` (PyTorch's `nn.Flatten()`).
///
/// After convolutions, activations are channels-last (`[N, H, W, C]`, see ``Conv2d``);
/// with ``channelsLastInput`` the layer flattens them in PyTorch's `(C, H, W)` order, so the
/// Linear layer that follows has PyTorch's weight layout.
public final class Flatten<Scalar: TensorScalar>: Layer<Scalar> {
    private var inputShape: [Int] = []
    /// Whether inputs are channels-last activations to flatten in channels-first order.
    public let channelsLastInput: Bool

    /// Creates the layer.
    public init(channelsLastInput: Bool = false) {
        self.channelsLastInput = channelsLastInput
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] { [inputShape.reduce(1, *)] }

    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        inputShape = input.shape
        let n = input.shape[0], features = input.count / max(n, 1)
        guard channelsLastInput && input.rank >= 3 else { return input.reshaped([n, features]) }
        let c = input.shape[input.rank - 1]
        return Tensor(shape: [n, features],
                      storage: ChannelsLast.transpose(input.storage, n: n, c: c, spatial: features / c, inverse: true))
    }

    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        guard gradOutput.count > 0 else { return gradOutput }
        guard channelsLastInput && inputShape.count >= 3 else { return gradOutput.reshaped(inputShape) }
        let n = inputShape[0], c = inputShape[inputShape.count - 1]
        let features = gradOutput.count / max(n, 1)
        return Tensor(shape: inputShape, storage: ChannelsLast.transpose(gradOutput.storage, n: n, c: c, spatial: features / c))
    }
}
