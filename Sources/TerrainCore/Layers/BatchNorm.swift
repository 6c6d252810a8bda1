/// Batch normalization (Ioffe & Szegedy 2015) over the **last** dimension: `[N, C]` after a
/// Linear layer, or channels-last `[N, H, W, C]` / `[N, L, C]` activations inside a
/// convolutional network — PyTorch's `nn.BatchNorm1d/2d` with the same parameters and
/// buffers.
///
/// Training mode normalizes with the batch's mean and biased variance (two passes, summed
/// in `Double`) and updates the running statistics with `momentum` (running variance with
/// the unbiased estimate); evaluation mode uses the running statistics. The output is
/// `x·α + β'` with `α = γ/√(σ² + eps)`, `β' = β − μ·α`, as PyTorch's CPU kernel computes it.
///
/// When a network has a ReLU right after it, the model fuses the two (``fuseReLU(_:)``):
/// this layer then rectifies in the same pass and masks the gradient on the way back, and
/// the ReLU passes values through.
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
    /// The ReLU applied in this layer's pass, if fused.
    public private(set) var fusedReLU: ReLU<Scalar>?

    private var input = Tensor<Scalar>(shape: [0])
    private var output = Tensor<Scalar>(shape: [0])
    private var mean: [Scalar] = []
    private var invStd: [Scalar] = []
    private var pattern: [Scalar] = []
    private var frozenMask: [Scalar]? = nil
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

    /// Applies `relu` in this layer's pass from now on; `relu` passes values through.
    public func fuseReLU(_ relu: ReLU<Scalar>) {
        fusedReLU = relu
        relu.isFused = true
    }

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
        guard inputShape.last == channels else {
            throw TerrainError.invalidModel("BatchNorm(\(channels)) normalizes the last dimension, got input shape \(inputShape)")
        }
        return inputShape
    }

    public override var summary: String { "BatchNorm(\(channels))" + (fusedReLU == nil ? "" : " + ReLU") }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition(input.rank >= 2 && input.shape.last == channels, "\(summary) got input \(input.shape)")
        let c = channels, m = input.count / c
        trainedPass = context.training
        var mu = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
        if context.training {
            input.storage.withUnsafeBufferPointer { x in
                mu = ChannelKernels.sums(x.baseAddress!, pixels: m, channels: c).map { $0 / Double(m) }
                variance = ChannelKernels.centredSquares(x.baseAddress!, pixels: m, channels: c, mean: mu)
            }
            // A statistics-only pass keeps a cumulative average (PyTorch's momentum=None).
            let factor = context.statisticsOnly ? 1 / Double(batchesTracked + 1) : momentum
            for ch in 0..<c {
                let biased = variance[ch] / Double(m)
                let unbiased = m > 1 ? variance[ch] / Double(m - 1) : biased
                runningMean.storage[ch] = Scalar((1 - factor) * Double(runningMean.storage[ch]) + factor * mu[ch])
                runningVar.storage[ch] = Scalar((1 - factor) * Double(runningVar.storage[ch]) + factor * unbiased)
                variance[ch] = biased
            }
            batchesTracked += 1
        } else {
            for ch in 0..<c {
                mu[ch] = Double(runningMean.storage[ch])
                variance[ch] = Double(runningVar.storage[ch])
            }
        }
        invStd = variance.map { Scalar(1 / ($0 + eps).squareRoot()) }
        mean = mu.map { Scalar($0) }
        let scale = (0..<c).map { weight.value.storage[$0] * invStd[$0] }
        let shift = (0..<c).map { bias.value.storage[$0] - mean[$0] * scale[$0] }
        let rectify = fusedReLU != nil && context.activations == .live
        var y = [Scalar](unsafeUninitializedCapacity: input.count) { out, initialized in
            input.storage.withUnsafeBufferPointer { x in
                ChannelKernels.affine(x.baseAddress!, pixels: m, channels: c, scale: scale, shift: shift,
                                      relu: rectify, into: out.baseAddress!)
            }
            initialized = input.count
        }
        frozenMask = nil
        if fusedReLU != nil && context.activations != .live { applyPattern(&y, context.activations) }
        if context.retainsForBackward {
            self.input = input
            output = Tensor(shape: input.shape, storage: y)
            return output
        }
        self.input = Tensor(shape: [0])
        output = Tensor(shape: [0])
        return Tensor(shape: input.shape, storage: y)
    }

    /// The fused ReLU under a recorded or frozen activation pattern (see ``ActivationPattern``).
    private func applyPattern(_ y: inout [Scalar], _ mode: ActivationPattern) {
        if mode == .frozen {
            precondition(pattern.count == y.count, "\(summary): no recorded activation pattern for this batch")
            for i in 0..<y.count where pattern[i] == 0 { y[i] = 0 }
            frozenMask = pattern
        } else {
            pattern = y.map { $0 > 0 ? 1 : 0 }
            for i in 0..<y.count where !(y[i] > 0) { y[i] = 0 }
        }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        precondition(gradOutput.count == input.count && input.count > 0, "\(summary): backward without a matching forward")
        let c = channels, m = input.count / c
        let masked = fusedReLU != nil
        let sums = withMask(masked) { mask in
            gradOutput.storage.withUnsafeBufferPointer { dy in
                input.storage.withUnsafeBufferPointer { x in
                    ChannelKernels.gradientSums(dy.baseAddress!, x.baseAddress!, mask: mask, pixels: m, channels: c,
                                                mean: mean, invStd: invStd)
                }
            }
        }
        for ch in 0..<c {
            weight.grad.storage[ch] += Scalar(sums.dyXhat[ch])
            bias.grad.storage[ch] += Scalar(sums.dy[ch])
        }
        let k = (0..<c).map { weight.value.storage[$0] * invStd[$0] }
        let meanDy = trainedPass ? sums.dy.map { Scalar($0 / Double(m)) } : nil
        let meanDyXhat = trainedPass ? sums.dyXhat.map { Scalar($0 / Double(m)) } : nil
        guard inputGradientNeeded else { return Tensor(shape: [0]) }
        let dx = [Scalar](unsafeUninitializedCapacity: input.count) { out, initialized in
            withMask(masked) { mask in
                gradOutput.storage.withUnsafeBufferPointer { dy in
                    input.storage.withUnsafeBufferPointer { x in
                        ChannelKernels.inputGradient(dy.baseAddress!, x.baseAddress!, mask: mask, pixels: m, channels: c,
                                                     mean: mean, invStd: invStd, k: k, meanDy: meanDy, meanDyXhat: meanDyXhat,
                                                     into: out.baseAddress!)
                    }
                }
            }
            initialized = input.count
        }
        return Tensor(shape: input.shape, storage: dx)
    }

    /// Runs `body` with the fused ReLU's gradient mask (positive where the unit was on), or
    /// nil when no ReLU is fused.
    private func withMask<R>(_ masked: Bool, _ body: (UnsafePointer<Scalar>?) -> R) -> R {
        guard masked else { return body(nil) }
        if let frozenMask { return frozenMask.withUnsafeBufferPointer { body($0.baseAddress!) } }
        return output.storage.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
