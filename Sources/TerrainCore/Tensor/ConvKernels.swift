/// Convolution as an *implicit* GEMM over channels-last data: the rows of the product are
/// output pixels, the columns output channels, and the reduction runs over the receptive
/// field `(ky, kx, c)`, read straight from the input instead of from an im2col copy. The
/// register tile is the same `6 × 2w` as ``GEMM``'s (6 pixels × 16 `Float` channels in AVX2
/// registers).
///
/// The kernels walk the batch one image at a time: each image is copied into a small
/// zero-padded workspace (it stays in L2), so every receptive field is in bounds and a
/// reduction index is a fixed offset from the field's corner. Pixel tiles never span two
/// images.
///
/// Summation order (part of the contract, as for ``GEMM``): an output element is one chain
/// of fused multiply-adds over the reduction index in increasing `(ky, kx, c)` order starting
/// from zero (padding zeros multiplied in), and the bias is added after the chain; a
/// weight-gradient element is, for each image in batch order, one chain over that image's
/// output pixels in raster order, the per-image sums added in batch order; a scattered input
/// gradient receives its contributions in increasing output-pixel order. Tile sizes and
/// vector widths do not enter. ``ConvReference`` spells the same loops out naively; tests
/// compare the two bit for bit.
enum ConvKernels {
    /// Output pixels per register tile.
    static let mr = 6

    /// Elements of the per-image padded workspace the kernels need for `g`.
    static func workspaceCount(_ g: ConvGeometry) -> Int { g.paddedH * g.paddedW * g.inChannels }

    /// Copies image `n` of `x` (`[N, H, W, C]`, or `[N, C, H, W]` when `channelsFirst`) into
    /// the interior of the padded workspace. The border is zeroed when `zeroBorder`.
    @inline(__always)
    static func padImage<S: TensorScalar>(_ g: ConvGeometry, _ x: UnsafePointer<S>, image n: Int, channelsFirst: Bool,
                                          into ws: UnsafeMutablePointer<S>, zeroBorder: Bool) {
        ChannelsLast.pad(x + n * g.inH * g.inW * g.inChannels, channelsFirst: channelsFirst, n: 1, h: g.inH, w: g.inW,
                         c: g.inChannels, padH: g.padH, padW: g.padW, into: ws, zeroBorder: zeroBorder)
    }

