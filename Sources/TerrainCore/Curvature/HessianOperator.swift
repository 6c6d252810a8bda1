/// The Hessian of the mean loss over a fixed evaluation set, as a linear operator
/// `v ↦ H·v`, and its top eigenvalues by power iteration.
///
/// **Method.** Hessian-vector products are central differences of full-batch gradients
/// computed in **Float64** on a `Double` copy of the model:
/// `H·v ≈ ‖v‖ · (∇L(θ + h·v̂) − ∇L(θ − h·v̂)) / (2h)` with `v̂ = v/‖v‖`. The error is
/// `O(h²)` from third derivatives (zero for quadratic losses such as linear regression with
/// MSE) plus rounding of order `ε₆₄·‖∇L‖ / h`; at the default `h = 1e-5` both are below
/// 1e-8 relative for smooth networks. For ReLU networks the difference quotient is taken
/// between two points `2h` apart, so units whose pre-activation lies within about `h·‖x‖`
/// of zero contribute a kink term; on MNIST-1D MLPs this stays below 1e-6 relative (see
/// docs/curvature.md and the tests). Float32 central differences were rejected: their
/// rounding term `ε₃₂·‖∇L‖/h` swamps `H·v` for the many directions in which curvature is
/// small (random Hutchinson probes), giving errors of order one.
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

    /// Creates the operator at `model`'s current parameters (copied; later changes to
    /// `model` are not seen). Throws when the model cannot be rebuilt from its spec.
    public init(model: Model<Scalar>, data: Dataset<Scalar>, loss: LossKind, step: Double = 1e-5,
                chunkSize: Int = Evaluator.defaultChunkSize) throws {
        self.model = try model.converted(to: Double.self)
        self.data = data.converted(to: Double.self)
        self.loss = loss
        self.step = step
        self.chunkSize = chunkSize
        self.space = ParameterSpace(self.model)
        self.mask = space.masks()
    }

    /// The dimension P of parameter space.
    public var dimension: Int { space.dimension }

    /// The full-batch gradient at the current parameters.
    public func gradient() -> [Double] {
        Evaluator.gradient(model, on: data, loss: loss, chunkSize: chunkSize).gradient
    }

    /// `H·v` for a flat vector `v` of length P (parameter-space order).
    public func product(_ v: [Double]) -> [Double] {
        precondition(v.count == dimension, "vector has \(v.count) entries, parameter space has \(dimension)")
        var u = v
        for i in 0..<u.count { u[i] *= mask[i] }
        let norm = Kernels.dot(u, u).squareRoot()
        guard norm > 0 else { return [Double](repeating: 0, count: dimension) }
        let saved = model.parameters.map(\.value)
        defer { for (p, value) in zip(model.parameters, saved) { p.value = value } }
        let h = step / norm
        space.axpy(h, u)
        let plus = gradient()
        for (p, value) in zip(model.parameters, saved) { p.value = value }
        space.axpy(-h, u)
        let minus = gradient()
        products += 1
        var out = [Double](repeating: 0, count: dimension)
        let scale = 1 / (2 * h)
        for i in 0..<dimension { out[i] = (plus[i] - minus[i]) * scale * mask[i] }
        return out
    }

    /// One eigenpair found by power iteration.
    public struct Eigenpair: Sendable {
        /// The Rayleigh quotient `vᵀHv` at convergence.
        public var value: Double
        /// The unit eigenvector (flat, parameter-space order).
        public var vector: [Double]
        /// Power iterations used.
        public var iterations: Int
        /// Whether the relative change fell below the tolerance.
        public var converged: Bool
    }

    /// The `k` eigenvalues of largest magnitude by power iteration with deflation (each new
    /// iterate is orthogonalized against the eigenvectors already found, as PyHessian does).
    ///
    /// - Parameters:
    ///   - k: how many eigenpairs.
    ///   - maxIterations: the cap per eigenpair.
    ///   - tolerance: stop when `|λ_t − λ_{t−1}| ≤ tolerance·|λ_t|`.
    ///   - seed: the seed of the random start vectors.
    public func topEigenpairs(k: Int = 1, maxIterations: Int = 100, tolerance: Double = 1e-4, seed: UInt64 = 0) -> [Eigenpair] {
        var found = [Eigenpair]()
        for index in 0..<k {
            var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "power-iteration"), stream: UInt64(index))
            var v = (0..<dimension).map { mask[$0] * rng.normal() }
            orthonormalize(&v, against: found)
            var lambda = 0.0, iterations = 0, converged = false
            while iterations < maxIterations {
                iterations += 1
                let w = product(v)
                let next = Kernels.dot(v, w)
                var wn = w
                orthonormalize(&wn, against: found)
                let change = abs(next - lambda)
                lambda = next
                v = wn
                if iterations > 1 && change <= tolerance * abs(lambda) {
                    converged = true
                    break
                }
            }
            found.append(Eigenpair(value: lambda, vector: v, iterations: iterations, converged: converged))
        }
        return found
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
