/// Layer normalization (Ba et al. 2016) over all non-batch dimensions of each sample, as
/// PyTorch's `nn.LayerNorm(normalized_shape)` with `normalized_shape` = the sample shape;
/// elementwise affine γ, β of that shape. Biased variance, `eps` added before the root.
public final class LayerNorm<Scalar: TensorScalar>: Layer<Scalar> {
    /// The elementwise scale γ.
    public let weight: Parameter<Scalar>
    /// The elementwise shift β.
    public let bias: Parameter<Scalar>
    /// Added to the variance.
    public let eps: Double
    private var xhat: [Scalar] = []
    private var invStd: [Scalar] = []

    /// Creates a LayerNorm over samples of shape `normalizedShape`.
    public init(normalizedShape: [Int], eps: Double = 1e-5) {
        weight = Parameter("weight", role: .norm, value: Tensor(shape: normalizedShape, repeating: 1))
        bias = Parameter("bias", role: .norm, value: Tensor(shape: normalizedShape))
        self.eps = eps
    }

    public override var parameters: [Parameter<Scalar>] { [weight, bias] }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape == weight.shape else {
            throw TerrainError.invalidModel("LayerNorm(\(weight.shape)) got input shape \(inputShape)")
        }
        return inputShape
    }

    public override var summary: String { "LayerNorm(\(weight.shape))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        let f = weight.count
        precondition(input.count % max(f, 1) == 0 && Array(input.shape.dropFirst()) == weight.shape,
                     "\(summary) got input \(input.shape)")
        let n = input.shape[0]
        invStd = [Scalar](repeating: 0, count: n)
        xhat = input.storage
        var out = input
        xhat.withUnsafeMutableBufferPointer { xh in
            out.storage.withUnsafeMutableBufferPointer { o in
                weight.value.storage.withUnsafeBufferPointer { g in
                    bias.value.storage.withUnsafeBufferPointer { be in
                        for b in 0..<n {
                            let base = b * f
                            var mean = 0.0
                            for t in 0..<f { mean += Double(xh[base + t]) }
                            mean /= Double(f)
                            var variance = 0.0
                            for t in 0..<f { let d = Double(xh[base + t]) - mean; variance += d * d }
                            variance /= Double(f)
                            let inv = 1 / (variance + eps).squareRoot()
                            invStd[b] = Scalar(inv)
                            let (mu, iv) = (Scalar(mean), Scalar(inv))
                            for t in 0..<f {
                                let v = (xh[base + t] - mu) * iv
                                xh[base + t] = v
                                o[base + t] = g[t] * v + be[t]
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        let f = weight.count
        let n = gradOutput.shape[0]
        var dx = gradOutput
        dx.storage.withUnsafeMutableBufferPointer { d in
            xhat.withUnsafeBufferPointer { xh in
                weight.value.storage.withUnsafeBufferPointer { g in
                    weight.grad.storage.withUnsafeMutableBufferPointer { dg in
                        bias.grad.storage.withUnsafeMutableBufferPointer { db in
                            for b in 0..<n {
                                let base = b * f
                                var meanD = 0.0, meanDX = 0.0
                                for t in 0..<f {
                                    let dy = d[base + t]
                                    dg[t] += dy * xh[base + t]
                                    db[t] += dy
                                    let dxh = Double(dy * g[t])
                                    meanD += dxh
                                    meanDX += dxh * Double(xh[base + t])
                                }
                                let (md, mdx) = (Scalar(meanD / Double(f)), Scalar(meanDX / Double(f)))
                                let iv = invStd[b]
                                for t in 0..<f {
                                    d[base + t] = iv * (d[base + t] * g[t] - md - xh[base + t] * mdx)
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
