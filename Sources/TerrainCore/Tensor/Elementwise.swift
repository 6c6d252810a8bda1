/// Elementwise passes shared by the activation layers. Each element is computed on its own,
/// so vector width cannot change a result. The rectifier passes are per-type bodies
/// (Rectifier.swift); additions are plain loops the compiler vectorizes.
enum Elementwise {
    /// `y[i] = x[i] > 0 ? x[i] : 0` (NaN → 0).
    @inline(__always)
    static func relu<T: TensorScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        T.rectify(x, into: y, count: count)
    }

    /// `x[i] = x[i] > 0 ? x[i] : 0` in place.
    @inline(__always)
    static func reluInPlace<T: TensorScalar>(_ x: UnsafeMutablePointer<T>, count: Int) {
        T.rectify(UnsafePointer(x), into: x, count: count)
    }

    /// `out[i] = m[i] > 0 ? g[i] : 0` (the ReLU's gradient given its output `m`).
    @inline(__always)
    static func maskWherePositive<T: TensorScalar>(_ g: UnsafePointer<T>, by m: UnsafePointer<T>,
                                                   into out: UnsafeMutablePointer<T>, count: Int) {
        T.gate(g, wherePositive: m, into: out, count: count)
    }

    /// `y[i] = relu(a[i] + b[i])` — a residual block's join.
    @inline(__always)
    static func addRelu<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        T.addRectify(a, b, into: y, count: count)
    }

    /// `y[i] = a[i] + b[i]`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func add<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { y[i] = a[i] + b[i] }
    }
}
