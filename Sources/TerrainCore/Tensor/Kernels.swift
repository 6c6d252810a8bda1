/// Low-level numeric kernels shared by the layers. Each works on whole buffers so that the
/// generic layer code calls into a specialized loop once per operation; the
/// `@_specialize` attributes give `Float` and `Double` their own compiled bodies even when
/// reached from unspecialized generic code.
public enum Kernels {
    /// `C[m×n] = op(A)·op(B)` (or `C += op(A)·op(B)` when `accumulate`) on row-major
    /// tensors, where `op` transposes when asked. Shapes are checked; the product is ``GEMM``.
    public static func matmul<T: TensorScalar>(
        _ a: Tensor<T>, transposeA: Bool = false,
        _ b: Tensor<T>, transposeB: Bool = false,
        into c: inout Tensor<T>, accumulate: Bool = false
    ) {
        precondition(a.rank == 2 && b.rank == 2 && c.rank == 2, "matmul needs 2-D tensors")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kb && c.shape == [m, n],
                     "matmul shapes \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "") → \(c.shape)")
        gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
             a: a.storage, lda: a.shape[1], b: b.storage, ldb: b.shape[1], c: &c.storage, ldc: n,
             accumulate: accumulate)
    }

    /// Row-major GEMM on raw arrays (see ``GEMM`` for the summation order).
    @inlinable
    public static func gemm<T: TensorScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool
    ) {
        T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
               c: c, ldc: ldc, accumulate: accumulate)
    }

    /// `y += alpha · x` elementwise.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func axpy<T: TensorScalar>(_ alpha: T, _ x: [T], _ y: inout [T]) {
        precondition(x.count == y.count, "axpy length mismatch \(x.count) vs \(y.count)")
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for i in 0..<xp.count { yp[i] += alpha * xp[i] }
            }
        }
    }

    /// `x *= y` elementwise.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func multiply<T: TensorScalar>(_ x: inout [T], by y: [T]) {
        precondition(x.count == y.count, "multiply length mismatch \(x.count) vs \(y.count)")
        y.withUnsafeBufferPointer { yp in
            x.withUnsafeMutableBufferPointer { xp in
                for i in 0..<xp.count { xp[i] *= yp[i] }
            }
        }
    }

    /// Sets `x[i]` to +0 wherever `mask[i]` is zero (pruning masks: exactly zero, not the −0
    /// a multiplication leaves on negative values).
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func zeroWhereMaskIsZero<T: TensorScalar>(_ x: inout [T], mask: [T]) {
        precondition(x.count == mask.count, "mask length mismatch \(x.count) vs \(mask.count)")
        mask.withUnsafeBufferPointer { m in
            x.withUnsafeMutableBufferPointer { xp in
                guard let xb = xp.baseAddress, let mb = m.baseAddress else { return }
                T.zeroWhereMaskIsZero(xb, mask: mb, count: xp.count)
            }
        }
    }

    /// Adds `bias[j]` to every row of a row-major `[rows, bias.count]` matrix.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func addRowBias<T: TensorScalar>(_ m: inout [T], _ bias: [T]) {
        let n = bias.count
        guard n > 0 else { return }
        bias.withUnsafeBufferPointer { bp in
            m.withUnsafeMutableBufferPointer { mp in
                var r = 0
                while r < mp.count {
                    for j in 0..<n { mp[r + j] += bp[j] }
                    r += n
                }
            }
        }
    }

    /// Adds the column sums of a row-major `[rows, out.count]` matrix into `out`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func accumulateColumnSums<T: TensorScalar>(_ m: [T], into out: inout [T]) {
        let n = out.count
        guard n > 0 else { return }
        m.withUnsafeBufferPointer { mp in
            out.withUnsafeMutableBufferPointer { op in
                var r = 0
                while r < mp.count {
                    for j in 0..<n { op[j] += mp[r + j] }
                    r += n
                }
            }
        }
    }

    /// The dot product accumulated in `Double`, whatever the element type.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func dot<T: TensorScalar>(_ x: [T], _ y: [T]) -> Double {
        precondition(x.count == y.count, "dot length mismatch \(x.count) vs \(y.count)")
        return x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                // Four independent Double accumulators keep the loop vectorizable and the
                // result independent of anything but the data.
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = 0
                let n = xp.count
                while i + 4 <= n {
                    s0 += Double(xp[i]) * Double(yp[i])
                    s1 += Double(xp[i + 1]) * Double(yp[i + 1])
                    s2 += Double(xp[i + 2]) * Double(yp[i + 2])
                    s3 += Double(xp[i + 3]) * Double(yp[i + 3])
                    i += 4
                }
                while i < n { s0 += Double(xp[i]) * Double(yp[i]); i += 1 }
                return (s0 + s1) + (s2 + s3)
            }
        }
    }

    /// Reorders a `[a, b, inner]` block to `[b, a, inner]` (used to move between
    /// `[N, C, spatial]` and `[C, N, spatial]` layouts).
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func swapLeadingAxes<T: TensorScalar>(_ x: [T], a: Int, b: Int, inner: Int) -> [T] {
        precondition(x.count == a * b * inner)
        return [T](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { src in
                for i in 0..<a {
                    for j in 0..<b {
                        let s = (i * b + j) * inner
                        let d = (j * a + i) * inner
                        for t in 0..<inner { out[d + t] = src[s + t] }
                    }
                }
            }
            initialized = x.count
        }
    }
}
