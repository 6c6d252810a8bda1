/// Terrain's own general matrix multiply, `C = op(A)·op(B)` or `C += op(A)·op(B)`, on
/// row-major matrices, in `Float` or `Double`.
///
/// **The accumulation order is part of the contract.** Every element of `C` is one chain of
/// fused multiply-adds over `k` in increasing order, starting at 0 (or at the element's old
/// value when accumulating):
///
///     c ← c₀;  for p in 0..<k { c ← fma(A[i, p], B[p, j], c) }
///
/// Blocking, packing, tile sizes and vector width only decide *where* a chain runs (which
/// register lane, when it is parked in memory between `k` blocks), never its order or its
/// operations, so the result equals ``reference(transA:transB:m:n:k:a:lda:b:ldb:c:ldc:accumulate:)``
/// bit for bit, on every CPU with FMA, whatever its vector width or vendor. That is what
/// makes Terrain's results independent of the machine that computed them (OpenBLAS picks a
/// different kernel, with a different summation order, per CPU model).
///
/// The driver follows the classic GotoBLAS/BLIS structure: `B` is packed in `kc × nc`
/// blocks of `nr`-column micro-panels, `A` in `mc × kc` blocks of `mr`-row micro-panels, and
/// a register-blocked micro-kernel (`6 × 16` floats or `6 × 8` doubles in AVX2 registers)
/// multiplies one pair of micro-panels. Packing buffers are per thread and reused.
public enum GEMM {
    /// Rows of a micro-tile.
    @usableFromInline static let mr = 6
    /// Depth of a packed block: `kc` steps of the chain run between two visits to memory.
    @usableFromInline static let kcBlock = 256
    /// Rows of `A` packed at once (a multiple of `mr`; the packed block stays in L2).
    @usableFromInline static let mcBlock = 96
    /// Columns of `B` packed at once (a multiple of every `nr`).
    @usableFromInline static let ncBlock = 2048

