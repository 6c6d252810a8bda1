/// The running average of stochastic weight averaging (Izmailov et al. 2018): the iterates
/// θ₁ … θₙ added so far and their mean θ̄ = (θ₁ + … + θₙ)/n.
///
/// The sum is kept in Float64, accumulated in the order the iterates were added, and the mean
/// is `Scalar(sum / n)` (one rounding): so θ̄ equals, bit for bit, the mean of the stored
/// iterates computed in Float64 in the same order and rounded once (numpy's
/// `np.mean(np.stack(iterates).astype(np.float64), axis=0).astype(np.float32)`), not the
/// incremental `θ̄ ← θ̄ + (θ − θ̄)/(n+1)` of PyTorch's `AveragedModel`, whose rounding
/// depends on n. Only parameters are averaged; BatchNorm statistics are recomputed for θ̄
/// (``Evaluator/recomputeBatchNormStatistics(_:on:batchSize:)``).
public struct WeightAverage: Sendable, Equatable {
    /// Iterates added.
    public private(set) var count: Int = 0
    /// Per-parameter Float64 sums, in the model's parameter order.
    public private(set) var sums: [Tensor<Double>]

    /// An empty average for parameters of `shapes`.
    public init(shapes: [[Int]]) {
        sums = shapes.map { Tensor(shape: $0) }
    }

    /// Restores an average from its sums and count (a checkpoint). Throws when the shapes do
    /// not match `shapes` or the count is negative.
    public init(sums: [Tensor<Double>], count: Int, shapes: [[Int]]) throws {
        guard count >= 0, sums.map(\.shape) == shapes else {
            throw TerrainError.invalidCheckpoint("the weight average has \(sums.count) sums of shapes \(sums.map(\.shape)) over \(count) iterates; the model's parameters have shapes \(shapes)")
        }
        self.sums = sums
        self.count = count
    }

    /// Adds the current values of `parameters` (the model's order) as one iterate.
    public mutating func add<Scalar: TensorScalar>(_ parameters: [Parameter<Scalar>]) {
        precondition(parameters.count == sums.count, "weight average: \(parameters.count) parameters, \(sums.count) sums")
        for (i, p) in parameters.enumerated() {
            precondition(p.value.shape == sums[i].shape, "weight average: parameter \(p.name) changed shape")
            let values = p.value.storage
            sums[i].storage.withUnsafeMutableBufferPointer { s in
                for j in 0..<s.count { s[j] += Double(values[j]) }
            }
        }
        count += 1
    }

    /// The mean of the iterates, one tensor per parameter; `nil` before the first iterate.
    public func mean<Scalar: TensorScalar>(as: Scalar.Type = Scalar.self) -> [Tensor<Scalar>]? {
        guard count > 0 else { return nil }
        let n = Double(count)
        return sums.map { s in Tensor(shape: s.shape, storage: s.storage.map { Scalar($0 / n) }) }
    }

    /// Writes the mean into `parameters` (the model's order). Returns false, changing
    /// nothing, before the first iterate.
    @discardableResult
    public func assign<Scalar: TensorScalar>(to parameters: [Parameter<Scalar>]) -> Bool {
        guard let m: [Tensor<Scalar>] = mean() else { return false }
        for (p, v) in zip(parameters, m) { p.value = v }
        return true
    }
}
