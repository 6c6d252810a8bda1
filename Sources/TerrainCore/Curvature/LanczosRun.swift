/// One Lanczos run (full reorthogonalization, twice) as a small state machine: it asks for
/// the product of the operator with ``pending`` and is fed the result, so that several runs
/// can share one block product per step (``HessianOperator/lanczosRuns(steps:seed:indices:)``)
/// with exactly the arithmetic of a run on its own.
public struct LanczosRun: Sendable {
    /// The Lanczos vectors so far (orthonormal).
    public private(set) var basis: [[Double]] = []
    /// The tridiagonal's diagonal αⱼ and off-diagonal βⱼ.
    public private(set) var alpha: [Double] = [], beta: [Double] = []
    /// The number of steps asked for (at most the dimension).
    public let steps: Int
    /// Whether the run has finished (all steps, or an invariant subspace found).
    public private(set) var finished: Bool

    /// A run of `steps` steps from `start` (normalized here); finished at once when `start`
    /// is zero or `steps` is 0.
    public init(start: [Double], steps: Int) {
        self.steps = min(steps, start.count)
        var v = start
        let n0 = Kernels.dot(v, v).squareRoot()
        finished = !(n0 > 0) || self.steps <= 0
        guard !finished else { return }
        for i in 0..<v.count { v[i] /= n0 }
        basis = [v]
    }

    /// The vector whose product the run needs next (nil once finished).
    public var pending: [Double]? { finished ? nil : basis.last }

    /// Feeds `w = A·pending`.
    public mutating func feed(_ product: [Double]) {
        precondition(!finished, "Lanczos run fed after it finished")
        var w = product
        let j = basis.count - 1
        let a = Kernels.dot(w, basis[j])
        alpha.append(a)
        for _ in 0..<2 {
            for q in basis {
                let c = Kernels.dot(w, q)
                for i in 0..<w.count { w[i] -= c * q[i] }
            }
        }
        let b = Kernels.dot(w, w).squareRoot()
        if j == steps - 1 || b < 1e-12 * max(1, abs(a)) { finished = true; return }
        beta.append(b)
        for i in 0..<w.count { w[i] /= b }
        basis.append(w)
    }

    /// The Ritz values θₖ (ascending) and weights τₖ (squared first components of the
    /// tridiagonal's eigenvectors, summing to 1).
    public var ritz: (values: [Double], weights: [Double]) {
        guard !alpha.isEmpty else { return ([], []) }
        let (values, vectors) = SymmetricEigen.tridiagonal(diagonal: alpha, offDiagonal: beta)
        return (values, vectors.map { $0[0] * $0[0] })
    }

    /// Runs every run to completion, one block product per step for the runs still going.
    public static func runAll(_ runs: inout [LanczosRun], products: ([[Double]]) -> [[Double]]) {
        while true {
            let active = runs.indices.filter { !runs[$0].finished }
            guard !active.isEmpty else { return }
            let out = products(active.map { runs[$0].pending! })
            for (i, w) in zip(active, out) { runs[i].feed(w) }
        }
    }
}

extension HessianOperator {
    /// Several SLQ runs (probe indices `indices`) in lockstep: each step multiplies the runs
    /// still going as one block (``products(_:)``). Each run's Ritz values and weights are
    /// those ``lanczos(steps:seed:index:)`` returns for its index, bit for bit.
    public func lanczosRuns(steps: Int, seed: UInt64, indices: [UInt64]) -> [(values: [Double], weights: [Double])] {
        var runs = indices.map { LanczosRun(start: rademacher(seed: seed, index: $0), steps: steps) }
        LanczosRun.runAll(&runs) { self.products($0) }
        return runs.map(\.ritz)
    }

    /// λ_min, the smallest *algebraic* eigenvalue (the most negative one at a saddle), as the
    /// smallest Ritz value of a Lanczos run; the extreme Ritz values converge first, from
    /// inside the spectrum (λ_min is approached from above).
    public func smallestEigenvalue(steps: Int = 60, seed: UInt64 = 0) -> Double {
        lanczos(steps: steps, seed: seed, index: 0).values.min() ?? 0
    }

    /// Hutchinson samples `vᵀHv` for Rademacher probes `indices`, the products in blocks;
    /// each equals ``hutchinsonSample(seed:index:)`` for its index.
    public func hutchinsonSamples(seed: UInt64, indices: [UInt64]) -> [Double] {
        let probes = indices.map { rademacher(seed: seed, index: $0) }
        return zip(probes, products(probes)).map { Kernels.dot($0, $1) }
    }
}

extension SpectralDensity {
    /// The spectral mass below zero: the average over runs of `Σ_{θₖ < −t} τₖ`, the fraction of
    /// eigenvalues estimated negative (× P_free for a count); zero without runs.
    ///
    /// `t = relativeThreshold × max |θ|` over all runs (default 1 % of the spectral radius):
    /// a network's Hessian has a bulk of eigenvalues near zero that a short run represents by
    /// one or two Ritz values carrying most of the weight, whose sign is noise (on the example
    /// MLP a 20-step run put 0.96 of the weight on a Ritz value just below zero). Eigenvalues
    /// within `t` of zero count as zero.
    public static func negativeMass(runs: [(values: [Double], weights: [Double])], relativeThreshold: Double = 0.01) -> Double {
        guard !runs.isEmpty else { return 0 }
        let radius = runs.flatMap(\.values).reduce(0.0) { max($0, abs($1)) }
        let t = relativeThreshold * radius
        let total = runs.reduce(0.0) { sum, r in sum + zip(r.values, r.weights).reduce(0.0) { $0 + ($1.0 < -t ? $1.1 : 0) } }
        return total / Double(runs.count)
    }
}
