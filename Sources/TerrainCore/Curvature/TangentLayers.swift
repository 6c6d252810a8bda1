/// The R-operator nodes of layers with parameters: convolutions, linear layers and
/// BatchNorm in evaluation mode. Each is bilinear in (input, parameters), so with `x`, `e`
/// the base input and output gradient and `R{·}` the tangents:
/// `R{y} = f(R{x}; W) + f(x; R{W})`, `R{∂L/∂x} = f′ᵀ(R{e}; W) + f′ᵀ(e; R{W})`,
/// `R{∂L/∂W} = g(R{e}, x) + g(e, R{x})` with `g` the layer's weight-gradient product.

/// A convolution (``Conv2d``), through its own kernels with explicit weights.
final class ConvNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let conv: Conv2d<Scalar>
    let weight: [Scalar], bias: [Scalar]?
    /// Parameter indices of the weight and bias.
    let weightIndex: Int, biasIndex: Int?
    private var saved: [Int: (x: Tensor<Scalar>, e: Tensor<Scalar>?)] = [:]
    private var rx: Tensor<Scalar>?

    init(_ conv: Conv2d<Scalar>, weightIndex: Int, biasIndex: Int?) {
        self.conv = conv
        weight = conv.weight.effectiveValue.storage
        bias = conv.bias?.value.storage
        self.weightIndex = weightIndex
        self.biasIndex = biasIndex
    }

    override var hasParameters: Bool { true }
    private var channelsFirst: Bool { conv.channelsFirstInput }

    private func outputShape(_ inputShape: [Int], channelsFirst: Bool) -> [Int] {
        let g = conv.geometry(forBatch: inputShape, channelsFirst: channelsFirst)
        return conv.spatialDimensions == 2 ? [g.batch, g.outH, g.outW, g.outChannels] : [g.batch, g.outW, g.outChannels]
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        saved[chunk] = (x, nil)
        return Tensor(shape: outputShape(x.shape, channelsFirst: channelsFirst),
                      storage: conv.apply(x, weight: weight, bias: bias, channelsFirst: channelsFirst))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        let x = saved[chunk]!.x
        saved[chunk] = (x, e)
        guard needInput else { return nil }
        precondition(!channelsFirst, "a channels-first convolution is the network's first layer")
        return Tensor(shape: x.shape, storage: conv.inputGradient(e, weight: weight, inputShape: x.shape))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        let x = saved[chunk]!.x
        self.rx = rx
        let k = block.k
        let shape = outputShape(Blocks.stacked(x.shape, k), channelsFirst: channelsFirst)
        var r: [Scalar]
        if let rx {
            r = conv.apply(rx, weight: weight, bias: nil, channelsFirst: false)
        } else {
            r = [Scalar](repeating: 0, count: shape.reduce(1, *))
        }
        for j in 0..<k {
            let part = conv.apply(x, weight: block.direction(weightIndex, j), bias: biasIndex.map { block.direction($0, j) },
                                  channelsFirst: channelsFirst)
            Blocks.add(part, into: &r, part: j)
        }
        return Tensor(shape: shape, storage: r)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        let (x, e) = (saved[chunk]!.x, saved[chunk]!.e!)
        let k = block.k
        for j in 0..<k {
            let rej = Blocks.part(re, j, of: k, shape: e.shape)
            var dw = conv.weightGradient(rej, input: x, channelsFirst: channelsFirst)
            if let rx {
                let cross = conv.weightGradient(e, input: Blocks.part(rx, j, of: k, shape: x.shape), channelsFirst: false)
                for i in 0..<dw.count { dw[i] += cross[i] }
            }
            block.add(dw, parameter: weightIndex, direction: j, into: &out)
            if let biasIndex {
                let sums = rej.storage.withUnsafeBufferPointer {
                    ChannelKernels.sums($0.baseAddress!, pixels: $0.count / conv.outChannels, channels: conv.outChannels)
                }
                out[j].withUnsafeMutableBufferPointer { o in
                    for c in 0..<sums.count { o[block.offsets[biasIndex] + c] += sums[c] }
                }
            }
        }
        guard needInput else { return nil }
        let stacked = Blocks.stacked(x.shape, k)
        var r = conv.inputGradient(re, weight: weight, inputShape: stacked)
        for j in 0..<k {
            Blocks.add(conv.inputGradient(e, weight: block.direction(weightIndex, j), inputShape: x.shape), into: &r, part: j)
        }
        return Tensor(shape: stacked, storage: r)
    }

    override func forget(chunk: Int) { saved[chunk] = nil }
}

