/// Where one parameter sits in the flat parameter vector.
public struct ParameterSlot: Sendable, Equatable {
    /// Full PyTorch-style name.
    public var name: String
    /// Weight, bias or normalization.
    public var role: ParameterRole
    /// Tensor shape.
    public var shape: [Int]
    /// First index in the flat vector.
    public var offset: Int
    /// Number of scalars.
    public var count: Int
    /// The index range in the flat vector.
    public var range: Range<Int> { offset ..< offset + count }
}

/// Views a model's parameters as one flat vector θ ∈ ℝᴾ, in the model's fixed parameter
/// order — the geometry that surfaces, interpolation, curvature and pruning build on.
///
/// Vectors are plain `[Double]` or `[Scalar]` arrays laid out as ``layout`` describes.
public struct ParameterSpace<Scalar: TensorScalar> {
    /// The parameters, in order.
    public let parameters: [Parameter<Scalar>]
    /// Name, role, shape and flat range of each parameter.
    public let layout: [ParameterSlot]
    /// P, the total number of scalars.
    public let dimension: Int

    /// The parameter space of `model`.
    public init(_ model: Model<Scalar>) { self.init(model.parameters) }

    /// The parameter space of an ordered list of parameters.
    public init(_ parameters: [Parameter<Scalar>]) {
        self.parameters = parameters
        var offset = 0
        var slots = [ParameterSlot]()
        for p in parameters {
            slots.append(ParameterSlot(name: p.name, role: p.role, shape: p.shape, offset: offset, count: p.count))
            offset += p.count
        }
        layout = slots
        dimension = offset
    }

    /// θ as one vector.
    public func values() -> [Scalar] {
        var out = [Scalar]()
        out.reserveCapacity(dimension)
        for p in parameters { out.append(contentsOf: p.value.storage) }
        return out
    }

    /// ∇θ (the accumulated gradients) as one vector.
    public func gradients() -> [Scalar] {
        var out = [Scalar]()
        out.reserveCapacity(dimension)
        for p in parameters { out.append(contentsOf: p.grad.storage) }
        return out
    }

    /// The masks as one 0/1 vector (1 where a parameter has no mask).
    public func masks() -> [Scalar] {
        var out = [Scalar]()
        out.reserveCapacity(dimension)
        for p in parameters {
            if let m = p.mask { out.append(contentsOf: m.storage) } else { out.append(contentsOf: repeatElement(1, count: p.count)) }
        }
        return out
    }

    /// Sets θ from a vector of length P (masks are re-applied).
    public func setValues<V: TensorScalar>(_ v: [V]) {
        precondition(v.count == dimension, "parameter vector has \(v.count) entries, the model has \(dimension)")
        for (p, slot) in zip(parameters, layout) {
            if V.self == Scalar.self {
                p.value.storage = v.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0).bindMemory(to: Scalar.self)[slot.range]) }
            } else {
                p.value.storage = v[slot.range].map { Scalar($0) }
            }
            p.applyMask()
        }
    }

    /// θ ← θ + α·d, computed in `Scalar` precision (masks are re-applied).
    public func axpy<V: TensorScalar>(_ alpha: Double, _ d: [V]) {
        precondition(d.count == dimension, "direction has \(d.count) entries, the model has \(dimension)")
        for (p, slot) in zip(parameters, layout) {
            p.value.storage.withUnsafeMutableBufferPointer { w in
                for j in 0..<slot.count { w[j] += Scalar(alpha * Double(d[slot.offset + j])) }
            }
            p.applyMask()
        }
    }

    /// The dot product of two flat vectors, accumulated in `Double`.
    public static func dot<V: TensorScalar>(_ a: [V], _ b: [V]) -> Double { Kernels.dot(a, b) }

    /// The Euclidean norm of a flat vector, accumulated in `Double`.
    public static func norm<V: TensorScalar>(_ a: [V]) -> Double { Kernels.dot(a, a).squareRoot() }
}
