/// The Hessian of the mean loss over a fixed evaluation set, as a linear operator
/// `v ↦ H·v`, and its top eigenvalues by power iteration.
///
/// **Method.** Hessian-vector products are central differences of full-batch gradients
/// computed in **Float64** on a `Double` copy of the model, with the activation pattern of
/// ReLUs and max pooling frozen at θ (see ``ActivationPattern``):
/// `H·v ≈ ‖v‖ · (∇L(θ + h·v̂) − ∇L(θ − h·v̂)) / (2h)` with `v̂ = v/‖v‖`. The error is
/// `O(h²)` from third derivatives (zero for quadratic losses such as linear regression with
/// MSE) plus rounding of order `ε₆₄·‖∇L‖ / h`; at the default `h = 1e-5` both are below
/// 1e-8 relative. With the pattern frozen, a ReLU network is smooth between the two points,
/// so units switching between them add nothing (unfrozen, they add an O(1) error that does
/// not shrink with h). Float32 central differences were rejected: their
/// rounding term `ε₃₂·‖∇L‖/h` swamps `H·v` for the many directions in which curvature is
/// small (random Hutchinson probes), giving errors of order one.
///
/// **Fast path.** For networks of linear layers and ReLU/tanh (the MLP family) the products are
/// computed by the R-operator instead, in the model's scalar type with `Double` accumulation,
/// a block of vectors at a time (``BlockHessianProduct``, ``products(_:)``); the
/// finite-difference product stays available as the oracle (``differenceProduct(_:)``) and is
/// used for every other model. ``method`` says which one ``product(_:)`` uses.
///
/// Evaluation mode throughout (BatchNorm running statistics, no dropout), as PyHessian
/// does. Masked (pruned) coordinates are held fixed: directions are projected onto the
/// unmasked subspace.
public final class HessianOperator<Scalar: TensorScalar> {
    /// The `Double` copy of the model the products are computed on; its parameters are
    /// restored after every product.
    public let model: Model<Double>
    /// The fixed evaluation set, in `Double`.
    public let data: Dataset<Double>
    /// The loss.
    public let loss: LossKind
    /// The finite-difference step `h` (a distance in parameter space).
    public let step: Double
    /// Samples per forward pass.
    public let chunkSize: Int
    /// Hessian-vector products computed so far.
    public private(set) var products = 0
    private let space: ParameterSpace<Double>
    private let mask: [Double]
    /// The R-operator engine, when the model is supported and ``Method/automatic`` was asked.
    public let engine: BlockHessianProduct<Scalar>?

    /// How ``product(_:)`` computes `H·v`.
    public enum Method: String, Sendable, Codable, CaseIterable {
        /// The R-operator (``BlockHessianProduct``) when the model supports it, else `differences`.
        case automatic
        /// Float64 central differences of gradients (the oracle; every model).
        case differences
    }

    /// What ``product(_:)`` uses: `"r-operator"` or `"differences"`.
    public var method: String { engine == nil ? "differences" : "r-operator" }

    /// Creates the operator at `model`'s current parameters (copied; later changes to
    /// `model` are not seen). Throws when the model cannot be rebuilt from its spec.
    public init(model: Model<Scalar>, data: Dataset<Scalar>, loss: LossKind, step: Double = 1e-5,
                chunkSize: Int = Evaluator.defaultChunkSize, method: Method = .automatic) throws {
        self.engine = method == .automatic ? BlockHessianProduct(model: model, data: data, loss: loss) : nil
        self.model = try model.converted(to: Double.self)
        self.data = data.converted(to: Double.self)
        self.loss = loss
        self.step = step
        self.chunkSize = chunkSize
        self.space = ParameterSpace(self.model)
        self.mask = space.masks()
        self.freeDimension = mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
    }

    /// The dimension P of parameter space.
    public var dimension: Int { space.dimension }

    /// The number of free (unpruned) coordinates, P_free ≤ P: the dimension of the subspace
    /// the operator acts on (masked coordinates are held fixed). Probes and Lanczos runs live
    /// there, so the SLQ trace and eigenvalue counts scale with P_free, not P.
    public let freeDimension: Int

