/// Convolution as an *implicit* GEMM over channels-last data: the rows of the product are
/// output pixels, the columns output channels, and the reduction runs over the receptive
/// field `(ky, kx, c)`, read straight from the zero-padded input buffer instead of from an
/// im2col copy. The register tile is the same `6 × 2w` as ``GEMM``'s (6 pixels × 16 `Float`
/// channels in AVX2 registers), so one pass over a batch is one large, cache-friendly GEMM.
///
/// Summation order (part of the contract, as for ``GEMM``): an output element is one chain
/// of fused multiply-adds over the reduction index in increasing `(ky, kx, c)` order starting
/// from zero, and the bias is added after the chain; a weight-gradient element is, for each
/// image in batch order, one chain over that image's output pixels in raster order, and the
/// per-image sums are added in batch order. Tile sizes and vector widths do not enter.
/// `ConvReference` spells the same loops out naively; tests compare the two bit for bit.
enum ConvKernels {
    /// Output pixels per register tile.
    static let mr = 6

    // MARK: Weight packing

    /// Packs `W[o, c, ky, kx]` (PyTorch's layout) into panels of `nr` output channels:
    /// `out[panel][k][col] = W[panel·nr + col, c, ky, kx]` with `k = (ky, kx, c)`, zero past
    /// the last channel. `panels · K · nr` elements.
    static func packWeights<S: TensorScalar>(_ w: UnsafePointer<S>, outChannels o: Int, inChannels c: Int,
                                             kernelH kh: Int, kernelW kw: Int, nr: Int,
                                             into out: UnsafeMutablePointer<S>) {
        let k = kh * kw * c, panels = (o + nr - 1) / nr
        for panel in 0..<panels {
            let base = out + panel * k * nr
            for ky in 0..<kh {
                for kx in 0..<kw {
                    for ch in 0..<c {
                        let row = base + ((ky * kw + kx) * c + ch) * nr
                        for col in 0..<nr {
                            let oc = panel * nr + col
                            row[col] = oc < o ? w[((oc * c + ch) * kh + ky) * kw + kx] : 0
                        }
                    }
                }
            }
        }
    }

