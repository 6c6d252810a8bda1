import Foundation

/// The element types a ``Tensor`` can hold: `Float` for training and evaluation and `Double`
/// for reference computations such as finite-difference gradient checks and curvature. Both
/// multiply matrices through Terrain's own ``GEMM``, whose summation order is fixed.
///
/// Only the operations whose implementation differs per type are requirements; everything
/// else is written once, generically, and specialized by the compiler.
public protocol TensorScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, CustomStringConvertible
where RawSignificand: FixedWidthInteger {
    /// The vector the kernels compute with: one 256-bit AVX2 register (8 `Float`s, 4
    /// `Double`s).
    associatedtype KernelVector: SIMD where KernelVector.Scalar == Self
    /// The safetensors dtype tag for this type (`"F32"` or `"F64"`).
    static var safetensorsDType: String { get }
    /// Row-major general matrix multiply `C = op(A)·op(B)` (or `C += op(A)·op(B)` when
    /// `accumulate`), with `op(A)` of shape `m×k` and `op(B)` of shape `k×n`, through ``GEMM``.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int, accumulate: Bool)
    /// The natural exponential.
    static func exp(_ x: Self) -> Self
    /// The natural logarithm.
    static func log(_ x: Self) -> Self
    /// The hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
    /// The error function.
    static func erf(_ x: Self) -> Self
    /// Sets `x[i]` to +0 wherever `mask[i]` is zero, for `i < count` (pruning masks).
    /// Concrete per type (SIMD) so that it costs little next to the GEMMs of a step.
    static func zeroWhereMaskIsZero(_ x: UnsafeMutablePointer<Self>, mask: UnsafePointer<Self>, count: Int)
    /// `out[i] = mask[i] != 0 ? x[i] : +0` for `i < count`.
    static func maskedCopy(_ x: UnsafePointer<Self>, mask: UnsafePointer<Self>, into out: UnsafeMutablePointer<Self>, count: Int)
}

extension Float: TensorScalar {
    public typealias KernelVector = SIMD8<Float>
    public static var safetensorsDType: String { "F32" }
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        GEMM.multiply(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, accumulate: accumulate)
    }
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
    @inlinable public static func erf(_ x: Float) -> Float { Foundation.erff(x) }
    public static func zeroWhereMaskIsZero(_ x: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        maskedCopy(x, mask: mask, into: x, count: count)
    }
    public static func maskedCopy(_ x: UnsafePointer<Float>, mask: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let zero = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let m = UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: v.replacing(with: zero, where: m .== zero), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            out[i] = mask[i] != 0 ? x[i] : 0
            i += 1
        }
    }
}

extension Double: TensorScalar {
    public typealias KernelVector = SIMD4<Double>
    public static var safetensorsDType: String { "F64" }
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        c: UnsafeMutablePointer<Double>, ldc: Int, accumulate: Bool
    ) {
        GEMM.multiply(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      c: c, ldc: ldc, accumulate: accumulate)
    }
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
    public static func zeroWhereMaskIsZero(_ x: UnsafeMutablePointer<Double>, mask: UnsafePointer<Double>, count: Int) {
        maskedCopy(x, mask: mask, into: x, count: count)
    }
    public static func maskedCopy(_ x: UnsafePointer<Double>, mask: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>, count: Int) {
        let zero = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Double>.self)
            let m = UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD8<Double>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: v.replacing(with: zero, where: m .== zero), as: SIMD8<Double>.self)
            i += 8
        }
        while i < count {
            out[i] = mask[i] != 0 ? x[i] : 0
            i += 1
        }
    }
}