    /// The parameter layout (names, shapes, flat ranges) the vectors follow.
    public var layout: [ParameterSlot] { space.layout }

    /// The 0/1 mask of free coordinates (1 where a parameter is not pruned).
    public var maskValues: [Double] { mask }

    /// The full-batch gradient at the current parameters.
    public func gradient() -> [Double] {
        Evaluator.gradient(model, on: data, loss: loss, chunkSize: chunkSize).gradient
    }

    /// `H·v` for a flat vector `v` of length P (parameter-space order), by ``method``.
    public func product(_ v: [Double]) -> [Double] {
        engine == nil ? differenceProduct(v) : products([v])[0]
    }

    /// `H·vₖ` for a block of vectors: R-operator passes of ``BlockHessianProduct/passWidth``
    /// vectors (the same bits as one at a time), or one finite-difference product each.
    public func products(_ vectors: [[Double]]) -> [[Double]] {
        guard let engine else { return vectors.map(differenceProduct) }
        let masked = vectors.map { v in
            precondition(v.count == dimension, "vector has \(v.count) entries, parameter space has \(dimension)")
            return (0..<v.count).map { v[$0] * mask[$0] }
        }
        products += vectors.count
        return engine.products(masked).map { hv in (0..<hv.count).map { hv[$0] * mask[$0] } }
    }

    /// `H·v` by Float64 central differences (the oracle of the R-operator path).
    ///
    /// For each chunk of the data, the ReLU / max-pooling pattern is recorded at θ and frozen
    /// for the two gradients at θ ± h·v̂, so the difference quotient sees the network's
    /// Hessian within θ's linear piece (what double backprop computes) rather than jumps of
    /// units switching on or off between the two points.
    public func differenceProduct(_ v: [Double]) -> [Double] {
        precondition(v.count == dimension, "vector has \(v.count) entries, parameter space has \(dimension)")
        var u = v
        for i in 0..<u.count { u[i] *= mask[i] }
        let norm = Kernels.dot(u, u).squareRoot()
        guard norm > 0 else { return [Double](repeating: 0, count: dimension) }
        let h = step / norm
        let centre = model.parameters.map(\.value)
        func shifted(_ sign: Double) -> [Tensor<Double>] {
            zip(model.parameters, space.layout).map { p, slot in
                var t = p.value
                t.storage.withUnsafeMutableBufferPointer { w in
                    for j in 0..<slot.count { w[j] += sign * h * u[slot.offset + j] }
                }
                return t
            }
        }
        let plus = shifted(1), minus = shifted(-1)
        func set(_ values: [Tensor<Double>]) { for (p, t) in zip(model.parameters, values) { p.value = t } }
        defer { set(centre) }
        var out = [Double](repeating: 0, count: dimension)
        var start = 0
        while start < data.count {
            let end = min(start + chunkSize, data.count)
            let x = data.inputs(start..<end)
            let y = chunkSize >= data.count ? data.y : data.y.slice(start..<end)
            set(centre)
            _ = model.forward(x, context: .eval(.record))
            for (values, sign) in [(plus, 1.0), (minus, -1.0)] {
                set(values)
                model.zeroGradients()
                let z = model.forward(x, context: .eval(.frozen))
                let l = loss.evaluate(logits: z, targets: y, normalizer: data.count, wantGradient: true)
                model.backward(l.gradient!)
                for (p, slot) in zip(model.parameters, space.layout) {
                    p.grad.storage.withUnsafeBufferPointer { g in
                        for j in 0..<slot.count { out[slot.offset + j] += sign * g[j] }
                    }
                }
            }
            start = end
        }
        model.zeroGradients()
        products += 1
        let scale = 1 / (2 * h)
        for i in 0..<dimension { out[i] *= scale * mask[i] }
        return out
    }

