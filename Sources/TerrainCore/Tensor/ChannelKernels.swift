/// Per-channel passes over channels-last activations `[M, C]` (M = pixels over the batch):
/// the reductions and elementwise maps of BatchNorm, fused with ReLU where a network has one
/// next. Each pass walks the pixels in order with a plain loop over a row's channels, which
/// the compiler vectorizes across channels; every channel's sum still runs over the pixels in
/// order, one `Double` accumulator per channel, so results do not depend on the vector width.
///
/// (Loops are written over scalars on purpose: Swift's generic SIMD comparisons and masks
/// compile to per-lane code, while these loops become `vmaxps`/`vcmpps` vector code.)
enum ChannelKernels {
    /// `Σ_p x[p, c]` per channel, in `Double`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func sums<T: TensorScalar>(_ x: UnsafePointer<T>, pixels m: Int, channels c: Int) -> [Double] {
        var out = [Double](repeating: 0, count: c)
        out.withUnsafeMutableBufferPointer { o in
            let acc = o.baseAddress!
            for p in 0..<m {
                let row = x + p * c
                for ch in 0..<c { acc[ch] += Double(row[ch]) }
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
                let acc = o.baseAddress!, mp = mu.baseAddress!
                for p in 0..<m {
                    let row = x + p * c
                    for ch in 0..<c {
                        let d = Double(row[ch]) - mp[ch]
                        acc[ch] += d * d
                    }
                }
            }
        }
        return out
    }

    /// `y[p, c] = x[p, c]·scale[c] + shift[c]`, then `max(·, 0)` when `relu` (NaN → 0, as
    /// ``ReLU``).
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func affine<T: TensorScalar>(_ x: UnsafePointer<T>, pixels m: Int, channels c: Int, scale: [T], shift: [T],
                                        relu: Bool, into y: UnsafeMutablePointer<T>) {
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                let a = sc.baseAddress!, b = sh.baseAddress!
                for p in 0..<m {
                    let src = x + p * c, dst = y + p * c
                    if relu {
                        for ch in 0..<c { let z = src[ch] * a[ch] + b[ch]; dst[ch] = z > 0 ? z : 0 }
                    } else {
                        for ch in 0..<c { dst[ch] = src[ch] * a[ch] + b[ch] }
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
                        let mp = mu.baseAddress!, ip = inv.baseAddress!, ap = a.baseAddress!, bp = b.baseAddress!
                        for p in 0..<m {
                            let g = dy + p * c, xr = x + p * c
                            if let mask {
                                let mr = mask + p * c
                                for ch in 0..<c {
                                    let gv = Double(mr[ch] > 0 ? g[ch] : 0)
                                    ap[ch] += gv
                                    bp[ch] += gv * Double((xr[ch] - mp[ch]) * ip[ch])
                                }
                            } else {
                                for ch in 0..<c {
                                    let gv = Double(g[ch])
                                    ap[ch] += gv
                                    bp[ch] += gv * Double((xr[ch] - mp[ch]) * ip[ch])
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
        let ones = [T](repeating: 1, count: m > 0 && mask == nil ? c : 0)
        mean.withUnsafeBufferPointer { mu in
            invStd.withUnsafeBufferPointer { inv in
                k.withUnsafeBufferPointer { kk in
                    md.withUnsafeBufferPointer { mdp in
                        mx.withUnsafeBufferPointer { mxp in
                            ones.withUnsafeBufferPointer { on in
                                let mp = mu.baseAddress!, ip = inv.baseAddress!, kp = kk.baseAddress!
                                let ap = mdp.baseAddress!, bp = mxp.baseAddress!
                                for p in 0..<m {
                                    let g = dy + p * c, xr = x + p * c, out = dx + p * c
                                    // Without a mask, a row of ones keeps one loop body (the select is exact).
                                    let mr = mask.map { $0 + p * c } ?? on.baseAddress!
                                    if training {
                                        for ch in 0..<c {
                                            let gv = mr[ch] > 0 ? g[ch] : 0
                                            let xh = (xr[ch] - mp[ch]) * ip[ch]
                                            out[ch] = kp[ch] * (gv - ap[ch] - xh * bp[ch])
                                        }
                                    } else {
                                        for ch in 0..<c { out[ch] = kp[ch] * (mr[ch] > 0 ? g[ch] : 0) }
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
