/// Max or average pooling over channels-last `[N, H, W, C]` (2-D) or `[N, L, C]` (1-D)
/// activations (see ``Conv2d`` for the layout convention) with a square
/// (or length-`k`) window, stride `stride` (default: the window) and no padding, as PyTorch's
/// `MaxPool*d`/`AvgPool*d`. Output size `⌊(size − k)/stride⌋ + 1`. Max pooling sends the
/// gradient to the first maximum of each window.
public final class Pool<Scalar: TensorScalar>: Layer<Scalar> {
    /// Which reduction a pooling window applies.
    public enum Kind: String, Sendable, Codable { case max, average }

    /// The reduction.
    public let kind: Kind
    /// Window size.
    public let kernelSize: Int
    /// Step between windows.
    public let stride: Int
    /// 1 or 2 spatial dimensions.
    public let spatialDimensions: Int
    private var inputShape: [Int] = []
    private var argmax: [Int32] = []
    /// The flat input index of each output's winner in the latest max-pooling pass.
    var maxIndices: [Int32] { argmax }
    private var recordedArgmax: [Int32] = []
    private var geometry = (h: 0, w: 0, oh: 0, ow: 0, kh: 0, sh: 0)

    /// Creates a pooling layer.
    public init(_ kind: Kind, kernelSize: Int, stride: Int? = nil, spatialDimensions: Int = 2) {
        self.kind = kind
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.spatialDimensions = spatialDimensions
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == spatialDimensions + 1 else {
            throw TerrainError.invalidModel("\(summary) expects [\(spatialDimensions == 2 ? "H, W" : "L"), C] input, got \(inputShape)")
        }
        var out = [Int]()
        for size in inputShape.dropLast() {
            let o = (size - kernelSize) / stride + 1
            guard size >= kernelSize, o > 0 else {
                throw TerrainError.invalidModel("\(summary) window is larger than input \(inputShape)")
            }
            out.append(o)
        }
        return out + [inputShape[inputShape.count - 1]]
    }

    public override var summary: String { "\(kind == .max ? "Max" : "Avg")Pool\(spatialDimensions)d(k=\(kernelSize), s=\(stride))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition(input.rank == spatialDimensions + 2 && input.count <= Int(Int32.max), "\(summary) got input \(input.shape)")
        inputShape = input.shape
        let n = input.shape[0], c = input.shape[input.rank - 1]
        let h = spatialDimensions == 2 ? input.shape[1] : 1
        let w = input.shape[spatialDimensions]
        let kh = spatialDimensions == 2 ? kernelSize : 1, sh = spatialDimensions == 2 ? stride : 1
        let oh = (h - kh) / sh + 1, ow = (w - kernelSize) / stride + 1
        geometry = (h, w, oh, ow, kh, sh)
        let count = n * oh * ow * c
        var shape = [n]
        if spatialDimensions == 2 { shape.append(oh) }
        shape += [ow, c]
        if kind == .max && context.activations == .frozen {
            precondition(recordedArgmax.count == count, "max pooling: no recorded pattern for this batch")
            argmax = recordedArgmax
            let out = input.storage.withUnsafeBufferPointer { x in (0..<count).map { x[Int(argmax[$0])] } }
            return Tensor(shape: shape, storage: out)
        }
        if kind == .max { argmax = [Int32](repeating: 0, count: count) }
        let scale = 1 / Scalar(kh * kernelSize)
        var out = [Scalar](repeating: 0, count: count)
        input.storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                argmax.withUnsafeMutableBufferPointer { am in
                    for b in 0..<n {
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                let dst = ((b * oh + oy) * ow + ox) * c
                                let first = ((b * h + oy * sh) * w + ox * stride) * c
                                for ch in 0..<c {
                                    var best = x[first + ch], bestIndex = first + ch, sum: Scalar = 0
                                    for i in 0..<kh {
                                        for j in 0..<kernelSize {
                                            let xi = first + (i * w + j) * c + ch
                                            let v = x[xi]
                                            if v > best { best = v; bestIndex = xi }
                                            sum += v
                                        }
                                    }
                                    if kind == .max {
                                        o[dst + ch] = best
                                        am[dst + ch] = Int32(bestIndex)
                                    } else {
                                        o[dst + ch] = sum * scale
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if kind == .max && context.activations == .record { recordedArgmax = argmax }
        return Tensor(shape: shape, storage: out)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var dx = Tensor<Scalar>(shape: inputShape)
        let (h, w, oh, ow, kh, sh) = geometry
        let n = inputShape[0], c = inputShape[inputShape.count - 1]
        let scale = 1 / Scalar(kh * kernelSize)
        gradOutput.storage.withUnsafeBufferPointer { g in
            dx.storage.withUnsafeMutableBufferPointer { d in
                if kind == .max {
                    for oi in 0..<g.count { d[Int(argmax[oi])] += g[oi] }
                    return
                }
                for b in 0..<n {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let src = ((b * oh + oy) * ow + ox) * c
                            let first = ((b * h + oy * sh) * w + ox * stride) * c
                            for ch in 0..<c {
                                let v = g[src + ch] * scale
                                for i in 0..<kh {
                                    for j in 0..<kernelSize { d[first + (i * w + j) * c + ch] += v }
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
