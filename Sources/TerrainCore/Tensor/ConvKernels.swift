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
        let o = g.outChannels, k = g.reduction
        let panels = (o + nr - 1) / nr
        let offsets = g.reductionOffsets
        let pixels = g.pixels
        offsets.withUnsafeBufferPointer { ob in
            let off = ob.baseAddress!
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
                    let t = gatherTile(V.self, f0, f1, f2, f3, f4, f5, offsets: off, count: k, b: packed + panel * k * nr)
                    t.store(to: y + p * ldy + panel * nr, ld: ldy, rows: rows, cols: min(nr, o - panel * nr),
                            bias: bias.map { $0 + panel * nr })
                }
                p += mr
            }
        }
    }

    /// `tile[r][j] = chain over i < count of fr[offsets[i]] · b[i·2w + j]`: six gathered rows
    /// times a packed panel, in one register-resident loop.
    @inline(__always)
    static func gatherTile<V: SIMD>(_: V.Type, _ f0: UnsafePointer<V.Scalar>, _ f1: UnsafePointer<V.Scalar>,
                                    _ f2: UnsafePointer<V.Scalar>, _ f3: UnsafePointer<V.Scalar>,
                                    _ f4: UnsafePointer<V.Scalar>, _ f5: UnsafePointer<V.Scalar>,
                                    offsets: UnsafePointer<Int>, count: Int, b: UnsafePointer<V.Scalar>) -> Tile<V>
    where V.Scalar: TensorScalar {
        let w = V.scalarCount
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var bp = b
        for i in 0..<count {
            let o = offsets[i]
            let b0 = UnsafeRawPointer(bp).loadUnaligned(as: V.self)
            let b1 = UnsafeRawPointer(bp + w).loadUnaligned(as: V.self)
            var a = V(repeating: f0[o]); c00.addProduct(a, b0); c01.addProduct(a, b1)
            a = V(repeating: f1[o]); c10.addProduct(a, b0); c11.addProduct(a, b1)
            a = V(repeating: f2[o]); c20.addProduct(a, b0); c21.addProduct(a, b1)
            a = V(repeating: f3[o]); c30.addProduct(a, b0); c31.addProduct(a, b1)
            a = V(repeating: f4[o]); c40.addProduct(a, b0); c41.addProduct(a, b1)
            a = V(repeating: f5[o]); c50.addProduct(a, b0); c51.addProduct(a, b1)
            bp += 2 * w
        }
        return Tile(c00: c00, c01: c01, c10: c10, c11: c11, c20: c20, c21: c21,
                    c30: c30, c31: c31, c40: c40, c41: c41, c50: c50, c51: c51)
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
                        let t = imageTile(V.self, image: image, rows: oh, rowStride: sh * rowStride, columns: ow,
                                          columnStride: colStride, offsets: (o0, o1, o2, o3, o4, o5),
                                          b: dyImage + panel * nr, ldb: ldo)
                        t.add(to: dw + kg * ldw + panel * nr, ld: ldw, rows: rows)
                    }
                    kg += mr
                }
            }
        }
    }

    /// `tile[r][j] = chain over the image's output pixels (raster order) of
    /// field(pixel)[offset_r] · b[pixel·ldb + j]`, in one register-resident loop nest.
    @inline(__always)
    static func imageTile<V: SIMD>(_: V.Type, image: UnsafePointer<V.Scalar>, rows: Int, rowStride: Int, columns: Int,
                                   columnStride: Int, offsets: (Int, Int, Int, Int, Int, Int),
                                   b: UnsafePointer<V.Scalar>, ldb: Int) -> Tile<V> where V.Scalar: TensorScalar {
        let w = V.scalarCount
        let (o0, o1, o2, o3, o4, o5) = offsets
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var bp = b
        for r in 0..<rows {
            var field = image + r * rowStride
            for _ in 0..<columns {
                let b0 = UnsafeRawPointer(bp).loadUnaligned(as: V.self)
                let b1 = UnsafeRawPointer(bp + w).loadUnaligned(as: V.self)
                var a = V(repeating: field[o0]); c00.addProduct(a, b0); c01.addProduct(a, b1)
                a = V(repeating: field[o1]); c10.addProduct(a, b0); c11.addProduct(a, b1)
                a = V(repeating: field[o2]); c20.addProduct(a, b0); c21.addProduct(a, b1)
                a = V(repeating: field[o3]); c30.addProduct(a, b0); c31.addProduct(a, b1)
                a = V(repeating: field[o4]); c40.addProduct(a, b0); c41.addProduct(a, b1)
                a = V(repeating: field[o5]); c50.addProduct(a, b0); c51.addProduct(a, b1)
                field += columnStride
                bp += ldb
            }
        }
        return Tile(c00: c00, c01: c01, c10: c10, c11: c11, c20: c20, c21: c21,
                    c30: c30, c31: c31, c40: c40, c41: c41, c50: c50, c51: c51)
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
                let t = rowsTile(V.self, d0, d1, d2, d3, d4, d5, count: o, b: packed + kp * o * nr)
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

extension ConvKernels {
    /// `tile[r][j] = chain over i < count of ar[i] · b[i·2w + j]`: six contiguous rows times a
    /// packed panel (the input-gradient product `dy · Wᵀ`).
    @inline(__always)
    static func rowsTile<V: SIMD>(_: V.Type, _ a0: UnsafePointer<V.Scalar>, _ a1: UnsafePointer<V.Scalar>,
                                  _ a2: UnsafePointer<V.Scalar>, _ a3: UnsafePointer<V.Scalar>,
                                  _ a4: UnsafePointer<V.Scalar>, _ a5: UnsafePointer<V.Scalar>,
                                  count: Int, b: UnsafePointer<V.Scalar>) -> Tile<V> where V.Scalar: TensorScalar {
        let w = V.scalarCount
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var bp = b
        for i in 0..<count {
            let b0 = UnsafeRawPointer(bp).loadUnaligned(as: V.self)
            let b1 = UnsafeRawPointer(bp + w).loadUnaligned(as: V.self)
            var a = V(repeating: a0[i]); c00.addProduct(a, b0); c01.addProduct(a, b1)
            a = V(repeating: a1[i]); c10.addProduct(a, b0); c11.addProduct(a, b1)
            a = V(repeating: a2[i]); c20.addProduct(a, b0); c21.addProduct(a, b1)
            a = V(repeating: a3[i]); c30.addProduct(a, b0); c31.addProduct(a, b1)
            a = V(repeating: a4[i]); c40.addProduct(a, b0); c41.addProduct(a, b1)
            a = V(repeating: a5[i]); c50.addProduct(a, b0); c51.addProduct(a, b1)
            bp += 2 * w
        }
        return Tile(c00: c00, c01: c01, c10: c10, c11: c11, c20: c20, c21: c21,
                    c30: c30, c31: c31, c40: c40, c41: c41, c50: c50, c51: c51)
    }
}

/// A `6 × 2w` register tile of accumulators and the operations the kernels need on it.
struct Tile<V: SIMD> where V.Scalar: TensorScalar {
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()

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
