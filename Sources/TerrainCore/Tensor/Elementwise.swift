/// Elementwise passes shared by the activation layers, written as plain loops that the
/// compiler vectorizes (`vmaxps`, `vcmpps`; Swift's generic SIMD masks would compile to
/// per-lane code). Each element is computed on its own, so vector width cannot change a
/// result.
enum Elementwise {
    /// `y[i] = x[i] > 0 ? x[i] : 0` (NaN → 0).
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func relu<T: TensorScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { let v = x[i]; y[i] = v > 0 ? v : 0 }
    }

    /// `out[i] = m[i] > 0 ? g[i] : 0` (the ReLU's gradient given its output `m`).
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func maskWherePositive<T: TensorScalar>(_ g: UnsafePointer<T>, by m: UnsafePointer<T>,
                                                   into out: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { out[i] = m[i] > 0 ? g[i] : 0 }
    }

    /// `y[i] = relu(a[i] + b[i])` — a residual block's join.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func addRelu<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { let v = a[i] + b[i]; y[i] = v > 0 ? v : 0 }
    }

    /// `y[i] = a[i] + b[i]`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func add<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { y[i] = a[i] + b[i] }
    }
}
