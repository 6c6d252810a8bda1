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
        let m = r.count / k
        r.withUnsafeMutableBufferPointer { rp in
            for j in 0..<k {
                conv.apply(x, weight: block.direction(weightIndex, j), bias: biasIndex.map { block.direction($0, j) },
                           channelsFirst: channelsFirst, into: rp.baseAddress! + j * m, accumulate: true)
            }
        }
        return Tensor(shape: shape, storage: r)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        let (x, e) = (saved[chunk]!.x, saved[chunk]!.e!)
        let k = block.k, m = e.count, xm = x.count
        re.storage.withUnsafeBufferPointer { rb in
            for j in 0..<k {
                let rej = rb.baseAddress! + j * m
                var dw = x.storage.withUnsafeBufferPointer {
                    conv.weightGradient(rej, input: $0.baseAddress!, inputShape: x.shape, channelsFirst: channelsFirst)
                }
                if let rx {
                    let cross = e.storage.withUnsafeBufferPointer { ep in
                        rx.storage.withUnsafeBufferPointer {
                            conv.weightGradient(ep.baseAddress!, input: $0.baseAddress! + j * xm, inputShape: x.shape, channelsFirst: false)
                        }
                    }
                    for i in 0..<dw.count { dw[i] += cross[i] }
                }
                block.add(dw, parameter: weightIndex, direction: j, into: &out)
                if let biasIndex {
                    let sums = ChannelKernels.sums(rej, pixels: m / conv.outChannels, channels: conv.outChannels)
                    out[j].withUnsafeMutableBufferPointer { o in
                        for c in 0..<sums.count { o[block.offsets[biasIndex] + c] += sums[c] }
                    }
                }
            }
        }
        guard needInput else { return nil }
        let stacked = Blocks.stacked(x.shape, k)
        var r = conv.inputGradient(re, weight: weight, inputShape: stacked)
        r.withUnsafeMutableBufferPointer { rp in
            for j in 0..<k {
                conv.inputGradient(e, weight: block.direction(weightIndex, j), inputShape: x.shape, addingTo: rp.baseAddress! + j * xm)
            }
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
        // Every element is written by a GEMM before it is read (R{x}·Wᵀ, or direction j's x·Vⱼᵀ).
        var r = [Scalar](unsafeUninitializedCapacity: k * rows) { _, count in count = k * rows }
        if let rx {
            Blocks.gemm(false, true, k * n, outputs, inputs, rx.storage, 0, inputs, weight, 0, inputs, &r, 0, outputs, false)
        }
        let w = block.values[weightIndex]
        for j in 0..<k {
            Blocks.gemm(false, true, n, outputs, inputs, x.storage, 0, inputs, w, j * outputs * inputs, inputs,
                        &r, j * rows, outputs, rx != nil)
            if let biasIndex {
                r.withUnsafeMutableBufferPointer { rp in
                    block.values[biasIndex].withUnsafeBufferPointer { bp in
                        let b = bp.baseAddress! + j * outputs
                        for s in 0..<n {
                            let row = rp.baseAddress! + j * rows + s * outputs
                            for c in 0..<outputs { row[c] += b[c] }
                        }
                    }
                }
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

    /// One pass per direction: `R{y}ⱼ = m·((Rγⱼ·x̂ + Rβⱼ) + a·R{x}ⱼ)`, x̂ computed on the fly.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        let s = saved[chunk]!
        self.rx = rx
        let k = block.k, m = s.x.count, c = channels
        let rectifies = rectifies
        return Tensor<Scalar>(shape: Blocks.stacked(s.x.shape, k)) { r in
            withParameters(block, x: s.x.storage, mask: s.mask, rx: rx?.storage) { p in
                for j in 0..<k {
                    let gj = p.g + j * c, bj = p.b + j * c, out = r.baseAddress! + j * m
                    let rxj = p.rx.map { $0 + j * m }
                    var i = 0
                    while i < m {
                        for ch in 0..<c {
                            var v = gj[ch] * ((p.x[i + ch] - p.mean[ch]) * p.invStd[ch]) + bj[ch]
                            if let rxj { v += p.scale[ch] * rxj[i + ch] }
                            if rectifies { v *= p.mask[i + ch] }
                            out[i + ch] = v
                        }
                        i += c
                    }
                }
            }
        }
    }

    /// One pass per direction over `R{e′}ⱼ = m·R{e}ⱼ`: the per-channel sums of `R{∂L/∂γ}`
    /// (`R{e′}·x̂` and the cross term `s·e′·R{x}`, each in Scalar over at most 64 pixels, then
    /// `Double`) and of `R{∂L/∂β}`, and `R{∂L/∂x}ⱼ = a·R{e′}ⱼ + Rγⱼ·s·e′`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    override func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                                  into out: inout [[Double]]) -> Tensor<Scalar>? {
        let s = saved[chunk]!
        let k = block.k, m = s.x.count, c = channels
        let rectifies = rectifies
        var rin = [Scalar](repeating: 0, count: needInput ? k * m : 0)
        var sums = [[Double]](repeating: [Double](repeating: 0, count: 3 * c), count: k)
        withParameters(block, x: s.x.storage, mask: s.mask, rx: rx?.storage) { p in
            re.storage.withUnsafeBufferPointer { rb in
                s.e.withUnsafeBufferPointer { eb in
                    rin.withUnsafeMutableBufferPointer { db in
                        var partial = [Scalar](repeating: 0, count: 3 * c)
                        for j in 0..<k {
                            let rej = rb.baseAddress! + j * m, gj = p.g + j * c
                            let rxj = p.rx.map { $0 + j * m }, dj = needInput ? db.baseAddress! + j * m : nil
                            let e = eb.baseAddress!
                            sums[j].withUnsafeMutableBufferPointer { total in
                                partial.withUnsafeMutableBufferPointer { pt in
                                    var i = 0, pixels = 0
                                    while i < m {
                                        for ch in 0..<c {
                                            let r = rectifies ? rej[i + ch] * p.mask[i + ch] : rej[i + ch]
                                            let xhat = (p.x[i + ch] - p.mean[ch]) * p.invStd[ch]
                                            let es = e[i + ch] * p.invStd[ch]
                                            pt[ch] += r * xhat
                                            pt[c + ch] += r
                                            if let rxj { pt[2 * c + ch] += es * rxj[i + ch] }
                                            if let dj { dj[i + ch] = p.scale[ch] * r + gj[ch] * es }
                                        }
                                        i += c
                                        pixels += 1
                                        if pixels == 64 || i >= m {
                                            for q in 0..<(3 * c) { total[q] += Double(pt[q]); pt[q] = 0 }
                                            pixels = 0
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for j in 0..<k {
            out[j].withUnsafeMutableBufferPointer { o in
                for ch in 0..<c {
                    o[block.offsets[weightIndex] + ch] += sums[j][ch] + sums[j][2 * c + ch]
                    o[block.offsets[biasIndex] + ch] += sums[j][c + ch]
                }
            }
        }
        return needInput ? Tensor(shape: re.shape, storage: rin) : nil
    }

    /// The pointers the tangent passes read: the block's γ and β directions, the statistics,
    /// the input at θ, the ReLU mask (empty without) and `R{x}` (nil: zero).
    private struct Pointers {
        let g: UnsafePointer<Scalar>, b: UnsafePointer<Scalar>
        let mean: UnsafePointer<Scalar>, invStd: UnsafePointer<Scalar>, scale: UnsafePointer<Scalar>
        let x: UnsafePointer<Scalar>, mask: UnsafePointer<Scalar>, rx: UnsafePointer<Scalar>?
    }

    private func withParameters(_ block: TangentBlock<Scalar>, x: [Scalar], mask: [Scalar], rx: [Scalar]?,
                                _ body: (Pointers) -> Void) {
        block.values[weightIndex].withUnsafeBufferPointer { g in
            block.values[biasIndex].withUnsafeBufferPointer { b in
                mean.withUnsafeBufferPointer { mu in
                    invStd.withUnsafeBufferPointer { inv in
                        scale.withUnsafeBufferPointer { a in
                            x.withUnsafeBufferPointer { xp in
                                (mask.isEmpty ? [0] : mask).withUnsafeBufferPointer { mp in
                                    (rx ?? [0]).withUnsafeBufferPointer { rp in
                                        body(Pointers(g: g.baseAddress!, b: b.baseAddress!, mean: mu.baseAddress!,
                                                      invStd: inv.baseAddress!, scale: a.baseAddress!, x: xp.baseAddress!,
                                                      mask: mp.baseAddress!, rx: rx == nil ? nil : rp.baseAddress!))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    override func forget(chunk: Int) { saved[chunk] = nil }
}