    /// Packs the kernel of the *transposed* convolution (stride 1) that maps output gradients
    /// back to inputs: `W'[(ky', kx', o), c] = W[o, c, kh−1−ky', kw−1−kx']`, in panels of
    /// `nr` input channels.
    static func packTransposedWeights<S: TensorScalar>(_ w: UnsafePointer<S>, outChannels o: Int, inChannels c: Int,
                                                       kernelH kh: Int, kernelW kw: Int, nr: Int,
                                                       into out: UnsafeMutablePointer<S>) {
        let k = kh * kw * o, panels = (c + nr - 1) / nr
        for panel in 0..<panels {
            let base = out + panel * k * nr
            for ky in 0..<kh {
                for kx in 0..<kw {
                    for oc in 0..<o {
                        let row = base + ((ky * kw + kx) * o + oc) * nr
                        for col in 0..<nr {
                            let ch = panel * nr + col
                            row[col] = ch < c ? w[((oc * c + ch) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] : 0
                        }
                    }
                }
            }
        }
    }

    /// Packs `Wᵀ` for the scattered input gradient: panels of `nr` reduction indices,
    /// `out[panel][o][col] = W[o, c, ky, kx]` for `k = panel·nr + col = (ky, kx, c)`.
    static func packReductionPanels<S: TensorScalar>(_ w: UnsafePointer<S>, outChannels o: Int, inChannels c: Int,
                                                     kernelH kh: Int, kernelW kw: Int, nr: Int,
                                                     into out: UnsafeMutablePointer<S>) {
        let k = kh * kw * c, panels = (k + nr - 1) / nr
        for panel in 0..<panels {
            for oc in 0..<o {
                let row = out + (panel * o + oc) * nr
                for col in 0..<nr {
                    let idx = panel * nr + col
                    if idx < k {
                        let tap = idx / c, ch = idx - tap * c
                        let ky = tap / kw, kx = tap - ky * kw
                        row[col] = w[((oc * c + ch) * kh + ky) * kw + kx]
                    } else {
                        row[col] = 0
                    }
                }
            }
        }
    }

    // MARK: Forward

    /// `y[p, o] = bias[o] + Σ_k x[field(p) + offset(k)] · W[o, k]` for every output pixel.
    /// `x` is the padded input, `packed` the output of ``packWeights``, `y` has row stride
    /// `ldy ≥ outChannels`.
    static func forward<V: SIMD>(_: V.Type, geometry g: ConvGeometry, input x: UnsafePointer<V.Scalar>,
                                 packed: UnsafePointer<V.Scalar>, bias: UnsafePointer<V.Scalar>?,
                                 output y: UnsafeMutablePointer<V.Scalar>, ldy: Int) where V.Scalar: TensorScalar {
        let w = V.scalarCount, nr = 2 * w
        let o = g.outChannels, k = g.reduction, channels = g.inChannels
        let panels = (o + nr - 1) / nr
        let taps = g.tapOffsets
        let pixels = g.pixels
        taps.withUnsafeBufferPointer { tapBuffer in
            let tp = tapBuffer.baseAddress!, tapCount = tapBuffer.count
            var p = 0
            while p < pixels {
                let rows = min(mr, pixels - p)
                let last = p + rows - 1
                let f0 = x + g.fieldOffset(pixel: p)
                let f1 = x + g.fieldOffset(pixel: min(p + 1, last))
                let f2 = x + g.fieldOffset(pixel: min(p + 2, last))
                let f3 = x + g.fieldOffset(pixel: min(p + 3, last))
                let f4 = x + g.fieldOffset(pixel: min(p + 4, last))
                let f5 = x + g.fieldOffset(pixel: min(p + 5, last))
                for panel in 0..<panels {
                    var t = Tile<V>()
                    var wp = packed + panel * k * nr
                    for tap in 0..<tapCount {
                        let off = tp[tap]
                        let a0 = f0 + off, a1 = f1 + off, a2 = f2 + off, a3 = f3 + off, a4 = f4 + off, a5 = f5 + off
                        for ch in 0..<channels {
                            t.step(a0[ch], a1[ch], a2[ch], a3[ch], a4[ch], a5[ch], wp)
                            wp += nr
                        }
                    }
                    let cols = min(nr, o - panel * nr)
                    t.store(to: y + p * ldy + panel * nr, ld: ldy, rows: rows, cols: cols,
                            bias: bias.map { $0 + panel * nr })
                }
                p += mr
            }
        }
    }

    // MARK: Weight gradient

    /// `dW[k, o] += Σ_n Σ_{p ∈ image n} x[field(p) + offset(k)] · dy[p, o]`, into
    /// `dw[k · ldw + o]` (`ldw` a multiple of `2w`). `dy` has row stride `ldo`, a multiple of
    /// `2w` covering every channel panel (pad the gradient when `outChannels` is not).
    static func weightGradient<V: SIMD>(_: V.Type, geometry g: ConvGeometry, input x: UnsafePointer<V.Scalar>,
                                        gradOutput dy: UnsafePointer<V.Scalar>, ldo: Int,
                                        into dw: UnsafeMutablePointer<V.Scalar>, ldw: Int) where V.Scalar: TensorScalar {
        let w = V.scalarCount, nr = 2 * w
        let k = g.reduction, panels = (g.outChannels + nr - 1) / nr
        let offsets = g.reductionOffsets
        let (oh, ow, sh, sw) = (g.outH, g.outW, g.strideH, g.strideW)
        let rowStride = g.paddedW * g.inChannels, colStride = sw * g.inChannels
        offsets.withUnsafeBufferPointer { ob in
            let off = ob.baseAddress!
            for n in 0..<g.batch {
                let image = x + n * g.paddedH * rowStride
                let dyImage = dy + n * oh * ow * ldo
                var kg = 0
                while kg < k {
                    let rows = min(mr, k - kg), lastK = kg + rows - 1
                    let o0 = off[kg], o1 = off[min(kg + 1, lastK)], o2 = off[min(kg + 2, lastK)]
                    let o3 = off[min(kg + 3, lastK)], o4 = off[min(kg + 4, lastK)], o5 = off[min(kg + 5, lastK)]
                    for panel in 0..<panels {
                        var t = Tile<V>()
                        for oy in 0..<oh {
                            var field = image + oy * sh * rowStride
                            var d = dyImage + oy * ow * ldo + panel * nr
                            for _ in 0..<ow {
                                t.step(field[o0], field[o1], field[o2], field[o3], field[o4], field[o5], d)
                                field += colStride
                                d += ldo
                            }
                        }
                        t.add(to: dw + kg * ldw + panel * nr, ld: ldw, rows: rows)
                    }
                    kg += mr
                }
            }
        }
    }

    // MARK: Input gradient (scatter)

    /// `dx[field(p) + offset(k)] += Σ_o dy[p, o] · W[o, k]` into the zeroed padded buffer
    /// `dx`, pixel after pixel in order (so every element of `dx` receives its contributions
    /// in increasing pixel order, whatever the tile sizes); `packed` from
    /// ``packReductionPanels``. Used for strided convolutions (stride 1 uses the transposed
    /// convolution instead). `scratch` holds `6 · K` elements.
    static func scatterInputGradient<V: SIMD>(_: V.Type, geometry g: ConvGeometry,
                                              gradOutput dy: UnsafePointer<V.Scalar>, ldo: Int,
                                              panels packed: UnsafePointer<V.Scalar>,
                                              into dx: UnsafeMutablePointer<V.Scalar>,
                                              scratch: UnsafeMutablePointer<V.Scalar>) where V.Scalar: TensorScalar {
        let w = V.scalarCount, nr = 2 * w
        let o = g.outChannels, k = g.reduction, c = g.inChannels
        let kPanels = (k + nr - 1) / nr
        let taps = g.tapOffsets
        let pixels = g.pixels
        var p = 0
        while p < pixels {
            let rows = min(mr, pixels - p), last = p + rows - 1
            let d0 = dy + p * ldo, d1 = dy + min(p + 1, last) * ldo, d2 = dy + min(p + 2, last) * ldo
            let d3 = dy + min(p + 3, last) * ldo, d4 = dy + min(p + 4, last) * ldo, d5 = dy + min(p + 5, last) * ldo
            for kp in 0..<kPanels {
                var t = Tile<V>()
                var wp = packed + kp * o * nr
                for oc in 0..<o {
                    t.step(d0[oc], d1[oc], d2[oc], d3[oc], d4[oc], d5[oc], wp)
                    wp += nr
                }
                t.store(to: scratch + kp * nr, ld: k, rows: rows, cols: min(nr, k - kp * nr), bias: nil)
            }
            for r in 0..<rows {
                let field = dx + g.fieldOffset(pixel: p + r)
                var src = UnsafePointer(scratch + r * k)
                for tap in taps {
                    let dst = field + tap
                    for ch in 0..<c { dst[ch] += src[ch] }
                    src += c
                }
            }
            p += mr
        }
    }
}

/// A `6 × 2w` register tile of accumulators and the operations the kernels need on it.
struct Tile<V: SIMD> where V.Scalar: TensorScalar {
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()

