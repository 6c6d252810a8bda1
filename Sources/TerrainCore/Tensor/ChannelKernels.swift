/// Per-channel passes over channels-last activations `[M, C]` (M = pixels over the batch):
/// the reductions and elementwise maps of BatchNorm, fused with ReLU where a network has one
/// next. Channels are processed 8 at a time in SIMD registers, but every channel's sum still
/// runs over the pixels in order, one `Double` accumulator per channel, so results do not
/// depend on the vector width.
enum ChannelKernels {
    /// `Σ_p x[p, c]` per channel, in `Double`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func sums<T: TensorScalar>(_ x: UnsafePointer<T>, pixels m: Int, channels c: Int) -> [Double] {
        var out = [Double](repeating: 0, count: c)
        out.withUnsafeMutableBufferPointer { o in
            let acc = o.baseAddress!
            var c0 = 0
            while c0 + 8 <= c {
                var s = SIMD8<Double>()
                var p = x + c0
                for _ in 0..<m {
                    s += SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<T>.self))
                    p += c
                }
                UnsafeMutableRawPointer(acc + c0).storeBytes(of: s, as: SIMD8<Double>.self)
                c0 += 8
            }
            if c0 < c {
                for i in 0..<m { for ch in c0..<c { acc[ch] += Double(x[i * c + ch]) } }
            }
        }
        return out
    }

    /// `Σ_p (x[p, c] − mean[c])²` per channel, in `Double`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func centredSquares<T: TensorScalar>(_ x: UnsafePointer<T>, pixels m: Int, channels c: Int, mean: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: c)
        out.withUnsafeMutableBufferPointer { o in
            mean.withUnsafeBufferPointer { mu in
                let acc = o.baseAddress!
                var c0 = 0
                while c0 + 8 <= c {
                    var s = SIMD8<Double>()
                    let mv = UnsafeRawPointer(mu.baseAddress! + c0).loadUnaligned(as: SIMD8<Double>.self)
                    var p = x + c0
                    for _ in 0..<m {
                        let d = SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<T>.self)) - mv
                        s += d * d
                        p += c
                    }
                    UnsafeMutableRawPointer(acc + c0).storeBytes(of: s, as: SIMD8<Double>.self)
                    c0 += 8
                }
                if c0 < c {
                    for i in 0..<m {
                        for ch in c0..<c { let d = Double(x[i * c + ch]) - mu[ch]; acc[ch] += d * d }
                    }
                }
            }
        }
        return out
    }

    /// `y[p, c] = x[p, c]·scale[c] + shift[c]`, then `max(·, 0)` when `relu` (NaN → 0, as
    /// ``ReLU``), or the recorded/frozen activation pattern: with `pattern` given and
    /// `frozen`, units where the pattern is off give 0; with `record`, the pattern (`z > 0`)
    /// is written.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func affine<T: TensorScalar>(_ x: UnsafePointer<T>, pixels m: Int, channels c: Int, scale: [T], shift: [T],
                                        relu: Bool, into y: UnsafeMutablePointer<T>) {
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                if c % 8 == 0 {
                    let zero = SIMD8<T>()
                    for i in 0..<m {
                        let row = i * c
                        var c0 = 0
                        while c0 < c {
                            let v = UnsafeRawPointer(x + row + c0).loadUnaligned(as: SIMD8<T>.self)
                            let a = UnsafeRawPointer(sc.baseAddress! + c0).loadUnaligned(as: SIMD8<T>.self)
                            let b = UnsafeRawPointer(sh.baseAddress! + c0).loadUnaligned(as: SIMD8<T>.self)
                            var z = v * a + b
                            if relu { z.replace(with: zero, where: .!(z .> zero)) }
                            UnsafeMutableRawPointer(y + row + c0).storeBytes(of: z, as: SIMD8<T>.self)
                            c0 += 8
                        }
                    }
                } else {
                    for i in 0..<m {
                        for ch in 0..<c {
                            let z = x[i * c + ch] * sc[ch] + sh[ch]
                            y[i * c + ch] = relu ? (z > 0 ? z : 0) : z
                        }
                    }
                }
            }
        }
    }

    /// `Σ_p g[p, c]` and `Σ_p g[p, c]·x̂[p, c]` per channel in `Double`, with
    /// `x̂ = (x − mean)·invStd` and `g = dy` masked to zero where `mask[p, c] ≤ 0` when a
    /// mask (the fused ReLU's output) is given.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func gradientSums<T: TensorScalar>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, mask: UnsafePointer<T>?,
                                              pixels m: Int, channels c: Int, mean: [T], invStd: [T]) -> (dy: [Double], dyXhat: [Double]) {
        var s1 = [Double](repeating: 0, count: c), s2 = [Double](repeating: 0, count: c)
        mean.withUnsafeBufferPointer { mu in
            invStd.withUnsafeBufferPointer { inv in
                s1.withUnsafeMutableBufferPointer { a in
                    s2.withUnsafeMutableBufferPointer { b in
                        var c0 = 0
                        while c0 + 8 <= c {
                            let mv = UnsafeRawPointer(mu.baseAddress! + c0).loadUnaligned(as: SIMD8<T>.self)
                            let iv = UnsafeRawPointer(inv.baseAddress! + c0).loadUnaligned(as: SIMD8<T>.self)
                            var acc1 = SIMD8<Double>(), acc2 = SIMD8<Double>()
                            for i in 0..<m {
                                let o = i * c + c0
                                var g = UnsafeRawPointer(dy + o).loadUnaligned(as: SIMD8<T>.self)
                                if let mask {
                                    let y = UnsafeRawPointer(mask + o).loadUnaligned(as: SIMD8<T>.self)
                                    g.replace(with: SIMD8<T>(), where: .!(y .> SIMD8<T>()))
                                }
                                let xh = (UnsafeRawPointer(x + o).loadUnaligned(as: SIMD8<T>.self) - mv) * iv
                                let gd = SIMD8<Double>(g)
                                acc1 += gd
                                acc2 += gd * SIMD8<Double>(xh)
                            }
                            UnsafeMutableRawPointer(a.baseAddress! + c0).storeBytes(of: acc1, as: SIMD8<Double>.self)
                            UnsafeMutableRawPointer(b.baseAddress! + c0).storeBytes(of: acc2, as: SIMD8<Double>.self)
                            c0 += 8
                        }
                        if c0 < c {
                            for i in 0..<m {
                                for ch in c0..<c {
                                    let o = i * c + ch
                                    let g = mask.map { $0[o] > 0 ? dy[o] : 0 } ?? dy[o]
                                    let xh = (x[o] - mu[ch]) * inv[ch]
                                    a[ch] += Double(g)
                                    b[ch] += Double(g) * Double(xh)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (s1, s2)
    }

    /// `dx = k[c]·(g − meanDy[c] − x̂·meanDyXhat[c])` (training) or `dx = k[c]·g`
    /// (evaluation: `meanDy`, `meanDyXhat` nil), with `g` masked as in ``gradientSums``.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func inputGradient<T: TensorScalar>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, mask: UnsafePointer<T>?,
                                               pixels m: Int, channels c: Int, mean: [T], invStd: [T], k: [T],
                                               meanDy: [T]?, meanDyXhat: [T]?, into dx: UnsafeMutablePointer<T>) {
        let training = meanDy != nil
        let md = meanDy ?? [T](repeating: 0, count: c), mx = meanDyXhat ?? [T](repeating: 0, count: c)
        mean.withUnsafeBufferPointer { mu in
            invStd.withUnsafeBufferPointer { inv in
                k.withUnsafeBufferPointer { kk in
                    md.withUnsafeBufferPointer { mdp in
                        mx.withUnsafeBufferPointer { mxp in
                            for i in 0..<m {
                                var ch = 0
                                if c % 8 == 0 {
                                    while ch < c {
                                        let o = i * c + ch
                                        var g = UnsafeRawPointer(dy + o).loadUnaligned(as: SIMD8<T>.self)
                                        if let mask {
                                            let y = UnsafeRawPointer(mask + o).loadUnaligned(as: SIMD8<T>.self)
                                            g.replace(with: SIMD8<T>(), where: .!(y .> SIMD8<T>()))
                                        }
                                        let kv = UnsafeRawPointer(kk.baseAddress! + ch).loadUnaligned(as: SIMD8<T>.self)
                                        var r: SIMD8<T>
                                        if training {
                                            let mv = UnsafeRawPointer(mu.baseAddress! + ch).loadUnaligned(as: SIMD8<T>.self)
                                            let iv = UnsafeRawPointer(inv.baseAddress! + ch).loadUnaligned(as: SIMD8<T>.self)
                                            let xh = (UnsafeRawPointer(x + o).loadUnaligned(as: SIMD8<T>.self) - mv) * iv
                                            let a = UnsafeRawPointer(mdp.baseAddress! + ch).loadUnaligned(as: SIMD8<T>.self)
                                            let b = UnsafeRawPointer(mxp.baseAddress! + ch).loadUnaligned(as: SIMD8<T>.self)
                                            r = kv * (g - a - xh * b)
                                        } else {
                                            r = kv * g
                                        }
                                        UnsafeMutableRawPointer(dx + o).storeBytes(of: r, as: SIMD8<T>.self)
                                        ch += 8
                                    }
                                } else {
                                    while ch < c {
                                        let o = i * c + ch
                                        let g = mask.map { $0[o] > 0 ? dy[o] : 0 } ?? dy[o]
                                        if training {
                                            let xh = (x[o] - mu[ch]) * inv[ch]
                                            dx[o] = kk[ch] * (g - mdp[ch] - xh * mxp[ch])
                                        } else {
                                            dx[o] = kk[ch] * g
                                        }
                                        ch += 1
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
