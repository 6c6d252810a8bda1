/// The register tiles of the convolution kernels: `6 × 2w` accumulators (6 pixels or 6
/// reduction indices × 16 `Float` / 8 `Double` channels), kept in local variables so the
/// compiler holds them in the 16 AVX2 registers for the whole loop.
extension ConvKernels {
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
    /// stride `ld`; with `accumulate`, adds them (bias included) to what `dst` holds instead.
    @inline(__always)
    func store(to dst: UnsafeMutablePointer<V.Scalar>, ld: Int, rows: Int, cols: Int, bias: UnsafePointer<V.Scalar>?,
               accumulate: Bool = false) {
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
                if accumulate {
                    v0 += UnsafeRawPointer(d).loadUnaligned(as: V.self)
                    v1 += UnsafeRawPointer(d + w).loadUnaligned(as: V.self)
                }
                UnsafeMutableRawPointer(d).storeBytes(of: v0, as: V.self)
                UnsafeMutableRawPointer(d + w).storeBytes(of: v1, as: V.self)
            } else if accumulate {
                for j in 0..<cols { d[j] += j < w ? v0[j] : v1[j - w] }
            } else {
                for j in 0..<cols { d[j] = j < w ? v0[j] : v1[j - w] }
            }
        }
    }

    /// Writes row `r`'s first `cols` values (plus `bias[col]` when given) to `d`.
    @inline(__always)
    func storeRow(_ r: Int, to d: UnsafeMutablePointer<V.Scalar>, cols: Int, bias: UnsafePointer<V.Scalar>?) {
        let w = V.scalarCount
        var (v0, v1) = row(r)
        if let bias {
            if cols == 2 * w {
                v0 += UnsafeRawPointer(bias).loadUnaligned(as: V.self)
                v1 += UnsafeRawPointer(bias + w).loadUnaligned(as: V.self)
            } else {
                for j in 0..<cols { if j < w { v0[j] += bias[j] } else { v1[j - w] += bias[j] } }
            }
        }
        if cols == 2 * w {
            UnsafeMutableRawPointer(d).storeBytes(of: v0, as: V.self)
            UnsafeMutableRawPointer(d + w).storeBytes(of: v1, as: V.self)
        } else {
            for j in 0..<cols { d[j] = j < w ? v0[j] : v1[j - w] }
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
