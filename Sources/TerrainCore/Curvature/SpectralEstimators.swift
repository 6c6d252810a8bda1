/// Stochastic estimators of Hessian spectra (PyHessian-style), built on ``HessianOperator``.
///
/// Every estimator draws its probe vectors from Terrain's RNG keyed by `(seed, index)`, so the
/// probes can be spread over many tasks and merged: probe `i` is the same vector on every
/// worker.
extension HessianOperator {
    /// A Rademacher (±1) probe vector for probe `index`, zero on masked coordinates.
    public func rademacher(seed: UInt64, index: UInt64) -> [Double] {
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "rademacher"), stream: index)
        return maskVector((0..<dimension).map { _ in rng.nextUInt32() & 1 == 0 ? -1.0 : 1.0 })
    }

    /// One Hutchinson sample `vᵀHv` with Rademacher `v`: an unbiased estimate of tr(H).
    public func hutchinsonSample(seed: UInt64, index: UInt64) -> Double {
        let v = rademacher(seed: seed, index: index)
        return Kernels.dot(v, product(v))
    }

    /// The exact trace `Σᵢ eᵢᵀHeᵢ` (P products: for small models and tests).
    public func exactTrace() -> Double {
        var total = 0.0
        var e = [Double](repeating: 0, count: dimension)
        for i in 0..<dimension {
            e[i] = 1
            total += product(e)[i]
            e[i] = 0
        }
        return total
    }

    /// One stochastic Lanczos quadrature run (Ubaru, Chen & Saad 2017; Ghorbani et al. 2019):
    /// `steps` Lanczos iterations from a Rademacher start vector (full reorthogonalization),
    /// returning the Ritz values θₖ and weights τₖ (squared first components of the
    /// tridiagonal's eigenvectors, summing to 1). The spectral density estimate is
    /// `Σₖ τₖ δ(t − θₖ)` averaged over runs (``SpectralDensity``); `P_free·Σₖ τₖθₖ` estimates
    /// the trace (``slqTrace(values:weights:)``); the largest θₖ converges to λ_max. With
    /// pruning masks the start vector covers only the ``freeDimension`` free coordinates.
    public func lanczos(steps: Int, seed: UInt64, index: UInt64) -> (values: [Double], weights: [Double]) {
        var run = LanczosRun(start: rademacher(seed: seed, index: index), steps: steps)
        while let v = run.pending { run.feed(product(v)) }
        return run.ritz
    }

    /// The trace estimate of one Lanczos run: `P_free·Σₖ τₖθₖ`. The run's start vector is a
    /// unit vector on the free coordinates, so `Σₖ τₖθₖ = vᵀHv/‖v‖²` with `‖v‖² = P_free` for
    /// the Rademacher `v`: scaling by P instead would overstate the trace of a pruned network
    /// by P/P_free.
    public func slqTrace(values: [Double], weights: [Double]) -> Double {
        SpectralDensity.slqTrace(values: values, weights: weights, freeDimension: freeDimension)
    }

    /// λ_max, the largest *algebraic* eigenvalue, as the largest Ritz value of a Lanczos run.
    public func largestEigenvalue(steps: Int = 60, seed: UInt64 = 0) -> Double {
        lanczos(steps: steps, seed: seed, index: 0).values.max() ?? 0
    }

    private func maskVector(_ v: [Double]) -> [Double] {
        let m = maskValues
        return zip(v, m).map { $0 * $1 }
    }
}

/// Eigen-decomposition of small symmetric matrices (cyclic Jacobi), for Lanczos tridiagonals.
public enum SymmetricEigen {
    /// Eigenvalues (ascending) and unit eigenvectors of the symmetric tridiagonal matrix with
    /// the given diagonal and off-diagonal (length n−1).
    public static func tridiagonal(diagonal: [Double], offDiagonal: [Double]) -> (values: [Double], vectors: [[Double]]) {
        let n = diagonal.count
        var a = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            a[i][i] = diagonal[i]
            if i + 1 < n && i < offDiagonal.count { a[i][i + 1] = offDiagonal[i]; a[i + 1][i] = offDiagonal[i] }
        }
        return jacobi(a)
    }

    /// Eigenvalues (ascending) and unit eigenvectors of a dense symmetric matrix.
    public static func jacobi(_ input: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
        var a = input
        let n = a.count
        var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in (i + 1)..<max(n, i + 1) where j < n { off += a[i][j] * a[i][j] } }
            if off < 1e-30 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) where q < n {
                    if abs(a[p][q]) < 1e-300 { continue }
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k][p], akq = a[k][q]
                        a[k][p] = c * akp - s * akq
                        a[k][q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p][k], aqk = a[q][k]
                        a[p][k] = c * apk - s * aqk
                        a[q][k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k][p], vkq = v[k][q]
                        v[k][p] = c * vkp - s * vkq
                        v[k][q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0][$0] < a[$1][$1] }
        return (order.map { a[$0][$0] }, order.map { j in (0..<n).map { v[$0][j] } })
    }
}
