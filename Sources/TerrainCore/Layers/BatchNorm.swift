/// Batch normalization (Ioffe & Szegedy 2015) over the channel dimension of `[N, C]` or
/// `[N, C, spatial…]` inputs, as PyTorch's `nn.BatchNorm1d/2d`.
///
/// Training mode normalizes with the batch's mean and biased variance and updates the
/// running statistics with `momentum` (running variance with the unbiased estimate);
/// evaluation mode normalizes with the running statistics. `eps` is added to the variance.
public final class BatchNorm<Scalar: TensorScalar>: Layer<Scalar> {
    /// The per-channel scale γ.
    public let weight: Parameter<Scalar>
    /// The per-channel shift β.
    public let bias: Parameter<Scalar>
    /// The running mean used in evaluation mode.
    public var runningMean: Tensor<Scalar>
    /// The running (unbiased) variance used in evaluation mode.
    public var runningVar: Tensor<Scalar>
    /// How many training batches updated the running statistics.
    public var batchesTracked: Int = 0
    /// Weight of the newest batch in the running statistics (PyTorch's default 0.1).
    public let momentum: Double
    /// Added to the variance before the square root.
    public let eps: Double

    private var xhat: [Scalar] = []
    private var invStd: [Scalar] = []
    private var shape: [Int] = []
    private var trainedPass = false

    /// Creates a BatchNorm for `channels` channels with γ = 1, β = 0 and unit running variance.
    public init(channels: Int, momentum: Double = 0.1, eps: Double = 1e-5) {
        weight = Parameter("weight", role: .norm, value: Tensor(shape: [channels], repeating: 1))
        bias = Parameter("bias", role: .norm, value: Tensor(shape: [channels]))
        runningMean = Tensor(shape: [channels])
        runningVar = Tensor(shape: [channels], repeating: 1)
        self.momentum = momentum
        self.eps = eps
    }

    /// The number of channels.
    public var channels: Int { weight.count }

    public override var parameters: [Parameter<Scalar>] { [weight, bias] }

    public override var buffers: [(name: String, tensor: Tensor<Scalar>)] {
        [("running_mean", runningMean), ("running_var", runningVar),
         ("num_batches_tracked", Tensor(shape: [], storage: [Scalar(batchesTracked)]))]
    }

    public override func setBuffer(_ name: String, _ tensor: Tensor<Scalar>) throws {
        switch name {
        case "running_mean" where tensor.count == channels: runningMean = tensor.reshaped([channels])
        case "running_var" where tensor.count == channels: runningVar = tensor.reshaped([channels])
        case "num_batches_tracked" where tensor.count == 1: batchesTracked = Int(tensor.storage[0])
        default: throw TerrainError.invalidCheckpoint("BatchNorm(\(channels)) cannot take buffer \(name) of shape \(tensor.shape)")
        }
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.first == channels else {
            throw TerrainError.invalidModel("BatchNorm(\(channels)) got input shape \(inputShape)")
        }
        return inputShape
    }

    public override var summary: String { "BatchNorm(\(channels))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition(input.rank >= 2 && input.shape[1] == channels, "\(summary) got input \(input.shape)")
        shape = input.shape
        let n = input.shape[0], c = channels
        let s = input.shape.dropFirst(2).reduce(1, *)
        let m = n * s
        var mean = [Double](repeating: 0, count: c)
        var variance = [Double](repeating: 0, count: c)
        trainedPass = context.training
        if context.training {
            input.storage.withUnsafeBufferPointer { x in
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * s
                        var acc = 0.0
                        for t in 0..<s { acc += Double(x[base + t]) }
                        mean[ch] += acc
                    }
                }
                for ch in 0..<c { mean[ch] /= Double(m) }
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * s
                        var acc = 0.0
                        let mu = mean[ch]
                        for t in 0..<s { let d = Double(x[base + t]) - mu; acc += d * d }
                        variance[ch] += acc
                    }
                }
            }
            // A statistics-only pass keeps a cumulative average (PyTorch's momentum=None).
            let factor = context.statisticsOnly ? 1 / Double(batchesTracked + 1) : momentum
            for ch in 0..<c {
                let biased = variance[ch] / Double(m)
                let unbiased = m > 1 ? variance[ch] / Double(m - 1) : biased
                runningMean.storage[ch] = Scalar((1 - factor) * Double(runningMean.storage[ch]) + factor * mean[ch])
                runningVar.storage[ch] = Scalar((1 - factor) * Double(runningVar.storage[ch]) + factor * unbiased)
                variance[ch] = biased
            }
            batchesTracked += 1
        } else {
            for ch in 0..<c {
                mean[ch] = Double(runningMean.storage[ch])
                variance[ch] = Double(runningVar.storage[ch])
            }
        }
        invStd = variance.map { Scalar(1 / ($0 + eps).squareRoot()) }
        let mu = mean.map { Scalar($0) }
        var out = input
        xhat = input.storage
        xhat.withUnsafeMutableBufferPointer { xh in
            out.storage.withUnsafeMutableBufferPointer { o in
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * s
                        let (m0, is0) = (mu[ch], invStd[ch])
                        let (g, be) = (weight.value.storage[ch], bias.value.storage[ch])
                        for t in 0..<s {
                            let v = (xh[base + t] - m0) * is0
                            xh[base + t] = v
                            o[base + t] = g * v + be
                        }
                    }
                }
            }
        }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        let n = shape[0], c = channels
        let s = shape.dropFirst(2).reduce(1, *)
        let m = Double(n * s)
        var sumDy = [Double](repeating: 0, count: c)
        var sumDyX = [Double](repeating: 0, count: c)
        gradOutput.storage.withUnsafeBufferPointer { dy in
            xhat.withUnsafeBufferPointer { xh in
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * s
                        var a = 0.0, bb = 0.0
                        for t in 0..<s {
                            a += Double(dy[base + t])
                            bb += Double(dy[base + t]) * Double(xh[base + t])
                        }
                        sumDy[ch] += a
                        sumDyX[ch] += bb
                    }
                }
            }
        }
        for ch in 0..<c {
            weight.grad.storage[ch] += Scalar(sumDyX[ch])
            bias.grad.storage[ch] += Scalar(sumDy[ch])
        }
        var dx = gradOutput
        let training = trainedPass
        dx.storage.withUnsafeMutableBufferPointer { d in
            xhat.withUnsafeBufferPointer { xh in
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * s
                        let k = weight.value.storage[ch] * invStd[ch]
                        if training {
                            let meanDy = Scalar(sumDy[ch] / m), meanDyX = Scalar(sumDyX[ch] / m)
                            for t in 0..<s { d[base + t] = k * (d[base + t] - meanDy - xh[base + t] * meanDyX) }
                        } else {
                            for t in 0..<s { d[base + t] *= k }
                        }
                    }
                }
            }
        }
        return dx
    }
}
