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

    /// The 0/1 mask of free coordinates (1 where a parameter is not pruned).
    public var maskValues: [Double] { mask }

    /// The full-batch gradient at the current parameters.
    public func gradient() -> [Double] {
        Evaluator.gradient(model, on: data, loss: loss, chunkSize: chunkSize).gradient
    }

    /// `H·v` for a flat vector `v` of length P (parameter-space order).
    ///
    /// For each chunk of the data, the ReLU / max-pooling pattern is recorded at θ and frozen
    /// for the two gradients at θ ± h·v̂, so the difference quotient sees the network's
    /// Hessian within θ's linear piece (what double backprop computes) rather than jumps of
    /// units switching on or off between the two points.
    public func product(_ v: [Double]) -> [Double] {
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