    /// One step of every chain: `c[r] ← fma(a_r, b, c[r])` with `b` the `2w` values at `bp`.
    @inline(__always)
    mutating func step(_ a0: V.Scalar, _ a1: V.Scalar, _ a2: V.Scalar, _ a3: V.Scalar, _ a4: V.Scalar, _ a5: V.Scalar,
                       _ bp: UnsafePointer<V.Scalar>) {
        let b0 = UnsafeRawPointer(bp).loadUnaligned(as: V.self)
        let b1 = UnsafeRawPointer(bp + V.scalarCount).loadUnaligned(as: V.self)
        var x = V(repeating: a0); c00.addProduct(x, b0); c01.addProduct(x, b1)
        x = V(repeating: a1); c10.addProduct(x, b0); c11.addProduct(x, b1)
        x = V(repeating: a2); c20.addProduct(x, b0); c21.addProduct(x, b1)
        x = V(repeating: a3); c30.addProduct(x, b0); c31.addProduct(x, b1)
        x = V(repeating: a4); c40.addProduct(x, b0); c41.addProduct(x, b1)
        x = V(repeating: a5); c50.addProduct(x, b0); c51.addProduct(x, b1)
    }

    /// Row `r` as two vectors.
    @inline(__always)
    func row(_ r: Int) -> (V, V) {
        switch r {
        case 0: return (c00, c01)
        case 1: return (c10, c11)
        case 2: return (c20, c21)
        case 3: return (c30, c31)
        case 4: return (c40, c41)
        default: return (c50, c51)
        }
    }

    /// Writes the first `rows × cols` values (plus `bias[col]` when given) to `dst` with row
    /// stride `ld`.
    @inline(__always)
    func store(to dst: UnsafeMutablePointer<V.Scalar>, ld: Int, rows: Int, cols: Int, bias: UnsafePointer<V.Scalar>?) {
        let w = V.scalarCount
        var b0 = V(), b1 = V()
        if let bias {
            if cols == 2 * w {
                b0 = UnsafeRawPointer(bias).loadUnaligned(as: V.self)
                b1 = UnsafeRawPointer(bias + w).loadUnaligned(as: V.self)
            } else {
                for j in 0..<cols { if j < w { b0[j] = bias[j] } else { b1[j - w] = bias[j] } }
            }
        }
        for r in 0..<rows {
            var (v0, v1) = row(r)
            if bias != nil { v0 += b0; v1 += b1 }
            let d = dst + r * ld
            if cols == 2 * w {
                UnsafeMutableRawPointer(d).storeBytes(of: v0, as: V.self)
                UnsafeMutableRawPointer(d + w).storeBytes(of: v1, as: V.self)
            } else {
                for j in 0..<cols { d[j] = j < w ? v0[j] : v1[j - w] }
            }
        }
    }

    /// `dst[r·ld + j] += tile[r][j]` for the first `rows` rows, all `2w` columns.
    @inline(__always)
    func add(to dst: UnsafeMutablePointer<V.Scalar>, ld: Int, rows: Int) {
        for r in 0..<rows { addRow(r, to: dst + r * ld) }
    }

    /// `dst[j] += tile[r][j]` for all `2w` columns.
    @inline(__always)
    func addRow(_ r: Int, to d: UnsafeMutablePointer<V.Scalar>) {
        let w = V.scalarCount
        let (v0, v1) = row(r)
        let raw = UnsafeMutableRawPointer(d)
        raw.storeBytes(of: raw.loadUnaligned(as: V.self) + v0, as: V.self)
        raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: w * MemoryLayout<V.Scalar>.stride, as: V.self) + v1,
                       toByteOffset: w * MemoryLayout<V.Scalar>.stride, as: V.self)
    }
}
