import CBLAS
import Foundation

/// The element types a ``Tensor`` can hold: `Float` for training and evaluation (through
/// OpenBLAS `sgemm`) and `Double` for reference computations such as finite-difference
/// gradient checks (through `dgemm`).
///
/// Only the operations whose implementation differs per type are requirements; everything
/// else is written once, generically, and specialized by the compiler.
public protocol TensorScalar: BinaryFloatingPoint, Sendable, Codable, CustomStringConvertible
where RawSignificand: FixedWidthInteger {
    /// The safetensors dtype tag for this type (`"F32"` or `"F64"`).
    static var safetensorsDType: String { get }
    /// Row-major general matrix multiply `C = alpha·op(A)·op(B) + beta·C` through CBLAS,
    /// with `op(A)` of shape `m×k` and `op(B)` of shape `k×n`.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
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
    public static var safetensorsDType: String { "F32" }
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
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
    public static var safetensorsDType: String { "F64" }
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
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
