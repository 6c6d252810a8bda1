/// A 2-D convolution (cross-correlation, as PyTorch's `nn.Conv2d`), or a 1-D one
/// (`nn.Conv1d`), computed as an implicit GEMM over the whole batch (``ConvKernels``).
///
/// **Layouts.** Inside a network, activations are *channels-last*: this layer takes
/// `[N, H, W, C]` (2-D) or `[N, L, C]` (1-D) and returns `[N, OH, OW, O]` / `[N, OL, O]`.
/// The first convolution of a network reads the data's channels-first layout instead
/// (`[N, C, H, W]` / `[N, C, L]`, ``channelsFirstInput``). Shapes in
/// ``outputShape(for:)`` follow the same convention without the batch dimension.
///
/// The weight has PyTorch's shape and layout `[out, in, kh, kw]` (2-D) or `[out, in, k]`
/// (1-D), the bias `[out]`, so checkpoints are interchangeable with PyTorch's. Zero padding
/// `padding` on every side, stride `stride` in every spatial dimension; output size per
/// spatial dimension `⌊(size + 2·padding − kernel) / stride⌋ + 1`.
public final class Conv2d<Scalar: TensorScalar>: Layer<Scalar> {
    /// The convolution weight.
    public let weight: Parameter<Scalar>
    /// The per-output-channel bias, if any.
    public let bias: Parameter<Scalar>?
    /// 1 for 1-D inputs, 2 for 2-D.
    public let spatialDimensions: Int
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel height and width (height 1 in 1-D mode).
    public let kernel: (h: Int, w: Int)
    /// Stride in every spatial dimension.
    public let stride: Int
    /// Zero padding on every side (not on the dummy height in 1-D mode).
    public let padding: Int
    /// Whether inputs arrive channels-first (the data's layout) rather than channels-last.
    public let channelsFirstInput: Bool

    private var geometry: ConvGeometry?
    /// The zero-padded channels-last input of the latest forward pass (what backward reads).
    private var padded: [Scalar] = []
    private var paddedFor: ConvGeometry?
    /// The latest input itself, when it could be used in place (channels-last, no padding).
    private var inPlaceInput: Tensor<Scalar>?
    private var packed: [Scalar] = []
    private var gradientPadded: [Scalar] = []
    private var gradientPaddedFor: ConvGeometry?

