/// Vectorized elementwise passes shared by the activation layers. Each element is computed
/// on its own (no reductions), so SIMD width cannot change a result.
enum Elementwise {
    /// `y[i] = x[i] > 0 ? x[i] : 0` (NaN → 0).
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func relu<T: TensorScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        let zero = SIMD8<T>()
        var i = 0
        while i + 8 <= count {
            var v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<T>.self)
            v.replace(with: zero, where: .!(v .> zero))
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<T>.self)
            i += 8
        }
        while i < count { y[i] = x[i] > 0 ? x[i] : 0; i += 1 }
    }

    /// `out[i] = m[i] > 0 ? g[i] : 0` (the ReLU's gradient given its output `m`).
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func maskWherePositive<T: TensorScalar>(_ g: UnsafePointer<T>, by m: UnsafePointer<T>,
                                                   into out: UnsafeMutablePointer<T>, count: Int) {
        let zero = SIMD8<T>()
        var i = 0
        while i + 8 <= count {
            var v = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<T>.self)
            let y = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD8<T>.self)
            v.replace(with: zero, where: .!(y .> zero))
            UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<T>.self)
            i += 8
        }
        while i < count { out[i] = m[i] > 0 ? g[i] : 0; i += 1 }
    }

    /// `y[i] = relu(a[i] + b[i])` — a residual block's join.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func addRelu<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        let zero = SIMD8<T>()
        var i = 0
        while i + 8 <= count {
            var v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<T>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<T>.self)
            v.replace(with: zero, where: .!(v .> zero))
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<T>.self)
            i += 8
        }
        while i < count { let v = a[i] + b[i]; y[i] = v > 0 ? v : 0; i += 1 }
    }

    /// `y[i] = a[i] + b[i]`.
    @_specialize(where T == Float) @_specialize(where T == Double)
    static func add<T: TensorScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<T>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<T>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<T>.self)
            i += 8
        }
        while i < count { y[i] = a[i] + b[i]; i += 1 }
    }
}