/// A fully connected layer (``Linear``): every product one GEMM in Terrain's fixed order.
final class LinearNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let weight: [Scalar], bias: [Scalar]?
    let inputs: Int, outputs: Int
    let weightIndex: Int, biasIndex: Int?
    private var saved: [Int: (x: Tensor<Scalar>, e: Tensor<Scalar>?)] = [:]
    private var rx: Tensor<Scalar>?

    init(_ l: Linear<Scalar>, weightIndex: Int, biasIndex: Int?) {
        weight = l.weight.effectiveValue.storage
        bias = l.bias?.value.storage
        inputs = l.inFeatures
        outputs = l.outFeatures
        self.weightIndex = weightIndex
        self.biasIndex = biasIndex
    }

    override var hasParameters: Bool { true }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        saved[chunk] = (x, nil)
        let n = x.count / inputs
        var y = [Scalar](repeating: 0, count: n * outputs)
        Blocks.gemm(false, true, n, outputs, inputs, x.storage, 0, inputs, weight, 0, inputs, &y, 0, outputs, false)
        if let bias { Kernels.addRowBias(&y, bias) }
        return Tensor(shape: [n, outputs], storage: y)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        let x = saved[chunk]!.x
        saved[chunk] = (x, e)
        guard needInput else { return nil }
        let n = e.count / outputs
        var d = [Scalar](repeating: 0, count: n * inputs)
        Blocks.gemm(false, false, n, inputs, outputs, e.storage, 0, outputs, weight, 0, inputs, &d, 0, inputs, false)
        return Tensor(shape: x.shape, storage: d)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        let x = saved[chunk]!.x
        self.rx = rx
        let k = block.k, n = x.count / inputs, rows = n * outputs
        var r = [Scalar](repeating: 0, count: k * rows)
        if let rx {
            Blocks.gemm(false, true, k * n, outputs, inputs, rx.storage, 0, inputs, weight, 0, inputs, &r, 0, outputs, false)
        }
        let w = block.values[weightIndex]
        for j in 0..<k {
            Blocks.gemm(false, true, n, outputs, inputs, x.storage, 0, inputs, w, j * outputs * inputs, inputs,
                        &r, j * rows, outputs, rx != nil)
            if let biasIndex {
                let b = block.values[biasIndex]
                for s in 0..<n { for c in 0..<outputs { r[j * rows + s * outputs + c] += b[j * outputs + c] } }
            }
        }
        return Tensor(shape: [k * n, outputs], storage: r)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        let (x, e) = (saved[chunk]!.x, saved[chunk]!.e!)
        let k = block.k, n = x.count / inputs
        var tmp = [Scalar](repeating: 0, count: outputs * inputs)
        for j in 0..<k {
            Blocks.gemm(true, false, outputs, inputs, n, re.storage, j * n * outputs, outputs, x.storage, 0, inputs, &tmp, 0, inputs, false)
            if let rx {
                Blocks.gemm(true, false, outputs, inputs, n, e.storage, 0, outputs, rx.storage, j * n * inputs, inputs, &tmp, 0, inputs, true)
            }
            block.add(tmp, parameter: weightIndex, direction: j, into: &out)
            if let biasIndex {
                let sums = re.storage.withUnsafeBufferPointer { p in
                    ChannelKernels.sums(p.baseAddress! + j * n * outputs, pixels: n, channels: outputs)
                }
                out[j].withUnsafeMutableBufferPointer { o in
                    for c in 0..<outputs { o[block.offsets[biasIndex] + c] += sums[c] }
                }
            }
        }
        guard needInput else { return nil }
        var d = [Scalar](repeating: 0, count: k * n * inputs)
        Blocks.gemm(false, false, k * n, inputs, outputs, re.storage, 0, outputs, weight, 0, inputs, &d, 0, inputs, false)
        let w = block.values[weightIndex]
        for j in 0..<k {
            Blocks.gemm(false, false, n, inputs, outputs, e.storage, 0, outputs, w, j * outputs * inputs, inputs,
                        &d, j * n * inputs, inputs, true)
        }
        return Tensor(shape: Blocks.stacked(x.shape, k), storage: d)
    }

    override func forget(chunk: Int) { saved[chunk] = nil }
}