    /// Creates a convolution with zero weights; the model builder initializes them.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                spatialDimensions: Int = 2, bias: Bool = true, channelsFirstInput: Bool = false) {
        precondition(spatialDimensions == 1 || spatialDimensions == 2)
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "invalid convolution \(inChannels)→\(outChannels) k=\(kernelSize) s=\(stride) p=\(padding)")
        self.spatialDimensions = spatialDimensions
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = spatialDimensions == 2 ? (kernelSize, kernelSize) : (1, kernelSize)
        self.stride = stride
        self.padding = padding
        self.channelsFirstInput = channelsFirstInput
        let shape = spatialDimensions == 2 ? [outChannels, inChannels, kernelSize, kernelSize]
                                           : [outChannels, inChannels, kernelSize]
        weight = Parameter("weight", role: .weight, value: Tensor(shape: shape))
        self.bias = bias ? Parameter("bias", role: .bias, value: Tensor(shape: [outChannels])) : nil
    }

    /// `in_channels × kernel elements`, the fan-in used by initializers.
    public var fanIn: Int { inChannels * kernel.h * kernel.w }
    /// `out_channels × kernel elements`, the fan-out used by initializers.
    public var fanOut: Int { outChannels * kernel.h * kernel.w }

    public override var parameters: [Parameter<Scalar>] { [weight] + (bias.map { [$0] } ?? []) }

    private var padH: Int { spatialDimensions == 2 ? padding : 0 }
    private var strideH: Int { spatialDimensions == 2 ? stride : 1 }

    /// The spatial sizes and channel count of an input shape (without batch), in this
    /// layer's input layout.
    private func split(_ s: [Int]) -> (h: Int, w: Int, c: Int)? {
        guard s.count == spatialDimensions + 1 else { return nil }
        let c = channelsFirstInput ? s[0] : s[s.count - 1]
        let spatial = channelsFirstInput ? Array(s.dropFirst()) : Array(s.dropLast())
        return (spatialDimensions == 2 ? spatial[0] : 1, spatial[spatial.count - 1], c)
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard let (h, w, c) = split(inputShape), c == inChannels, h > 0, w > 0 else {
            let layout = spatialDimensions == 2 ? (channelsFirstInput ? "C, H, W" : "H, W, C") : (channelsFirstInput ? "C, L" : "L, C")
            throw TerrainError.invalidModel("Conv\(spatialDimensions)d(\(inChannels)→\(outChannels)) expects input [\(layout)] with C = \(inChannels), got \(inputShape)")
        }
        let (oh, ow) = ((h + 2 * padH - kernel.h) / strideH + 1, (w + 2 * padding - kernel.w) / stride + 1)
        guard h + 2 * padH >= kernel.h, w + 2 * padding >= kernel.w, oh > 0, ow > 0 else {
            throw TerrainError.invalidModel("Conv\(spatialDimensions)d kernel \(kernel.w) is larger than its padded input \(inputShape)")
        }
        return spatialDimensions == 2 ? [oh, ow, outChannels] : [ow, outChannels]
    }

    public override func multiplyAccumulates(for inputShape: [Int]) throws -> Int {
        try outputShape(for: inputShape).reduce(1, *) * fanIn
    }

    public override var summary: String {
        "Conv\(spatialDimensions)d(\(inChannels) → \(outChannels), k=\(kernel.w), s=\(stride), p=\(padding))"
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        guard input.rank == spatialDimensions + 2, let (h, w, c) = split(Array(input.shape.dropFirst())), c == inChannels else {
            preconditionFailure("\(summary) got input \(input.shape)")
        }
        let g = ConvGeometry(batch: input.shape[0], inH: h, inW: w, inChannels: c, outChannels: outChannels,
                             kernelH: kernel.h, kernelW: kernel.w, strideH: strideH, strideW: stride, padH: padH, padW: padding)
        geometry = g
        let nr = 2 * Scalar.KernelVector.scalarCount
        let panels = (outChannels + nr - 1) / nr
        resize(&packed, panels * g.reduction * nr)
        weight.effectiveValue.storage.withUnsafeBufferPointer { wp in
            packed.withUnsafeMutableBufferPointer { pp in
                ConvKernels.packWeights(wp.baseAddress!, outChannels: outChannels, inChannels: c, kernelH: kernel.h,
                                        kernelW: kernel.w, nr: nr, into: pp.baseAddress!)
            }
        }
        let output = [Scalar](unsafeUninitializedCapacity: g.outputCount) { out, initialized in
            withPaddedInput(input, g) { x in
                packed.withUnsafeBufferPointer { pp in
                    if let bias {
                        bias.value.storage.withUnsafeBufferPointer { bp in
                            ConvKernels.forward(Scalar.KernelVector.self, geometry: g, input: x, packed: pp.baseAddress!,
                                                bias: bp.baseAddress!, output: out.baseAddress!, ldy: outChannels)
                        }
                    } else {
                        ConvKernels.forward(Scalar.KernelVector.self, geometry: g, input: x, packed: pp.baseAddress!,
                                            bias: nil, output: out.baseAddress!, ldy: outChannels)
                    }
                }
            }
            initialized = g.outputCount
        }
        if !context.retainsForBackward { inPlaceInput = nil }
        let shape = spatialDimensions == 2 ? [g.batch, g.outH, g.outW, outChannels] : [g.batch, g.outW, outChannels]
        return Tensor(shape: shape, storage: output)
    }

    /// Runs `body` on the padded channels-last input: the input's own storage when it can be
    /// used in place (channels-last, no padding), else the layer's padded buffer, refilled.
    private func withPaddedInput<R>(_ input: Tensor<Scalar>, _ g: ConvGeometry, _ body: (UnsafePointer<Scalar>) -> R) -> R {
        if !channelsFirstInput && g.padH == 0 && g.padW == 0 {
            inPlaceInput = input
            padded = []
            paddedFor = nil
            return input.storage.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
        inPlaceInput = nil
        let fresh = paddedFor != g
        if fresh { resize(&padded, g.paddedCount) }
        paddedFor = g
        padded.withUnsafeMutableBufferPointer { pp in
            input.storage.withUnsafeBufferPointer { src in
                ChannelsLast.pad(src.baseAddress!, channelsFirst: channelsFirstInput, n: g.batch, h: g.inH, w: g.inW,
                                 c: g.inChannels, padH: g.padH, padW: g.padW, into: pp.baseAddress!, zeroBorder: fresh)
            }
        }
        return padded.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        guard let g = geometry, gradOutput.count == g.outputCount else {
            preconditionFailure("\(summary): backward without a matching forward (gradient \(gradOutput.shape))")
        }
        accumulateWeightGradient(gradOutput, g)
        if let bias { accumulateBiasGradient(gradOutput, into: bias) }
        guard inputGradientNeeded else { return Tensor(shape: [0]) }
        let dx = g.transposed.map { transposedInputGradient(gradOutput, g, $0) } ?? scatteredInputGradient(gradOutput, g)
        let shape: [Int]
        if channelsFirstInput {
            shape = spatialDimensions == 2 ? [g.batch, g.inChannels, g.inH, g.inW] : [g.batch, g.inChannels, g.inW]
            return Tensor(shape: shape, storage: ChannelsLast.transpose(dx, n: g.batch, c: g.inChannels, spatial: g.inH * g.inW, inverse: true))
        }
        shape = spatialDimensions == 2 ? [g.batch, g.inH, g.inW, g.inChannels] : [g.batch, g.inW, g.inChannels]
        return Tensor(shape: shape, storage: dx)
    }

    /// `weight.grad += ∂L/∂W` (then masked).
    private func accumulateWeightGradient(_ dy: Tensor<Scalar>, _ g: ConvGeometry) {
        let nr = 2 * Scalar.KernelVector.scalarCount
        let ldw = (outChannels + nr - 1) / nr * nr
        let k = g.reduction
        var dwk = [Scalar](repeating: 0, count: k * ldw)
        withChannelPaddedGradient(dy, g, width: ldw) { d in
            let run = { (x: UnsafePointer<Scalar>) in
                dwk.withUnsafeMutableBufferPointer { dp in
                    ConvKernels.weightGradient(Scalar.KernelVector.self, geometry: g, input: x, gradOutput: d, ldo: ldw,
                                               into: dp.baseAddress!, ldw: ldw)
                }
            }
            if let inPlaceInput { inPlaceInput.storage.withUnsafeBufferPointer { run($0.baseAddress!) } } else {
                padded.withUnsafeBufferPointer { run($0.baseAddress!) }
            }
        }
        let (kh, kw, c) = (kernel.h, kernel.w, inChannels)
        weight.grad.storage.withUnsafeMutableBufferPointer { gp in
            dwk.withUnsafeBufferPointer { dp in
                for o in 0..<outChannels {
                    for ch in 0..<c {
                        for ky in 0..<kh {
                            for kx in 0..<kw { gp[((o * c + ch) * kh + ky) * kw + kx] += dp[((ky * kw + kx) * c + ch) * ldw + o] }
                        }
                    }
                }
            }
        }
        if weight.mask != nil { weight.maskGradient() }
    }

    /// Runs `body` on the output gradient with rows widened to `width` channels (zeros past
    /// the last), which the weight-gradient kernel reads whole; no copy when already wide.
    private func withChannelPaddedGradient<R>(_ dy: Tensor<Scalar>, _ g: ConvGeometry, width: Int,
                                              _ body: (UnsafePointer<Scalar>) -> R) -> R {
        if width == outChannels { return dy.storage.withUnsafeBufferPointer { body($0.baseAddress!) } }
        var wide = [Scalar](repeating: 0, count: g.pixels * width)
        dy.storage.withUnsafeBufferPointer { src in
            for p in 0..<g.pixels {
                for o in 0..<outChannels { wide[p * width + o] = src[p * outChannels + o] }
            }
        }
        return wide.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// `bias.grad[o] += Σ_pixels dy[p, o]`, summed in `Double` in pixel order.
    private func accumulateBiasGradient(_ dy: Tensor<Scalar>, into bias: Parameter<Scalar>) {
        var sums = [Double](repeating: 0, count: outChannels)
        dy.storage.withUnsafeBufferPointer { d in
            var i = 0
            while i < d.count {
                for o in 0..<outChannels { sums[o] += Double(d[i + o]) }
                i += outChannels
            }
        }
        for o in 0..<outChannels { bias.grad.storage[o] += Scalar(sums[o]) }
    }

    /// Stride 1: ∂L/∂x is the convolution of the padded output gradient with the flipped,
    /// transposed kernel (`t`), channels-last.
    private func transposedInputGradient(_ dy: Tensor<Scalar>, _ g: ConvGeometry, _ t: ConvGeometry) -> [Scalar] {
        let nr = 2 * Scalar.KernelVector.scalarCount
        let fresh = gradientPaddedFor != t
        if fresh { resize(&gradientPadded, t.paddedCount) }
        gradientPaddedFor = t
        gradientPadded.withUnsafeMutableBufferPointer { gp in
            dy.storage.withUnsafeBufferPointer { src in
                ChannelsLast.pad(src.baseAddress!, channelsFirst: false, n: t.batch, h: t.inH, w: t.inW, c: t.inChannels,
                                 padH: t.padH, padW: t.padW, into: gp.baseAddress!, zeroBorder: fresh)
            }
        }
        var flipped = [Scalar](repeating: 0, count: (inChannels + nr - 1) / nr * t.reduction * nr)
        weight.effectiveValue.storage.withUnsafeBufferPointer { wp in
            flipped.withUnsafeMutableBufferPointer { fp in
                ConvKernels.packTransposedWeights(wp.baseAddress!, outChannels: outChannels, inChannels: inChannels,
                                                  kernelH: kernel.h, kernelW: kernel.w, nr: nr, into: fp.baseAddress!)
            }
        }
        return [Scalar](unsafeUninitializedCapacity: t.outputCount) { out, initialized in
            gradientPadded.withUnsafeBufferPointer { gp in
                flipped.withUnsafeBufferPointer { fp in
                    ConvKernels.forward(Scalar.KernelVector.self, geometry: t, input: gp.baseAddress!, packed: fp.baseAddress!,
                                        bias: nil, output: out.baseAddress!, ldy: inChannels)
                }
            }
            initialized = t.outputCount
        }
    }

    /// Strided: each output pixel's `dy·W` scattered onto its receptive field, channels-last.
    private func scatteredInputGradient(_ dy: Tensor<Scalar>, _ g: ConvGeometry) -> [Scalar] {
        let nr = 2 * Scalar.KernelVector.scalarCount
        let k = g.reduction
        var panels = [Scalar](repeating: 0, count: (k + nr - 1) / nr * outChannels * nr)
        weight.effectiveValue.storage.withUnsafeBufferPointer { wp in
            panels.withUnsafeMutableBufferPointer { pp in
                ConvKernels.packReductionPanels(wp.baseAddress!, outChannels: outChannels, inChannels: inChannels,
                                                kernelH: kernel.h, kernelW: kernel.w, nr: nr, into: pp.baseAddress!)
            }
        }
        var dxp = [Scalar](repeating: 0, count: g.paddedCount)
        var scratch = [Scalar](repeating: 0, count: ConvKernels.mr * k)
        dy.storage.withUnsafeBufferPointer { d in
            panels.withUnsafeBufferPointer { pp in
                dxp.withUnsafeMutableBufferPointer { xp in
                    scratch.withUnsafeMutableBufferPointer { sp in
                        ConvKernels.scatterInputGradient(Scalar.KernelVector.self, geometry: g, gradOutput: d.baseAddress!,
                                                         ldo: outChannels, panels: pp.baseAddress!, into: xp.baseAddress!,
                                                         scratch: sp.baseAddress!)
                    }
                }
            }
        }
        let count = g.batch * g.inH * g.inW * g.inChannels
        return [Scalar](unsafeUninitializedCapacity: count) { out, initialized in
            dxp.withUnsafeBufferPointer { xp in
                ChannelsLast.unpad(xp.baseAddress!, n: g.batch, h: g.inH, w: g.inW, c: g.inChannels, padH: g.padH,
                                   padW: g.padW, channelsFirst: false, into: out.baseAddress!)
            }
            initialized = count
        }
    }
}

/// Makes `buffer` hold exactly `count` elements (contents unspecified when it grows).
@inline(__always)
func resize<T: TensorScalar>(_ buffer: inout [T], _ count: Int) {
    if buffer.count != count { buffer = [T](repeating: 0, count: count) }
}
