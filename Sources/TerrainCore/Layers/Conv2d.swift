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
    /// The BatchNorm right after this convolution, which inference passes fold in: weights
    /// scaled per output channel by the norm's `γ/√(σ² + eps)`, its shift added as the bias
    /// and its fused ReLU applied on the store (one pass instead of three). Set by the model.
    public internal(set) var foldedNorm: BatchNorm<Scalar>?

    private var geometry: ConvGeometry?
    /// The latest input, kept for the weight gradient (not after inference-only passes).
    private var savedInput: Tensor<Scalar>?
    private var packed: [Scalar] = []
    /// The kernels' per-image padded workspace and scratch rows, reused across calls.
    private var workspace: [Scalar] = []
    private var scratch: [Scalar] = []

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
        ensureCapacity(&packed, panels * g.reduction * nr)
        let fold = context.isInference ? foldedNorm : nil
        let affine = fold?.inferenceAffine(inputBias: bias?.value.storage)
        weight.effectiveValue.storage.withUnsafeBufferPointer { wp in
            packed.withUnsafeMutableBufferPointer { pp in
                (affine?.scale ?? []).withUnsafeBufferPointer { sp in
                    ConvKernels.packWeights(wp.baseAddress!, outChannels: outChannels, inChannels: c, kernelH: kernel.h,
                                            kernelW: kernel.w, nr: nr, scale: affine == nil ? nil : sp.baseAddress!,
                                            into: pp.baseAddress!)
                }
            }
        }
        let shift = affine?.shift ?? bias?.value.storage
        savedInput = context.retainsForBackward ? input : nil
        let output = [Scalar](unsafeUninitializedCapacity: g.outputCount) { out, initialized in
            packed.withUnsafeBufferPointer { pp in
                (shift ?? []).withUnsafeBufferPointer { bp in
                    convolve(input, g, channelsFirst: channelsFirstInput, packed: pp.baseAddress!,
                             bias: shift == nil ? nil : bp.baseAddress!, relu: fold?.fusedReLU != nil, into: out.baseAddress!)
                }
            }
            initialized = g.outputCount
        }
        let shape = spatialDimensions == 2 ? [g.batch, g.outH, g.outW, outChannels] : [g.batch, g.outW, outChannels]
        return Tensor(shape: shape, storage: output)
    }

    /// Runs the forward kernel of geometry `g` on `input` with packed weights.
    private func convolve(_ input: Tensor<Scalar>, _ g: ConvGeometry, channelsFirst: Bool, packed: UnsafePointer<Scalar>,
                          bias: UnsafePointer<Scalar>?, relu: Bool, into out: UnsafeMutablePointer<Scalar>,
                          accumulate: Bool = false) {
        ensureCapacity(&workspace, ConvKernels.workspaceCount(g))
        input.storage.withUnsafeBufferPointer { x in
            workspace.withUnsafeMutableBufferPointer { ws in
                ConvKernels.forward(Scalar.KernelVector.self, geometry: g, input: x.baseAddress!, channelsFirst: channelsFirst,
                                    packed: packed, bias: bias, relu: relu, output: out, ldy: g.outChannels,
                                    workspace: ws.baseAddress!, accumulate: accumulate)
            }
        }
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        guard let g = geometry, gradOutput.count == g.outputCount else {
            preconditionFailure("\(summary): backward without a matching forward (gradient \(gradOutput.shape))")
        }
        accumulateWeightGradient(gradOutput, g)
        if let bias { accumulateBiasGradient(gradOutput, into: bias) }
        guard inputGradientNeeded else { return Tensor(shape: [0]) }
        let w = weight.effectiveValue.storage
        let dx = g.transposed.map { transposedInputGradient(gradOutput, g, $0, weight: w) } ?? scatteredInputGradient(gradOutput, g, weight: w)
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
        guard let savedInput else { preconditionFailure("\(summary): backward after an inference-only forward") }
        let dw = dy.storage.withUnsafeBufferPointer { d in
            savedInput.storage.withUnsafeBufferPointer { x in
                weightGradient(d.baseAddress!, g, input: x.baseAddress!, channelsFirst: channelsFirstInput)
            }
        }
        weight.grad.storage.withUnsafeMutableBufferPointer { gp in
            for i in 0..<dw.count { gp[i] += dw[i] }
        }
        if weight.mask != nil { weight.maskGradient() }
    }

    /// `Σ_pixels dy ⊗ patch(x)`: the weight gradient of geometry `g` for `input` and `dy`, in
    /// the weight's PyTorch layout `[out, in, kh, kw]`.
    private func weightGradient(_ dy: UnsafePointer<Scalar>, _ g: ConvGeometry, input: UnsafePointer<Scalar>,
                                channelsFirst: Bool) -> [Scalar] {
        let nr = 2 * Scalar.KernelVector.scalarCount
        let ldw = (outChannels + nr - 1) / nr * nr
        let k = g.reduction
        var dwk = [Scalar](repeating: 0, count: k * ldw)
        ensureCapacity(&workspace, ConvKernels.workspaceCount(g))
        withChannelPaddedGradient(dy, g, width: ldw) { d in
            dwk.withUnsafeMutableBufferPointer { dp in
                workspace.withUnsafeMutableBufferPointer { ws in
                    ConvKernels.weightGradient(Scalar.KernelVector.self, geometry: g, input: input,
                                               channelsFirst: channelsFirst, gradOutput: d, ldo: ldw,
                                               into: dp.baseAddress!, ldw: ldw, workspace: ws.baseAddress!)
                }
            }
        }
        let (kh, kw, c) = (kernel.h, kernel.w, inChannels)
        var dw = [Scalar](repeating: 0, count: outChannels * k)
        dwk.withUnsafeBufferPointer { dp in
            for o in 0..<outChannels {
                for ch in 0..<c {
                    for ky in 0..<kh {
                        for kx in 0..<kw { dw[((o * c + ch) * kh + ky) * kw + kx] = dp[((ky * kw + kx) * c + ch) * ldw + o] }
                    }
                }
            }
        }
        return dw
    }

    /// Runs `body` on the output gradient with rows widened to `width` channels (zeros past
    /// the last), which the weight-gradient kernel reads whole; no copy when already wide.
    private func withChannelPaddedGradient<R>(_ dy: UnsafePointer<Scalar>, _ g: ConvGeometry, width: Int,
                                              _ body: (UnsafePointer<Scalar>) -> R) -> R {
        if width == outChannels { return body(dy) }
        var wide = [Scalar](repeating: 0, count: g.pixels * width)
        for p in 0..<g.pixels {
            for o in 0..<outChannels { wide[p * width + o] = dy[p * outChannels + o] }
        }
        return wide.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// `bias.grad[o] += Σ_pixels dy[p, o]`, summed in `Double` in pixel order.
    private func accumulateBiasGradient(_ dy: Tensor<Scalar>, into bias: Parameter<Scalar>) {
        let sums = dy.storage.withUnsafeBufferPointer {
            ChannelKernels.sums($0.baseAddress!, pixels: $0.count / outChannels, channels: outChannels)
        }
        for o in 0..<outChannels { bias.grad.storage[o] += Scalar(sums[o]) }
    }

    /// Stride 1: ∂L/∂x is the convolution of the output gradient (padded by
    /// `kernel − 1 − pad`, read in place) with the flipped, transposed kernel (`t`),
    /// channels-last.
    private func transposedInputGradient(_ dy: Tensor<Scalar>, _ g: ConvGeometry, _ t: ConvGeometry, weight w: [Scalar]) -> [Scalar] {
        [Scalar](unsafeUninitializedCapacity: t.outputCount) { out, initialized in
            transposedInputGradient(dy, g, t, weight: w, into: out.baseAddress!, accumulate: false)
            initialized = t.outputCount
        }
    }

    /// ``transposedInputGradient(_:_:_:weight:)`` written to `out`, or added to it.
    private func transposedInputGradient(_ dy: Tensor<Scalar>, _ g: ConvGeometry, _ t: ConvGeometry, weight w: [Scalar],
                                         into out: UnsafeMutablePointer<Scalar>, accumulate: Bool) {
        let nr = 2 * Scalar.KernelVector.scalarCount
        var flipped = [Scalar](repeating: 0, count: (inChannels + nr - 1) / nr * t.reduction * nr)
        w.withUnsafeBufferPointer { wp in
            flipped.withUnsafeMutableBufferPointer { fp in
                ConvKernels.packTransposedWeights(wp.baseAddress!, outChannels: outChannels, inChannels: inChannels,
                                                  kernelH: kernel.h, kernelW: kernel.w, nr: nr, into: fp.baseAddress!)
            }
        }
        flipped.withUnsafeBufferPointer { fp in
            convolve(dy, t, channelsFirst: false, packed: fp.baseAddress!, bias: nil, relu: false, into: out,
                     accumulate: accumulate)
        }
    }

    /// Strided: each output pixel's `dy·W` scattered onto its receptive field, channels-last.
    private func scatteredInputGradient(_ dy: Tensor<Scalar>, _ g: ConvGeometry, weight w: [Scalar]) -> [Scalar] {
        let nr = 2 * Scalar.KernelVector.scalarCount
        let k = g.reduction
        var panels = [Scalar](repeating: 0, count: (k + nr - 1) / nr * outChannels * nr)
        w.withUnsafeBufferPointer { wp in
            panels.withUnsafeMutableBufferPointer { pp in
                ConvKernels.packReductionPanels(wp.baseAddress!, outChannels: outChannels, inChannels: inChannels,
                                                kernelH: kernel.h, kernelW: kernel.w, nr: nr, into: pp.baseAddress!)
            }
        }
        ensureCapacity(&workspace, ConvKernels.workspaceCount(g))
        ensureCapacity(&scratch, ConvKernels.mr * k)
        let count = g.batch * g.inH * g.inW * g.inChannels
        return [Scalar](unsafeUninitializedCapacity: count) { out, initialized in
            dy.storage.withUnsafeBufferPointer { d in
                panels.withUnsafeBufferPointer { pp in
                    workspace.withUnsafeMutableBufferPointer { ws in
                        scratch.withUnsafeMutableBufferPointer { sp in
                            ConvKernels.scatterInputGradient(Scalar.KernelVector.self, geometry: g, gradOutput: d.baseAddress!,
                                                             ldo: outChannels, panels: pp.baseAddress!, into: out.baseAddress!,
                                                             workspace: ws.baseAddress!, scratch: sp.baseAddress!)
                        }
                    }
                }
            }
            initialized = count
        }
    }
}