/// BatchNorm in evaluation mode, with its fused ReLU when the model fused one: per channel
/// `z = a·x + (β − μ·a)` with `a = γ·s`, `s = 1/√(running_var + eps)`, `x̂ = (x − μ)·s`, then
/// `y = relu(z)` (pattern `m = 1[z > 0]` at θ) or `y = z`. Its R-operator:
/// `R{y} = m·(a·R{x} + R{γ}·x̂ + R{β})`; with `e′ = m·e`, `R{e′} = m·R{e}`:
/// `R{∂L/∂x} = a·R{e′} + R{γ}·s·e′`, `R{∂L/∂γ} = Σ R{e′}·x̂ + Σ e′·s·R{x}`, `R{∂L/∂β} = Σ R{e′}`.
/// One pass over the block per formula; channel sums in `Double`.
final class BatchNormNode<Scalar: TensorScalar>: TangentNode<Scalar> {
    let scale: [Scalar], shift: [Scalar], mean: [Scalar], invStd: [Scalar]
    let weightIndex: Int, biasIndex: Int
    let rectifies: Bool
    private struct Saved { var x: Tensor<Scalar>; var mask: [Scalar]; var e: [Scalar] }
    private var saved: [Int: Saved] = [:]
    private var rx: Tensor<Scalar>?

    init(_ bn: BatchNorm<Scalar>, weightIndex: Int, biasIndex: Int, rectifies: Bool) {
        let c = bn.channels
        invStd = (0..<c).map { Scalar(1 / (Double(bn.runningVar.storage[$0]) + bn.eps).squareRoot()) }
        mean = bn.runningMean.storage
        scale = (0..<c).map { [invStd] in bn.weight.value.storage[$0] * invStd[$0] }
        shift = (0..<c).map { [scale, mean] in bn.bias.value.storage[$0] - mean[$0] * scale[$0] }
        self.weightIndex = weightIndex
        self.biasIndex = biasIndex
        self.rectifies = rectifies
    }

