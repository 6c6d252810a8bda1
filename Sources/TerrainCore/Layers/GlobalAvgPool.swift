/// Averages every channel over its spatial positions: channels-last `[N, spatial…, C]` →
/// `[N, C]` (PyTorch's `AdaptiveAvgPool*d(1)` followed by flatten).
public final class GlobalAvgPool<Scalar: TensorScalar>: Layer<Scalar> {
    private var inputShape: [Int] = []

    /// Creates the layer.
    public override init() {}

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count >= 2 else {
            throw TerrainError.invalidModel("GlobalAvgPool expects [spatial…, C] input, got \(inputShape)")
        }
        return [inputShape[inputShape.count - 1]]
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        inputShape = input.shape
        let n = input.shape[0], c = input.shape[input.rank - 1]
        let s = input.count / max(n * c, 1)
        var out = [Scalar](repeating: 0, count: n * c)
        input.storage.withUnsafeBufferPointer { x in
            for b in 0..<n {
                for t in 0..<s {
                    let row = (b * s + t) * c
                    for ch in 0..<c { out[b * c + ch] += x[row + ch] }
                }
            }
        }
        let scale = Scalar(s)
        for i in 0..<out.count { out[i] /= scale }
        return Tensor(shape: [n, c], storage: out)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        let n = inputShape[0], c = inputShape[inputShape.count - 1]
        let total = inputShape.reduce(1, *)
        let s = total / max(n * c, 1)
        let scale = Scalar(s)
        let dx = [Scalar](unsafeUninitializedCapacity: total) { d, initialized in
            gradOutput.storage.withUnsafeBufferPointer { g in
                for b in 0..<n {
                    for t in 0..<s {
                        for ch in 0..<c { d[(b * s + t) * c + ch] = g[b * c + ch] / scale }
                    }
                }
            }
            initialized = total
        }
        return Tensor(shape: inputShape, storage: dx)
    }
}
