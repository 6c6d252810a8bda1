/// A 2-D convolution (cross-correlation, as PyTorch's `nn.Conv2d`) over `[N, C, H, W]`
/// inputs, or a 1-D one (`nn.Conv1d`) over `[N, C, L]` inputs, computed as im2col + GEMM.
///
/// The weight has shape `[out, in, kh, kw]` (2-D) or `[out, in, k]` (1-D), the bias `[out]`.
/// Zero padding `padding` on every side, stride `stride` in every spatial dimension.
/// Output size per spatial dimension: `⌊(size + 2·padding − kernel) / stride⌋ + 1`.
public final class Conv2d<Scalar: TensorScalar>: Layer<Scalar> {
    /// The convolution weight.
    public let weight: Parameter<Scalar>
    /// The per-output-channel bias, if any.
    public let bias: Parameter<Scalar>?
    /// 1 for `[N, C, L]` inputs, 2 for `[N, C, H, W]`.
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

    private var inputShape: [Int] = []
    private var cols: [Scalar] = []
    private var usedWeight = Tensor<Scalar>(shape: [0])
    private var geometry = (n: 0, h: 0, w: 0, oh: 0, ow: 0)

    /// Creates a convolution with zero weights; the model builder initializes them.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                spatialDimensions: Int = 2, bias: Bool = true) {
        precondition(spatialDimensions == 1 || spatialDimensions == 2)
        self.spatialDimensions = spatialDimensions
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = spatialDimensions == 2 ? (kernelSize, kernelSize) : (1, kernelSize)
        self.stride = stride
        self.padding = padding
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

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == spatialDimensions + 1, inputShape[0] == inChannels else {
            throw TerrainError.invalidModel("Conv\(spatialDimensions)d(\(inChannels)→\(outChannels)) expects input [\(inChannels), \(spatialDimensions == 2 ? "H, W" : "L")], got \(inputShape)")
        }
        let h = spatialDimensions == 2 ? inputShape[1] : 1
        let w = inputShape[spatialDimensions]
        let oh = (h + 2 * padH - kernel.h) / strideH + 1
        let ow = (w + 2 * padding - kernel.w) / stride + 1
        guard oh > 0, ow > 0 else {
            throw TerrainError.invalidModel("Conv\(spatialDimensions)d kernel \(kernel.w) is larger than its padded input \(inputShape)")
        }
        return spatialDimensions == 2 ? [outChannels, oh, ow] : [outChannels, ow]
    }

    public override var summary: String {
        "Conv\(spatialDimensions)d(\(inChannels) → \(outChannels), k=\(kernel.w), s=\(stride), p=\(padding))"
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition(input.rank == spatialDimensions + 2 && input.shape[1] == inChannels,
                     "\(summary) got input \(input.shape)")
        inputShape = input.shape
        let n = input.shape[0]
        let h = spatialDimensions == 2 ? input.shape[2] : 1
        let w = input.shape[spatialDimensions + 1]
        let oh = (h + 2 * padH - kernel.h) / strideH + 1
        let ow = (w + 2 * padding - kernel.w) / stride + 1
        geometry = (n, h, w, oh, ow)
        let ckk = inChannels * kernel.h * kernel.w
        let columns = n * oh * ow
        cols = im2col(input.storage, n: n, h: h, w: w, oh: oh, ow: ow)
        usedWeight = weight.effectiveValue
        // [O, CKK] × [CKK, N·OH·OW] → [O, N·OH·OW]
        var out = [Scalar](repeating: 0, count: outChannels * columns)
        Kernels.gemm(transA: false, transB: false, m: outChannels, n: columns, k: ckk, alpha: 1,
                     a: usedWeight.storage, lda: ckk, b: cols, ldb: columns, beta: 0, c: &out, ldc: columns)
        if let bias {
            bias.value.storage.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for c in 0..<outChannels {
                        let base = c * columns
                        for j in 0..<columns { o[base + j] += b[c] }
                    }
                }
            }
        }
        let nchw = Kernels.swapLeadingAxes(out, a: outChannels, b: n, inner: oh * ow)
        let shape = spatialDimensions == 2 ? [n, outChannels, oh, ow] : [n, outChannels, ow]
        return Tensor(shape: shape, storage: nchw)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        let (n, h, w, oh, ow) = geometry
        let ckk = inChannels * kernel.h * kernel.w
        let columns = n * oh * ow
        let g = Kernels.swapLeadingAxes(gradOutput.storage, a: n, b: outChannels, inner: oh * ow)
        // dW[O, CKK] += g[O, cols] × colsᵀ
        Kernels.gemm(transA: false, transB: true, m: outChannels, n: ckk, k: columns, alpha: 1,
                     a: g, lda: columns, b: cols, ldb: columns, beta: 1, c: &weight.grad.storage, ldc: ckk)
        if weight.mask != nil { weight.applyMask() }
        if let bias {
            g.withUnsafeBufferPointer { gp in
                bias.grad.storage.withUnsafeMutableBufferPointer { bp in
                    for c in 0..<outChannels {
                        var s: Scalar = 0
                        let base = c * columns
                        for j in 0..<columns { s += gp[base + j] }
                        bp[c] += s
                    }
                }
            }
        }
        // dcols[CKK, cols] = Wᵀ × g
        var dcols = [Scalar](repeating: 0, count: ckk * columns)
        Kernels.gemm(transA: true, transB: false, m: ckk, n: columns, k: outChannels, alpha: 1,
                     a: usedWeight.storage, lda: ckk, b: g, ldb: columns, beta: 0, c: &dcols, ldc: columns)
        var dx = Tensor<Scalar>(shape: inputShape)
        col2im(dcols, into: &dx.storage, n: n, h: h, w: w, oh: oh, ow: ow)
        return dx
    }

    /// Unfolds the input into a `[C·kh·kw, N·OH·OW]` matrix of receptive fields.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func im2col(_ x: [Scalar], n: Int, h: Int, w: Int, oh: Int, ow: Int) -> [Scalar] {
        let columns = n * oh * ow
        let rowsCount = inChannels * kernel.h * kernel.w
        var out = [Scalar](repeating: 0, count: rowsCount * columns)
        let (kh, kw, s, sh, p, ph) = (kernel.h, kernel.w, stride, strideH, padding, padH)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<inChannels {
                    for i in 0..<kh {
                        for j in 0..<kw {
                            let row = (c * kh + i) * kw + j
                            for b in 0..<n {
                                let plane = (b * inChannels + c) * h * w
                                for oy in 0..<oh {
                                    let iy = oy * sh + i - ph
                                    let dbase = row * columns + (b * oh + oy) * ow
                                    if iy < 0 || iy >= h { continue }
                                    let sbase = plane + iy * w
                                    for ox in 0..<ow {
                                        let ix = ox * s + j - p
                                        if ix >= 0 && ix < w { dst[dbase + ox] = src[sbase + ix] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Folds column gradients back onto the input (the adjoint of `im2col`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private func col2im(_ dcols: [Scalar], into dx: inout [Scalar], n: Int, h: Int, w: Int, oh: Int, ow: Int) {
        let columns = n * oh * ow
        let (kh, kw, s, sh, p, ph) = (kernel.h, kernel.w, stride, strideH, padding, padH)
        dcols.withUnsafeBufferPointer { src in
            dx.withUnsafeMutableBufferPointer { dst in
                for c in 0..<inChannels {
                    for i in 0..<kh {
                        for j in 0..<kw {
                            let row = (c * kh + i) * kw + j
                            for b in 0..<n {
                                let plane = (b * inChannels + c) * h * w
                                for oy in 0..<oh {
                                    let iy = oy * sh + i - ph
                                    if iy < 0 || iy >= h { continue }
                                    let sbase = row * columns + (b * oh + oy) * ow
                                    let dbase = plane + iy * w
                                    for ox in 0..<ow {
                                        let ix = ox * s + j - p
                                        if ix >= 0 && ix < w { dst[dbase + ix] += src[sbase + ox] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