    /// One eigenpair found by power iteration.
    public struct Eigenpair: Sendable {
        /// The Rayleigh quotient `vᵀHv` of ``vector``.
        public var value: Double
        /// The unit eigenvector estimate (flat, parameter-space order).
        public var vector: [Double]
        /// The residual `‖H·v − λ·v‖` of this pair (same units as λ). For a symmetric H some
        /// eigenvalue lies within it of λ, so it bounds the error of λ (and, divided by the gap
        /// to the next eigenvalue, the angle between `v` and the eigenvector).
        public var residual: Double
        /// Power iterations used.
        public var iterations: Int
        /// Whether the relative change fell below the tolerance.
        public var converged: Bool
    }

    /// The `k` eigenvalues of largest **magnitude** (not the largest algebraic: a negative
    /// eigenvalue larger in size than the k-th positive one is among them) by power iteration
    /// with deflation (each new iterate is orthogonalized against the eigenvectors already
    /// found, as PyHessian does).
    ///
    /// - Parameters:
    ///   - k: how many eigenpairs.
    ///   - maxIterations: the cap per eigenpair.
    ///   - tolerance: stop when `|λ_t − λ_{t−1}| ≤ tolerance·|λ_t|`.
    ///   - seed: the seed of the random start vectors.
    /// - Returns: the pairs by decreasing magnitude |λ| (power iteration usually finds them in
    ///   that order, but a start vector with little weight on the top eigenvector can settle on
    ///   the second first), each with its residual `‖Hv − λv‖` (computed from the last
    ///   product, at no extra cost). A pair that hit `maxIterations` has `converged == false`.
    public func topEigenpairs(k: Int = 1, maxIterations: Int = PowerIteration.defaultMaxIterations,
                              tolerance: Double = PowerIteration.defaultTolerance, seed: UInt64 = 0) -> [Eigenpair] {
        var found = [Eigenpair]()
        for index in 0..<k {
            var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "power-iteration"), stream: UInt64(index))
            var v = (0..<dimension).map { mask[$0] * rng.normal() }
            orthonormalize(&v, against: found)
            var pair = Eigenpair(value: 0, vector: v, residual: .nan, iterations: 0, converged: false)
            while pair.iterations < maxIterations {
                pair.iterations += 1
                let w = product(v)
                let lambda = Kernels.dot(v, w)
                let change = abs(lambda - pair.value)
                // (λ, v) is the pair whose residual w − λv is known exactly; the next iterate is Hv, deflated.
                pair.value = lambda
                pair.vector = v
                var squares = 0.0
                for i in 0..<w.count { squares += (w[i] - lambda * v[i]) * (w[i] - lambda * v[i]) }
                pair.residual = squares.squareRoot()
                if pair.iterations > 1 && change <= tolerance * abs(lambda) {
                    pair.converged = true
                    break
                }
                v = w
                orthonormalize(&v, against: found)
            }
            found.append(pair)
        }
        // Stable, so pairs of equal magnitude keep the order found.
        return found.enumerated().sorted { abs($0.element.value) > abs($1.element.value)
            || (abs($0.element.value) == abs($1.element.value) && $0.offset < $1.offset) }.map(\.element)
    }

    private func orthonormalize(_ v: inout [Double], against pairs: [Eigenpair]) {
        for p in pairs {
            let c = Kernels.dot(v, p.vector)
            for i in 0..<v.count { v[i] -= c * p.vector[i] }
        }
        let n = Kernels.dot(v, v).squareRoot()
        if n > 0 { for i in 0..<v.count { v[i] /= n } }
    }
}

/// The settings of ``HessianOperator/topEigenpairs(k:maxIterations:tolerance:seed:)`` that
/// `terrain evaluate --eigenvalues` and the sweeps' `curvature.eigenvalues` share.
public enum PowerIteration {
    /// Stop when `|λ_t − λ_{t−1}| ≤ 1e-5·|λ_t|`. On the example MLP this leaves λ1..3 within
    /// 4e-5 relative of scipy's `eigsh`; 1e-4 left them off by up to 3.4e-4, with λ3 *above*
    /// its true value (deflation against inexact eigenvectors).
    public static let defaultTolerance = 1e-5
    /// The cap on iterations per eigenpair.
    public static let defaultMaxIterations = 200
}