    /// The workspace offset of every output pixel's receptive field, raster order.
    static func fieldOffsets(_ g: ConvGeometry) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(g.outH * g.outW)
        for oy in 0..<g.outH {
            for ox in 0..<g.outW { out.append((oy * g.strideH * g.paddedW + ox * g.strideW) * g.inChannels) }
        }
        return out
    }

    // MARK: Forward

    /// `y[p, o] = chain over k of x[field(p) + offset(k)] · W[o, k]`, plus `bias[o]`, then
    /// `v > 0 ? v : 0` when `relu`, for every output pixel. `packed` is the output of
    /// ``packWeights(_:outChannels:inChannels:kernelH:kernelW:nr:scale:into:)``; `y` has row stride
    /// `ldy ≥ outChannels`; `workspace` holds ``workspaceCount(_:)`` elements. With
    /// `accumulate` (and no `relu`), `y[p, o] += v` instead: the finished value added once.
    static func forward<V: SIMD>(_: V.Type, geometry g: ConvGeometry, input x: UnsafePointer<V.Scalar>, channelsFirst: Bool,
                                 packed: UnsafePointer<V.Scalar>, bias: UnsafePointer<V.Scalar>?, relu: Bool,
                                 output y: UnsafeMutablePointer<V.Scalar>, ldy: Int,
                                 workspace ws: UnsafeMutablePointer<V.Scalar>, accumulate: Bool = false) where V.Scalar: TensorScalar {
        precondition(!(relu && accumulate), "a rectified convolution cannot accumulate")
        let nr = 2 * V.scalarCount
        let o = g.outChannels, k = g.reduction
        let panels = (o + nr - 1) / nr
        let plane = g.outH * g.outW
        let offsets = g.reductionOffsets, fields = fieldOffsets(g)
        offsets.withUnsafeBufferPointer { ob in
            fields.withUnsafeBufferPointer { fb in
                let off = ob.baseAddress!, field = fb.baseAddress!
                for n in 0..<g.batch {
                    padImage(g, x, image: n, channelsFirst: channelsFirst, into: ws, zeroBorder: n == 0)
                    let image = y + n * plane * ldy
                    var p = 0
                    while p < plane {
                        let rows = min(mr, plane - p), last = p + rows - 1
                        let f0 = ws + field[p], f1 = ws + field[min(p + 1, last)], f2 = ws + field[min(p + 2, last)]
                        let f3 = ws + field[min(p + 3, last)], f4 = ws + field[min(p + 4, last)], f5 = ws + field[min(p + 5, last)]
                        for panel in 0..<panels {
                            let t = gatherTile(V.self, f0, f1, f2, f3, f4, f5, offsets: off, count: k, b: packed + panel * k * nr)
                            t.store(to: image + p * ldy + panel * nr, ld: ldy, rows: rows, cols: min(nr, o - panel * nr),
                                    bias: bias.map { $0 + panel * nr }, accumulate: accumulate)
                        }
                        if relu { for r in 0..<rows { Elementwise.reluInPlace(image + (p + r) * ldy, count: o) } }
                        p += mr
                    }
                }
            }
        }
    }

    // MARK: Weight gradient

    /// `dW[k, o] += Σ_n (chain over image n's pixels of x[field(p) + offset(k)] · dy[p, o])`,
    /// into `dw[k · ldw + o]` (`ldw` a multiple of `2w`). `dy` has row stride `ldo`, a
    /// multiple of `2w` covering every channel panel (pad the gradient when `outChannels` is
    /// not); `workspace` holds ``workspaceCount(_:)`` elements.
    static func weightGradient<V: SIMD>(_: V.Type, geometry g: ConvGeometry, input x: UnsafePointer<V.Scalar>, channelsFirst: Bool,
                                        gradOutput dy: UnsafePointer<V.Scalar>, ldo: Int,
                                        into dw: UnsafeMutablePointer<V.Scalar>, ldw: Int,
                                        workspace ws: UnsafeMutablePointer<V.Scalar>) where V.Scalar: TensorScalar {
        let nr = 2 * V.scalarCount
        let k = g.reduction, panels = (g.outChannels + nr - 1) / nr
        let offsets = g.reductionOffsets
        let (oh, ow) = (g.outH, g.outW)
        let rowStride = g.strideH * g.paddedW * g.inChannels, colStride = g.strideW * g.inChannels
        offsets.withUnsafeBufferPointer { ob in
            let off = ob.baseAddress!
            for n in 0..<g.batch {
                padImage(g, x, image: n, channelsFirst: channelsFirst, into: ws, zeroBorder: n == 0)
                let dyImage = dy + n * oh * ow * ldo
                var kg = 0
                while kg < k {
                    let rows = min(mr, k - kg), lastK = kg + rows - 1
                    let o0 = off[kg], o1 = off[min(kg + 1, lastK)], o2 = off[min(kg + 2, lastK)]
                    let o3 = off[min(kg + 3, lastK)], o4 = off[min(kg + 4, lastK)], o5 = off[min(kg + 5, lastK)]
                    for panel in 0..<panels {
                        let t = imageTile(V.self, image: UnsafePointer(ws), rows: oh, rowStride: rowStride, columns: ow,
                                          columnStride: colStride, offsets: (o0, o1, o2, o3, o4, o5),
                                          b: dyImage + panel * nr, ldb: ldo)
                        t.add(to: dw + kg * ldw + panel * nr, ld: ldw, rows: rows)
                    }
                    kg += mr
                }
            }
        }
    }

    // MARK: Input gradient (scatter)

    /// `dx[field(p) + offset(k)] += chain over o of dy[p, o] · W[o, k]`, pixel after pixel in
    /// order (every element of `dx` receives its contributions in increasing pixel order,
    /// whatever the tile sizes), into the channels-last `dx` `[N, H, W, C]` (padding
    /// discarded); `packed` from ``packReductionPanels(_:outChannels:inChannels:kernelH:kernelW:nr:into:)``.
    /// Used for strided convolutions (stride 1 uses the transposed convolution instead).
    /// `workspace` holds ``workspaceCount(_:)`` elements, `scratch` `6 · K`.
    static func scatterInputGradient<V: SIMD>(_: V.Type, geometry g: ConvGeometry,
                                              gradOutput dy: UnsafePointer<V.Scalar>, ldo: Int,
                                              panels packed: UnsafePointer<V.Scalar>,
                                              into dx: UnsafeMutablePointer<V.Scalar>,
                                              workspace ws: UnsafeMutablePointer<V.Scalar>,
                                              scratch: UnsafeMutablePointer<V.Scalar>) where V.Scalar: TensorScalar {
        let nr = 2 * V.scalarCount
        let o = g.outChannels, k = g.reduction, c = g.inChannels
        let kPanels = (k + nr - 1) / nr
        let taps = g.tapOffsets, fields = fieldOffsets(g)
        let plane = g.outH * g.outW
        for n in 0..<g.batch {
            ws.update(repeating: 0, count: workspaceCount(g))
            let dyImage = dy + n * plane * ldo
            var p = 0
            while p < plane {
                let rows = min(mr, plane - p), last = p + rows - 1
                let d0 = dyImage + p * ldo, d1 = dyImage + min(p + 1, last) * ldo, d2 = dyImage + min(p + 2, last) * ldo
                let d3 = dyImage + min(p + 3, last) * ldo, d4 = dyImage + min(p + 4, last) * ldo
                let d5 = dyImage + min(p + 5, last) * ldo
                for kp in 0..<kPanels {
                    let t = rowsTile(V.self, d0, d1, d2, d3, d4, d5, count: o, b: packed + kp * o * nr)
                    t.store(to: scratch + kp * nr, ld: k, rows: rows, cols: min(nr, k - kp * nr), bias: nil)
                }
                for r in 0..<rows {
                    let field = ws + fields[p + r]
                    var src = UnsafePointer(scratch + r * k)
                    for tap in taps {
                        let dst = field + tap
                        for ch in 0..<c { dst[ch] += src[ch] }
                        src += c
                    }
                }
                p += mr
            }
            ChannelsLast.unpad(ws, n: 1, h: g.inH, w: g.inW, c: c, padH: g.padH, padW: g.padW, channelsFirst: false,
                               into: dx + n * g.inH * g.inW * c)
        }
    }
}
