/// The shape arithmetic of one 2-D convolution over channels-last (`[N, H, W, C]`) data,
/// as the convolution kernels see it: the input lives in a zero-padded buffer
/// `[N, H + 2·padH, W + 2·padW, C]`, so every receptive field is in bounds and a kernel tap
/// is a fixed offset from the field's top-left corner. A 1-D convolution is the case
/// `H = 1`, `kernelH = 1`, `padH = 0`, `strideH = 1`.
///
/// The reduction index `k` of the implicit GEMM runs over `(ky, kx, c)` with `c` fastest:
/// `K = kernelH · kernelW · C`.
public struct ConvGeometry: Equatable, Sendable {
    /// Batch size.
    public var batch: Int
    /// Input height and width (unpadded).
    public var inH: Int, inW: Int
    /// Input channels.
    public var inChannels: Int
    /// Output channels.
    public var outChannels: Int
    /// Kernel height and width.
    public var kernelH: Int, kernelW: Int
    /// Strides.
    public var strideH: Int, strideW: Int
    /// Zero padding on each side.
    public var padH: Int, padW: Int

    /// Creates the geometry; fails (precondition) on non-positive sizes or a kernel larger
    /// than its padded input.
    public init(batch: Int, inH: Int, inW: Int, inChannels: Int, outChannels: Int,
                kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padH: Int, padW: Int) {
        precondition(batch >= 0 && inH > 0 && inW > 0 && inChannels > 0 && outChannels > 0
                     && kernelH > 0 && kernelW > 0 && strideH > 0 && strideW > 0 && padH >= 0 && padW >= 0,
                     "invalid convolution geometry")
        precondition(inH + 2 * padH >= kernelH && inW + 2 * padW >= kernelW, "kernel larger than its padded input")
        self.batch = batch
        self.inH = inH; self.inW = inW
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
    }

    /// Padded input height and width.
    public var paddedH: Int { inH + 2 * padH }
    public var paddedW: Int { inW + 2 * padW }
    /// Output height and width.
    public var outH: Int { (paddedH - kernelH) / strideH + 1 }
    public var outW: Int { (paddedW - kernelW) / strideW + 1 }
    /// Output pixels over the whole batch (rows of the implicit GEMM).
    public var pixels: Int { batch * outH * outW }
    /// The reduction length `kernelH · kernelW · inChannels`.
    public var reduction: Int { kernelH * kernelW * inChannels }
    /// Elements of the padded input buffer.
    public var paddedCount: Int { batch * paddedH * paddedW * inChannels }
    /// Elements of the output.
    public var outputCount: Int { pixels * outChannels }

    /// The offset of each tap `(ky, kx)` (row-major over the kernel) from a receptive field's
    /// corner in the padded buffer, in elements.
    public var tapOffsets: [Int] {
        var offsets = [Int]()
        offsets.reserveCapacity(kernelH * kernelW)
        for ky in 0..<kernelH {
            for kx in 0..<kernelW { offsets.append((ky * paddedW + kx) * inChannels) }
        }
        return offsets
    }

    /// The offset of every reduction index `k = (ky, kx, c)` from a field's corner.
    public var reductionOffsets: [Int] {
        var offsets = [Int]()
        offsets.reserveCapacity(reduction)
        for tap in tapOffsets {
            for c in 0..<inChannels { offsets.append(tap + c) }
        }
        return offsets
    }

    /// The padded-buffer offset of the receptive field of output pixel `p` (flattened
    /// `(n, oy, ox)`).
    @inline(__always)
    public func fieldOffset(pixel p: Int) -> Int {
        let plane = outH * outW
        let n = p / plane, r = p - n * plane
        let oy = r / outW, ox = r - oy * outW
        return ((n * paddedH + oy * strideH) * paddedW + ox * strideW) * inChannels
    }

    /// The geometry of the convolution that computes this one's input gradient when the
    /// stride is 1: the output gradient, padded by `kernel − 1 − pad`, convolved with the
    /// flipped, transposed kernel. `nil` when the stride is not 1 or the padding exceeds
    /// `kernel − 1` (then the gradient is scattered instead).
    public var transposed: ConvGeometry? {
        guard strideH == 1, strideW == 1, padH <= kernelH - 1, padW <= kernelW - 1 else { return nil }
        return ConvGeometry(batch: batch, inH: outH, inW: outW, inChannels: outChannels, outChannels: inChannels,
                            kernelH: kernelH, kernelW: kernelW, strideH: 1, strideW: 1,
                            padH: kernelH - 1 - padH, padW: kernelW - 1 - padW)
    }
}
