/// A model's parameters followed by its BatchNorm running statistics (`running_mean`,
/// `running_var`) as one flat vector: the space of loss-landscape's "states" directions
/// (`--dir_type states`), in which a surface also moves the statistics that evaluation-mode
/// BatchNorm normalizes with. With plain parameter directions the statistics stay θ*'s at
/// every point.
///
/// The statistics are one-dimensional, so random directions follow the one-dimensional rule
/// there (`ignore`: zero, `copy`: the statistic itself), as loss-landscape does; directions
/// between checkpoints carry their difference. A point far enough along a copied direction
/// can make a running variance negative, which evaluates to NaN — as in loss-landscape.
/// `num_batches_tracked` is not part of the vector (evaluation does not read it).
public struct StateSpace<Scalar: TensorScalar>: FlatModelSpace {
    /// The parameters' part (the first ``ParameterSpace/dimension`` entries).
    public let parameterSpace: ParameterSpace<Scalar>
    /// The BatchNorm layers whose statistics follow, in the model's layer order.
    public let norms: [BatchNorm<Scalar>]
    public let layout: [ParameterSlot]
    public let dimension: Int

    /// The state space of `model`.
    public init(_ model: Model<Scalar>) {
        parameterSpace = ParameterSpace(model)
        var slots = parameterSpace.layout
        var offset = parameterSpace.dimension
        var norms = [BatchNorm<Scalar>]()
        for buffer in model.namedBuffers {
            guard let bn = buffer.layer as? BatchNorm<Scalar>, buffer.local != "num_batches_tracked" else { continue }
            if norms.last !== bn { norms.append(bn) }
            slots.append(ParameterSlot(name: buffer.name, role: .statistic, shape: [bn.channels], offset: offset, count: bn.channels))
            offset += bn.channels
        }
        self.norms = norms
        layout = slots
        dimension = offset
    }

    /// θ and the statistics as one vector.
    public func values() -> [Scalar] {
        var out = parameterSpace.values()
        out.reserveCapacity(dimension)
        for bn in norms { out += bn.runningMean.storage + bn.runningVar.storage }
        return out
    }

    /// Sets θ (masks re-applied) and the statistics from a vector of length ``dimension``.
    public func setValues<V: TensorScalar>(_ v: [V]) {
        precondition(v.count == dimension, "state vector has \(v.count) entries, the model has \(dimension)")
        parameterSpace.setValues(Array(v[0..<parameterSpace.dimension]))
        var offset = parameterSpace.dimension
        for bn in norms {
            let c = bn.channels
            bn.runningMean = Tensor(shape: [c], storage: v[offset..<(offset + c)].map { Scalar($0) })
            bn.runningVar = Tensor(shape: [c], storage: v[(offset + c)..<(offset + 2 * c)].map { Scalar($0) })
            offset += 2 * c
        }
    }
}

/// A model viewed as one flat vector: its parameters (``ParameterSpace``) or its parameters
/// and BatchNorm statistics (``StateSpace``).
public protocol FlatModelSpace<Scalar> {
    associatedtype Scalar: TensorScalar
    /// Name, role, shape and range of each entry group.
    var layout: [ParameterSlot] { get }
    /// The vector's length.
    var dimension: Int { get }
    /// The model's current vector.
    func values() -> [Scalar]
    /// Writes a vector back into the model.
    func setValues<V: TensorScalar>(_ v: [V])
}

extension ParameterSpace: FlatModelSpace {}