    /// The oracle: the contract's loop written out with no blocking at all. Slow; for tests.
    public static func reference<T: TensorScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: T = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p]
                    let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    acc = acc.addingProduct(x, y)
                }
                c[i * ldc + j] = acc
            }
        }
    }

    /// `C = op(A)·op(B)` (or `C += …` when `accumulate`) in `Float`. `op(A)` is `m × k`,
    /// `op(B)` is `k × n`; leading dimensions are row strides in elements.
    public static func multiply(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        drive(SIMD8<Float>.self, transA: transA, transB: transB, m: m, n: n, k: k,
              a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    }

    /// `C = op(A)·op(B)` (or `C += …` when `accumulate`) in `Double`.
    public static func multiply(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        c: UnsafeMutablePointer<Double>, ldc: Int, accumulate: Bool
    ) {
        drive(SIMD4<Double>.self, transA: transA, transB: transB, m: m, n: n, k: k,
              a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    }

    /// The blocked driver, for vectors `V` (a micro-tile is `mr` rows × two vectors).
    @inline(__always)
    static func drive<V: SIMD>(
        _: V.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<V.Scalar>, lda: Int, b: UnsafePointer<V.Scalar>, ldb: Int,
        c: UnsafeMutablePointer<V.Scalar>, ldc: Int, accumulate: Bool
    ) where V.Scalar: TensorScalar {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM: negative dimension \(m)×\(n)×\(k)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let nr = 2 * V.scalarCount
        let kcMax = min(kcBlock, k)
        let ncMax = min(ncBlock, (n + nr - 1) / nr * nr)
        let mcMax = min(mcBlock, (m + mr - 1) / mr * mr)
        let workspace = GEMMWorkspace.current
        let packedB = workspace.buffer(V.Scalar.self, slot: 0, count: kcMax * ncMax)
        let packedA = workspace.buffer(V.Scalar.self, slot: 1, count: mcMax * kcMax)
        var jc = 0
        while jc < n {
            let nc = min(ncBlock, n - jc)
            var pc = 0
            while pc < k {
                let kc = min(kcBlock, k - pc)
                let load = accumulate || pc > 0
                packB(V.self, transB: transB, b: b, ldb: ldb, p0: pc, kc: kc, j0: jc, nc: nc, into: packedB)
                var ic = 0
                while ic < m {
                    let mc = min(mcBlock, m - ic)
                    packA(transA: transA, a: a, lda: lda, i0: ic, mc: mc, p0: pc, kc: kc, into: packedA)
                    var jr = 0
                    while jr < nc {
                        let cols = min(nr, nc - jr)
                        let bPanel = UnsafePointer(packedB + jr * kc)
                        var ir = 0
                        while ir < mc {
                            let rows = min(mr, mc - ir)
                            let cTile = c + (ic + ir) * ldc + jc + jr
                            let aPanel = UnsafePointer(packedA + ir * kc)
                            if rows == mr && cols == nr {
                                microkernel(V.self, kc: kc, a: aPanel, b: bPanel, c: cTile, ldc: ldc, load: load)
                            } else {
                                edgeTile(V.self, rows: rows, cols: cols, kc: kc, a: aPanel, b: bPanel,
                                         c: cTile, ldc: ldc, load: load)
                            }
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// Packs `op(A)[i0..<i0+mc, p0..<p0+kc]` as `mr`-row micro-panels, each `kc` steps of
    /// `mr` values (rows past `mc` are zero).
    @inline(__always)
    static func packA<T: TensorScalar>(
        transA: Bool, a: UnsafePointer<T>, lda: Int, i0: Int, mc: Int, p0: Int, kc: Int,
        into out: UnsafeMutablePointer<T>
    ) {
        var ir = 0
        while ir < mc {
            let rows = min(mr, mc - ir)
            let panel = out + ir * kc
            if transA && rows == mr {
                // Six contiguous values per step: one 4-wide and one 2-wide move.
                var src = UnsafeRawPointer(a + p0 * lda + i0 + ir)
                var dst = UnsafeMutableRawPointer(panel)
                let stride = lda * MemoryLayout<T>.stride, four = 4 * MemoryLayout<T>.stride
                for _ in 0..<kc {
                    dst.storeBytes(of: src.loadUnaligned(as: SIMD4<T>.self), as: SIMD4<T>.self)
                    dst.storeBytes(of: src.loadUnaligned(fromByteOffset: four, as: SIMD2<T>.self), toByteOffset: four, as: SIMD2<T>.self)
                    src += stride
                    dst += mr * MemoryLayout<T>.stride
                }
            } else if transA {
                for p in 0..<kc {
                    let src = a + (p0 + p) * lda + i0 + ir
                    let dst = panel + p * mr
                    for r in 0..<rows { dst[r] = src[r] }
                    for r in rows..<mr { dst[r] = 0 }
                }
            } else if rows == mr {
                let s0 = a + (i0 + ir) * lda + p0
                let s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda
                var dst = panel
                for p in 0..<kc {
                    dst[0] = s0[p]; dst[1] = s1[p]; dst[2] = s2[p]
                    dst[3] = s3[p]; dst[4] = s4[p]; dst[5] = s5[p]
                    dst += mr
                }
            } else {
                for r in 0..<mr {
                    if r < rows {
                        let src = a + (i0 + ir + r) * lda + p0
                        for p in 0..<kc { panel[p * mr + r] = src[p] }
                    } else {
                        for p in 0..<kc { panel[p * mr + r] = 0 }
                    }
                }
            }
            ir += mr
        }
    }

    /// Packs `op(B)[p0..<p0+kc, j0..<j0+nc]` as `nr`-column micro-panels, each `kc` steps of
    /// `nr` values (columns past `nc` are zero).
    @inline(__always)
    static func packB<V: SIMD>(
        _: V.Type, transB: Bool, b: UnsafePointer<V.Scalar>, ldb: Int, p0: Int, kc: Int, j0: Int, nc: Int,
        into out: UnsafeMutablePointer<V.Scalar>
    ) where V.Scalar: TensorScalar {
        let w = V.scalarCount, nr = 2 * w
        var jr = 0
        while jr < nc {
            let cols = min(nr, nc - jr)
            let panel = out + jr * kc
            if transB && cols == nr {
                // Column j of the panel is row j0 + jr + j of B's storage: eight rows at a
                // time, each step reads one value of each and writes eight contiguous values.
                var half = 0
                while half < nr {
                    let r0 = b + (j0 + jr + half) * ldb + p0
                    let r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb, r4 = r3 + ldb, r5 = r4 + ldb, r6 = r5 + ldb, r7 = r6 + ldb
                    var dst = panel + half
                    for p in 0..<kc {
                        dst[0] = r0[p]; dst[1] = r1[p]; dst[2] = r2[p]; dst[3] = r3[p]
                        dst[4] = r4[p]; dst[5] = r5[p]; dst[6] = r6[p]; dst[7] = r7[p]
                        dst += nr
                    }
                    half += 8
                }
            } else if transB {
                for j in 0..<nr {
                    if j < cols {
                        let src = b + (j0 + jr + j) * ldb + p0
                        for p in 0..<kc { panel[p * nr + j] = src[p] }
                    } else {
                        for p in 0..<kc { panel[p * nr + j] = 0 }
                    }
                }
            } else if cols == nr {
                for p in 0..<kc {
                    let src = UnsafeRawPointer(b + (p0 + p) * ldb + j0 + jr)
                    let dst = UnsafeMutableRawPointer(panel + p * nr)
                    dst.storeBytes(of: src.loadUnaligned(as: V.self), as: V.self)
                    dst.storeBytes(of: src.loadUnaligned(fromByteOffset: w * MemoryLayout<V.Scalar>.stride, as: V.self),
                                   toByteOffset: w * MemoryLayout<V.Scalar>.stride, as: V.self)
                }
            } else {
                for p in 0..<kc {
                    let src = b + (p0 + p) * ldb + j0 + jr
                    let dst = panel + p * nr
                    for j in 0..<cols { dst[j] = src[j] }
                    for j in cols..<nr { dst[j] = 0 }
                }
            }
            jr += nr
        }
    }

    /// One `mr × 2w` tile: `kc` steps of the chain for each of its elements, in registers.
    @inline(__always)
    static func microkernel<V: SIMD>(
        _: V.Type, kc: Int, a: UnsafePointer<V.Scalar>, b: UnsafePointer<V.Scalar>,
        c: UnsafeMutablePointer<V.Scalar>, ldc: Int, load: Bool
    ) where V.Scalar: TensorScalar {
        let w = V.scalarCount
        @inline(__always) func ld(_ p: UnsafeMutablePointer<V.Scalar>) -> V {
            UnsafeRawPointer(p).loadUnaligned(as: V.self)
        }
        @inline(__always) func st(_ v: V, _ p: UnsafeMutablePointer<V.Scalar>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
        }
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        if load {
            c00 = ld(c); c01 = ld(c + w)
            c10 = ld(c + ldc); c11 = ld(c + ldc + w)
            c20 = ld(c + 2 * ldc); c21 = ld(c + 2 * ldc + w)
            c30 = ld(c + 3 * ldc); c31 = ld(c + 3 * ldc + w)
            c40 = ld(c + 4 * ldc); c41 = ld(c + 4 * ldc + w)
            c50 = ld(c + 5 * ldc); c51 = ld(c + 5 * ldc + w)
        }
        var pa = a, pb = b
        @inline(__always) func step(_ pa: UnsafePointer<V.Scalar>, _ pb: UnsafePointer<V.Scalar>) {
            let b0 = UnsafeRawPointer(pb).loadUnaligned(as: V.self)
            let b1 = UnsafeRawPointer(pb + w).loadUnaligned(as: V.self)
            var x = V(repeating: pa[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = V(repeating: pa[1]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = V(repeating: pa[2]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = V(repeating: pa[3]); c30.addProduct(x, b0); c31.addProduct(x, b1)
            x = V(repeating: pa[4]); c40.addProduct(x, b0); c41.addProduct(x, b1)
            x = V(repeating: pa[5]); c50.addProduct(x, b0); c51.addProduct(x, b1)
        }
        var left = kc
        while left >= 4 {
            step(pa, pb); step(pa + 6, pb + 2 * w); step(pa + 12, pb + 4 * w); step(pa + 18, pb + 6 * w)
            pa += 24; pb += 8 * w; left -= 4
        }
        while left > 0 { step(pa, pb); pa += 6; pb += 2 * w; left -= 1 }
        st(c00, c); st(c01, c + w)
        st(c10, c + ldc); st(c11, c + ldc + w)
        st(c20, c + 2 * ldc); st(c21, c + 2 * ldc + w)
        st(c30, c + 3 * ldc); st(c31, c + 3 * ldc + w)
        st(c40, c + 4 * ldc); st(c41, c + 4 * ldc + w)
        st(c50, c + 5 * ldc); st(c51, c + 5 * ldc + w)
    }

    /// A partial tile at the bottom or right edge: the full micro-kernel on a local tile,
    /// of which only the `rows × cols` part is read from and written back to `C`.
    @inline(never)
    static func edgeTile<V: SIMD>(
        _: V.Type, rows: Int, cols: Int, kc: Int, a: UnsafePointer<V.Scalar>, b: UnsafePointer<V.Scalar>,
        c: UnsafeMutablePointer<V.Scalar>, ldc: Int, load: Bool
    ) where V.Scalar: TensorScalar {
        let nr = 2 * V.scalarCount
        withUnsafeTemporaryAllocation(of: V.Scalar.self, capacity: mr * nr) { tile in
            let t = tile.baseAddress!
            t.update(repeating: 0, count: mr * nr)
            if load {
                for r in 0..<rows { for j in 0..<cols { t[r * nr + j] = c[r * ldc + j] } }
            }
            microkernel(V.self, kc: kc, a: a, b: b, c: t, ldc: nr, load: true)
            for r in 0..<rows { for j in 0..<cols { c[r * ldc + j] = t[r * nr + j] } }
        }
    }
}
