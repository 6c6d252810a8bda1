/// Max or average pooling over `[N, C, H, W]` (2-D) or `[N, C, L]` (1-D) inputs with a square
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
            throw TerrainError.invalidModel("\(summary) expects [C, \(spatialDimensions == 2 ? "H, W" : "L")] input, got \(inputShape)")
        }
        var out = [inputShape[0]]
        for size in inputShape.dropFirst() {
            let o = (size - kernelSize) / stride + 1
            guard size >= kernelSize, o > 0 else {
                throw TerrainError.invalidModel("\(summary) window is larger than input \(inputShape)")
            }
            out.append(o)
        }
        return out
    }

    public override var summary: String { "\(kind == .max ? "Max" : "Avg")Pool\(spatialDimensions)d(k=\(kernelSize), s=\(stride))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        precondition(input.rank == spatialDimensions + 2, "\(summary) got input \(input.shape)")
        inputShape = input.shape
        let planes = input.shape[0] * input.shape[1]
        let h = spatialDimensions == 2 ? input.shape[2] : 1
        let w = input.shape[spatialDimensions + 1]
        let kh = spatialDimensions == 2 ? kernelSize : 1, sh = spatialDimensions == 2 ? stride : 1
        let oh = (h - kh) / sh + 1, ow = (w - kernelSize) / stride + 1
        geometry = (h, w, oh, ow, kh, sh)
        var out = [Scalar](repeating: 0, count: planes * oh * ow)
        if kind == .max && context.activations == .frozen {
            precondition(recordedArgmax.count == out.count, "max pooling: no recorded pattern for this batch")
            argmax = recordedArgmax
            input.storage.withUnsafeBufferPointer { x in
                for oi in 0..<out.count { out[oi] = x[Int(argmax[oi])] }
            }
            var shape = Array(input.shape.prefix(2))
            if spatialDimensions == 2 { shape.append(oh) }
            shape.append(ow)
            return Tensor(shape: shape, storage: out)
        }
        if kind == .max { argmax = [Int32](repeating: 0, count: out.count) }
        let scale = 1 / Scalar(kh * kernelSize)
        input.storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for p in 0..<planes {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let oi = (p * oh + oy) * ow + ox
                            let first = (p * h + oy * sh) * w + ox * stride
                            var best = x[first], bestIndex = first, sum: Scalar = 0
                            for i in 0..<kh {
                                for j in 0..<kernelSize {
                                    let xi = first + i * w + j
                                    let v = x[xi]
                                    if v > best { best = v; bestIndex = xi }
                                    sum += v
                                }
                            }
                            if kind == .max {
                                o[oi] = best
                                argmax[oi] = Int32(bestIndex)
                            } else {
                                o[oi] = sum * scale
                            }
                        }
                    }
                }
            }
        }
        if kind == .max && context.activations == .record { recordedArgmax = argmax }
        var shape = Array(input.shape.prefix(2))
        if spatialDimensions == 2 { shape.append(oh) }
        shape.append(ow)
        return Tensor(shape: shape, storage: out)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var dx = Tensor<Scalar>(shape: inputShape)
        let (h, w, oh, ow, kh, sh) = geometry
        let planes = inputShape[0] * inputShape[1]
        let scale = 1 / Scalar(kh * kernelSize)
        gradOutput.storage.withUnsafeBufferPointer { g in
            dx.storage.withUnsafeMutableBufferPointer { d in
                if kind == .max {
                    for oi in 0..<g.count { d[Int(argmax[oi])] += g[oi] }
                    return
                }
                for p in 0..<planes {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let v = g[(p * oh + oy) * ow + ox] * scale
                            for i in 0..<kh {
                                for j in 0..<kernelSize { d[(p * h + oy * sh + i) * w + ox * stride + j] += v }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