// MARK: - Explicit-weight passes (the R-operator's building blocks)

extension Conv2d {
    /// The geometry of this layer on a batch of `shape` (with the batch dimension), in the
    /// input layout `channelsFirst` says.
    func geometry(forBatch shape: [Int], channelsFirst: Bool) -> ConvGeometry {
        precondition(shape.count == spatialDimensions + 2, "\(summary) got input \(shape)")
        let inner = Array(shape.dropFirst())
        let c = channelsFirst ? inner[0] : inner[inner.count - 1]
        let spatial = channelsFirst ? Array(inner.dropFirst()) : Array(inner.dropLast())
        precondition(c == inChannels, "\(summary) got input \(shape)")
        return ConvGeometry(batch: shape[0], inH: spatialDimensions == 2 ? spatial[0] : 1, inW: spatial[spatial.count - 1],
                            inChannels: c, outChannels: outChannels, kernelH: kernel.h, kernelW: kernel.w,
                            strideH: strideH, strideW: stride, padH: padH, padW: padding)
    }

    /// `conv(x; w) + b` for any batch with the weight `w` in PyTorch layout (not this layer's
    /// own), channels-last output `[N, OH·OW, O]` flattened; keeps nothing for `backward`.
    /// `channelsFirst` is the layout of `input` (only the network's first convolution reads
    /// the data's channels-first layout).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func apply(_ input: Tensor<Scalar>, weight w: [Scalar], bias b: [Scalar]?, channelsFirst: Bool) -> [Scalar] {
        let count = geometry(forBatch: input.shape, channelsFirst: channelsFirst).outputCount
        return [Scalar](unsafeUninitializedCapacity: count) { out, initialized in
            apply(input, weight: w, bias: b, channelsFirst: channelsFirst, into: out.baseAddress!, accumulate: false)
            initialized = count
        }
    }

    /// ``apply(_:weight:bias:channelsFirst:)`` written to `out`, or added to what it holds
    /// when `accumulate` (each finished value added once: `out + (conv + b)`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func apply(_ input: Tensor<Scalar>, weight w: [Scalar], bias b: [Scalar]?, channelsFirst: Bool,
               into out: UnsafeMutablePointer<Scalar>, accumulate: Bool) {
        let g = geometry(forBatch: input.shape, channelsFirst: channelsFirst)
        let nr = 2 * Scalar.KernelVector.scalarCount
        var panels = [Scalar](repeating: 0, count: (outChannels + nr - 1) / nr * g.reduction * nr)
        w.withUnsafeBufferPointer { wp in
            panels.withUnsafeMutableBufferPointer { pp in
                ConvKernels.packWeights(wp.baseAddress!, outChannels: outChannels, inChannels: inChannels, kernelH: kernel.h,
                                        kernelW: kernel.w, nr: nr, scale: nil, into: pp.baseAddress!)
            }
        }
        panels.withUnsafeBufferPointer { pp in
            (b ?? []).withUnsafeBufferPointer { bp in
                convolve(input, g, channelsFirst: channelsFirst, packed: pp.baseAddress!,
                         bias: b == nil ? nil : bp.baseAddress!, relu: false, into: out, accumulate: accumulate)
            }
        }
    }

    /// `∂⟨dy, conv(x; w)⟩/∂x` channels-last for an input batch of `inputShape` (channels-last).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func inputGradient(_ dy: Tensor<Scalar>, weight w: [Scalar], inputShape: [Int]) -> [Scalar] {
        let g = geometry(forBatch: inputShape, channelsFirst: false)
        precondition(dy.count == g.outputCount, "\(summary): gradient of \(dy.count) values for input \(inputShape)")
        return g.transposed.map { transposedInputGradient(dy, g, $0, weight: w) } ?? scatteredInputGradient(dy, g, weight: w)
    }

    /// ``inputGradient(_:weight:inputShape:)`` added to `out` (`out + dx`, once per element).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func inputGradient(_ dy: Tensor<Scalar>, weight w: [Scalar], inputShape: [Int], addingTo out: UnsafeMutablePointer<Scalar>) {
        let g = geometry(forBatch: inputShape, channelsFirst: false)
        precondition(dy.count == g.outputCount, "\(summary): gradient of \(dy.count) values for input \(inputShape)")
        if let t = g.transposed {
            transposedInputGradient(dy, g, t, weight: w, into: out, accumulate: true)
        } else {
            let dx = scatteredInputGradient(dy, g, weight: w)
            for i in 0..<dx.count { out[i] += dx[i] }
        }
    }

    /// `Σ_pixels dy ⊗ patch(x)` in the weight's PyTorch layout, on raw storage: `dy` holds
    /// the output gradient and `input` the input batch of `inputShape` in the layout
    /// `channelsFirst` says (both read in place, e.g. one part of a block).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func weightGradient(_ dy: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, inputShape: [Int], channelsFirst: Bool) -> [Scalar] {
        weightGradient(dy, geometry(forBatch: inputShape, channelsFirst: channelsFirst), input: input, channelsFirst: channelsFirst)
    }
}

/// Makes `buffer` hold at least `count` elements, keeping it when it already does (a reused
/// workspace: contents unspecified).
@inline(__always)
func ensureCapacity<T: TensorScalar>(_ buffer: inout [T], _ count: Int) {
    if buffer.count < count { buffer = [T](unsafeUninitializedCapacity: count) { _, n in n = count } }
}
