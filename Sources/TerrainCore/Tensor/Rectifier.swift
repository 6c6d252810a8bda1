/// The rectifier passes, one concrete body per element type.
///
/// Swift compiles comparisons and masks of *concrete* SIMD types (`SIMD8<Float>`,
/// `SIMD4<Double>`) to vector instructions (`vmaxps`, `vcmpps`), but generic SIMD code, even
/// once specialized, to one comparison per lane — a tenth of the speed. So these are
/// ``TensorScalar`` requirements with a body per type, like ``TensorScalar/maskedCopy(_:mask:into:count:)``.
/// Semantics everywhere: `relu(v) = v > 0 ? v : +0` (NaN and −0 give +0).
extension Float {
    public static func rectify(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: SIMD8<Float>().replacing(with: v, where: v .> 0), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { let v = x[i]; y[i] = v > 0 ? v : 0; i += 1 }
    }

    public static func addRectify(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: SIMD8<Float>().replacing(with: v, where: v .> 0), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { let v = a[i] + b[i]; y[i] = v > 0 ? v : 0; i += 1 }
    }

    public static func gate(_ g: UnsafePointer<Float>, wherePositive m: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let mv = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD8<Float>().replacing(with: v, where: mv .> 0), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { out[i] = m[i] > 0 ? g[i] : 0; i += 1 }
    }
}

extension Double {
    public static func rectify(_ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, count: Int) {
        var i = 0
        while i + 4 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD4<Double>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: SIMD4<Double>().replacing(with: v, where: v .> 0), as: SIMD4<Double>.self)
            i += 4
        }
        while i < count { let v = x[i]; y[i] = v > 0 ? v : 0; i += 1 }
    }

    public static func addRectify(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, count: Int) {
        var i = 0
        while i + 4 <= count {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD4<Double>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Double>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: SIMD4<Double>().replacing(with: v, where: v .> 0), as: SIMD4<Double>.self)
            i += 4
        }
        while i < count { let v = a[i] + b[i]; y[i] = v > 0 ? v : 0; i += 1 }
    }

    public static func gate(_ g: UnsafePointer<Double>, wherePositive m: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>, count: Int) {
        var i = 0
        while i + 4 <= count {
            let v = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD4<Double>.self)
            let mv = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD4<Double>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD4<Double>().replacing(with: v, where: mv .> 0), as: SIMD4<Double>.self)
            i += 4
        }
        while i < count { out[i] = m[i] > 0 ? g[i] : 0; i += 1 }
    }
}
