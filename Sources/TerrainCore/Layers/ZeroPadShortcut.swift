/// The parameter-free shortcut of He et al. (2016), option A: keep every `stride`-th pixel
/// and pad the channels with zeros, `inChannels → outChannels`, half the new channels
/// before the old ones and the rest after (PyTorch:
/// `F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, before, after))`, which is what the popular
/// CIFAR ResNets' `LambdaLayer` shortcut computes).
///
/// Works on channels-last activations, `[N, H, W, C]` (2-D) or `[N, L, C]` (1-D); output
/// `[N, ⌈H/s⌉, ⌈W/s⌉, outChannels]`, the size a 3×3 convolution with stride `s` and padding 1
/// gives. It has no tensors, so a checkpoint holds nothing for it.
public final class ZeroPadShortcut<Scalar: TensorScalar>: Layer<Scalar> {
    /// Channels in.
    public let inChannels: Int
    /// Channels out (at least `inChannels`).
    public let outChannels: Int
    /// The spatial subsampling step.
    public let stride: Int
    /// Zero channels placed before the input's channels (`(out − in) / 2`).
    public var channelsBefore: Int { (outChannels - inChannels) / 2 }
    private var inputShape: [Int] = []

    /// Creates the shortcut.
    public init(inChannels: Int, outChannels: Int, stride: Int) {
        precondition(inChannels > 0 && outChannels >= inChannels && stride > 0,
                     "invalid zero-padding shortcut \(inChannels)→\(outChannels) stride \(stride)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.stride = stride
    }

    public override var summary: String { "ZeroPadShortcut(\(inChannels) → \(outChannels), s=\(stride))" }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2 || inputShape.count == 3, inputShape.last == inChannels, inputShape.dropLast().allSatisfy({ $0 > 0 }) else {
            throw TerrainError.invalidModel("\(summary) expects channels-last [H, W, \(inChannels)] or [L, \(inChannels)] input, got \(inputShape)")
        }
        return inputShape.dropLast().map { ($0 + stride - 1) / stride } + [outChannels]
    }

    /// Input and output sizes of a batch shape: rows (N·H or N), input width, output rows, output width.
    private func geometry(_ shape: [Int]) -> (n: Int, h: Int, w: Int, oh: Int, ow: Int) {
        let n = shape[0]
        let h = shape.count == 4 ? shape[1] : 1, w = shape[shape.count - 2]
        let oh = shape.count == 4 ? (h + stride - 1) / stride : 1
        return (n, h, w, oh, (w + stride - 1) / stride)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition((input.rank == 3 || input.rank == 4) && input.shape.last == inChannels, "\(summary) got input \(input.shape)")
        inputShape = input.shape
        let (n, h, w, oh, ow) = geometry(input.shape)
        let (c, o, before, sh) = (inChannels, outChannels, channelsBefore, input.rank == 4 ? stride : 1)
        var shape = [n]
        if input.rank == 4 { shape.append(oh) }
        shape += [ow, o]
        var out = Tensor<Scalar>(shape: shape)
        input.storage.withUnsafeBufferPointer { x in
            out.storage.withUnsafeMutableBufferPointer { y in
                for b in 0..<n {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let src = ((b * h + i * sh) * w + j * stride) * c
                            let dst = ((b * oh + i) * ow + j) * o + before
                            for ch in 0..<c { y[dst + ch] = x[src + ch] }
                        }
                    }
                }
            }
        }
        return out
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        guard inputGradientNeeded else { return Tensor(shape: [0]) }
        let (n, h, w, oh, ow) = geometry(inputShape)
        let (c, o, before, sh) = (inChannels, outChannels, channelsBefore, inputShape.count == 4 ? stride : 1)
        precondition(gradOutput.count == n * oh * ow * o, "\(summary): backward without a matching forward")
        var dx = Tensor<Scalar>(shape: inputShape)
        gradOutput.storage.withUnsafeBufferPointer { g in
            dx.storage.withUnsafeMutableBufferPointer { d in
                for b in 0..<n {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let dst = ((b * h + i * sh) * w + j * stride) * c
                            let src = ((b * oh + i) * ow + j) * o + before
                            for ch in 0..<c { d[dst + ch] = g[src + ch] }
                        }
                    }
                }
            }
        }
        return dx
    }
}
