/// The shape of a path between two points θ_A (t = 0) and θ_B (t = 1) of parameter space, as
/// mode-connectivity studies parametrize it (Garipov et al. 2018): a straight line, a
/// quadratic Bezier curve with one control point θ_C, or a polygonal chain with one bend θ_C
/// reached at t = ½.
///
/// - `line`:   φ(t) = (1−t)·θ_A + t·θ_B
/// - `bezier`: φ(t) = (1−t)²·θ_A + 2t(1−t)·θ_C + t²·θ_B
/// - `chain`:  φ(t) = (1−2t)·θ_A + 2t·θ_C for t ≤ ½, (2−2t)·θ_C + (2t−1)·θ_B for t > ½
public enum PathShape: String, Codable, Sendable, CaseIterable {
    case line, bezier, chain

    /// Whether the path has a trainable control point θ_C.
    public var hasBend: Bool { self != .line }

    /// The coefficients of θ_A, θ_C and θ_B at `t` (∂φ/∂θ_C is `bend` times the identity).
    /// They sum to 1 for every `t`.
    public func weights(_ t: Double) -> (a: Double, bend: Double, b: Double) {
        switch self {
        case .line: return (1 - t, 0, t)
        case .bezier: return ((1 - t) * (1 - t), 2 * t * (1 - t), t * t)
        case .chain: return t <= 0.5 ? (1 - 2 * t, 2 * t, 0) : (0, 2 - 2 * t, 2 * t - 1)
        }
    }

    /// φ(t), computed in `Double` per coordinate and rounded once to `Scalar`. `bend` is
    /// ignored for a line (and may be `nil` there); every vector must have the same length.
    public func point<Scalar: TensorScalar>(_ t: Double, a: [Scalar], bend: [Scalar]?, b: [Scalar]) -> [Scalar] {
        precondition(a.count == b.count && (bend?.count ?? a.count) == a.count, "path end points and bend differ in length")
        let w = weights(t)
        guard let c = bend, w.bend != 0 else {
            return (0..<a.count).map { Scalar(w.a * Double(a[$0]) + w.b * Double(b[$0])) }
        }
        return (0..<a.count).map { Scalar(w.a * Double(a[$0]) + w.bend * Double(c[$0]) + w.b * Double(b[$0])) }
    }

    /// `count` evenly spaced values of t from 0 to 1 (both included): i/(count−1).
    public static func evenlySpaced(_ count: Int) -> [Double] {
        count <= 1 ? [0] : (0..<count).map { Double($0) / Double(count - 1) }
    }
}

/// Barrier heights along a path evaluated at evenly spaced t (``PathShape``), as the
/// instability analysis defines them (Frankle et al. 2020): the highest value on the path
/// minus the mean of its two end values. `nil` when a value is not finite.
public enum PathBarrier {
    /// max_t v(t) − ½(v(0) + v(1)) for values ordered from t = 0 to t = 1.
    public static func height(_ values: [Double]) -> Double? {
        guard let first = values.first, let last = values.last, values.allSatisfy(\.isFinite) else { return nil }
        return values.max()! - (first + last) / 2
    }
}
