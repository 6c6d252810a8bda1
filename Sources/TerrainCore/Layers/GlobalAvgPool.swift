/// Averages every channel over its spatial positions: `[N, C, spatial…]` → `[N, C]`
/// (PyTorch's `AdaptiveAvgPool*d(1)` followed by flatten).
public final class GlobalAvgPool<Scalar: TensorScalar>: Layer<Scalar> {
    private var inputShape: [Int] = []

    /// Creates the layer.
    public override init() {}

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count >= 2 else {
            throw TerrainError.invalidModel("GlobalAvgPool expects [C, spatial…] input, got \(inputShape)")
        }
        return [inputShape[0]]
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        inputShape = input.shape
        let planes = input.shape[0] * input.shape[1]
        let s = input.count / max(planes, 1)
        var out = [Scalar](repeating: 0, count: planes)
        input.storage.withUnsafeBufferPointer { x in
            for p in 0..<planes {
                var acc: Scalar = 0
                for t in 0..<s { acc += x[p * s + t] }
                out[p] = acc / Scalar(s)
            }
        }
        return Tensor(shape: [input.shape[0], input.shape[1]], storage: out)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        let planes = inputShape[0] * inputShape[1]
        let total = inputShape.reduce(1, *)
        let s = total / max(planes, 1)
        var dx = [Scalar](repeating: 0, count: total)
        gradOutput.storage.withUnsafeBufferPointer { g in
            for p in 0..<planes {
                let v = g[p] / Scalar(s)
                for t in 0..<s { dx[p * s + t] = v }
            }
        }
        return Tensor(shape: inputShape, storage: dx)
    }
}