    override var hasParameters: Bool { true }
    private var channels: Int { scale.count }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> {
        let c = channels
        var mask = [Scalar]()
        let y = Tensor<Scalar>(shape: x.shape) { y in
            x.storage.withUnsafeBufferPointer { xp in
                var i = 0
                while i < xp.count {
                    for ch in 0..<c { y[i + ch] = xp[i + ch] * scale[ch] + shift[ch] }
                    i += c
                }
            }
            if rectifies {
                mask = [Scalar](unsafeUninitializedCapacity: y.count) { m, n in
                    for i in 0..<y.count {
                        let on = y[i] > 0
                        m[i] = on ? 1 : 0
                        if !on { y[i] = 0 }
                    }
                    n = y.count
                }
            }
        }
        saved[chunk] = Saved(x: x, mask: mask, e: [])
        return y
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? {
        let masked = rectifies ? Blocks.scaled(e, by: saved[chunk]!.mask) : e
        saved[chunk]!.e = masked.storage
        return needInput ? Blocks.scaled(masked, by: scale) : nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        let s = saved[chunk]!
        self.rx = rx
        let k = block.k, m = s.x.count, c = channels
        let g = block.values[weightIndex], b = block.values[biasIndex]
        let (meanP, invP, scaleP) = (mean, invStd, scale)
        let r = Tensor<Scalar>(shape: Blocks.stacked(s.x.shape, k)) { r in
            s.x.storage.withUnsafeBufferPointer { x in
                meanP.withUnsafeBufferPointer { mu in
                    invP.withUnsafeBufferPointer { inv in
                        for j in 0..<k {
                            let gj = (0..<c).map { g[j * c + $0] }, bj = (0..<c).map { b[j * c + $0] }
                            gj.withUnsafeBufferPointer { gp in
                                bj.withUnsafeBufferPointer { bp in
                                    var i = 0
                                    while i < m {
                                        for ch in 0..<c { r[j * m + i + ch] = gp[ch] * ((x[i + ch] - mu[ch]) * inv[ch]) + bp[ch] }
                                        i += c
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let rx {
                rx.storage.withUnsafeBufferPointer { rp in
                    scaleP.withUnsafeBufferPointer { a in
                        var i = 0
                        while i < rp.count {
                            for ch in 0..<c { r[i + ch] += a[ch] * rp[i + ch] }
                            i += c
                        }
                    }
                }
            }
            if rectifies {
                s.mask.withUnsafeBufferPointer { mp in
                    for j in 0..<k { for i in 0..<m { r[j * m + i] *= mp[i] } }
                }
            }
        }
        return r
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        let s = saved[chunk]!
        let k = block.k, m = s.x.count, c = channels
        var rin = [Scalar](repeating: 0, count: needInput ? k * m : 0)
        // Per channel: x̂ and s·e′ at θ, then one pass per direction.
        var xhat = [Scalar](repeating: 0, count: m), es = [Scalar](repeating: 0, count: m)
        for i in 0..<m {
            let ch = i % c
            xhat[i] = (s.x.storage[i] - mean[ch]) * invStd[ch]
            es[i] = s.e[i] * invStd[ch]
        }
        for j in 0..<k {
            let gj = (0..<c).map { block.values[weightIndex][j * c + $0] }
            var dg = [Double](repeating: 0, count: c), db = [Double](repeating: 0, count: c)
            var pg = [Scalar](repeating: 0, count: c), pb = [Scalar](repeating: 0, count: c)
            var r = Array(re.storage[j * m ..< (j + 1) * m])
            if rectifies { Blocks.multiply(&r, by: s.mask) }
            r.withUnsafeBufferPointer { rp in
                xhat.withUnsafeBufferPointer { xp in
                    pg.withUnsafeMutableBufferPointer { g in
                        pb.withUnsafeMutableBufferPointer { b in
                            var i = 0, pixels = 0
                            while i < m {
                                for ch in 0..<c {
                                    g[ch] += rp[i + ch] * xp[i + ch]
                                    b[ch] += rp[i + ch]
                                }
                                i += c
                                pixels += 1
                                // Partial sums in Scalar over at most 64 pixels, then in Double.
                                if pixels == 64 || i >= m {
                                    for ch in 0..<c { dg[ch] += Double(g[ch]); db[ch] += Double(b[ch]); g[ch] = 0; b[ch] = 0 }
                                    pixels = 0
                                }
                            }
                        }
                    }
                }
            }
            if let rx {
                let cross = Blocks.channelDot(es, rx.storage, offset: j * m, channels: c)
                for ch in 0..<c { dg[ch] += cross[ch] }
            }
            out[j].withUnsafeMutableBufferPointer { o in
                for ch in 0..<c {
                    o[block.offsets[weightIndex] + ch] += dg[ch]
                    o[block.offsets[biasIndex] + ch] += db[ch]
                }
            }
            guard needInput else { continue }
            rin.withUnsafeMutableBufferPointer { d in
                r.withUnsafeBufferPointer { rp in
                    es.withUnsafeBufferPointer { ep in
                        var i = 0
                        while i < m {
                            for ch in 0..<c { d[j * m + i + ch] = scale[ch] * rp[i + ch] + gj[ch] * ep[i + ch] }
                            i += c
                        }
                    }
                }
            }
        }
        return needInput ? Tensor(shape: re.shape, storage: rin) : nil
    }

    override func forget(chunk: Int) { saved[chunk] = nil }
}

extension Blocks {
    /// `x *= mask` elementwise.
    static func multiply<S: TensorScalar>(_ x: inout [S], by mask: [S]) {
        x.withUnsafeMutableBufferPointer { xp in
            mask.withUnsafeBufferPointer { mp in for i in 0..<xp.count { xp[i] *= mp[i] } }
        }
    }

    /// Per channel `Σ a[i]·b[offset + i]` over `a.count` values (channels last), Scalar partial
    /// sums over at most 64 pixels added in `Double`.
    static func channelDot<S: TensorScalar>(_ a: [S], _ b: [S], offset: Int, channels c: Int) -> [Double] {
        var sums = [Double](repeating: 0, count: c), partial = [S](repeating: 0, count: c)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                partial.withUnsafeMutableBufferPointer { p in
                    var i = 0, pixels = 0
                    while i < ap.count {
                        for ch in 0..<c { p[ch] += ap[i + ch] * bp[offset + i + ch] }
                        i += c
                        pixels += 1
                        if pixels == 64 || i >= ap.count {
                            for ch in 0..<c { sums[ch] += Double(p[ch]); p[ch] = 0 }
                            pixels = 0
                        }
                    }
                }
            }
        }
        return sums
    }
}
