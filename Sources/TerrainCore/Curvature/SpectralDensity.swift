import Foundation

/// The Hessian eigenvalue density estimated from stochastic Lanczos quadrature runs
/// (``HessianOperator/lanczos(steps:seed:index:)``): the average over runs of
/// `Σₖ τₖ·g_σ(t − θₖ)`, with Ritz values θₖ, weights τₖ (summing to 1 in each run) and a
/// Gaussian `g_σ` of standard deviation σ.
///
/// **Conventions.** The result is a *probability* density: it integrates to 1 over the
/// eigenvalue axis. Multiply by the number of free parameters P_free
/// (``HessianOperator/freeDimension``) for an eigenvalue *count* density (eigenvalues per unit
/// of λ). σ is chosen by ``Broadening``; Terrain's default is 1/100 of the Ritz range,
/// where PyHessian's `density_generate` uses a variance σ² = 1e-5·max(1, range) (and
/// renormalizes numerically on its grid), a much narrower kernel for the usual ranges.
public struct SpectralDensity: Sendable, Equatable {
    /// How wide the Gaussian put on each Ritz value is.
    public enum Broadening: Sendable, Equatable, CustomStringConvertible {
        /// σ = `fraction` × (largest − smallest Ritz value over all runs). The default, 1/100.
        case rangeFraction(Double)
        /// σ given in eigenvalue units.
        case absolute(Double)
        /// PyHessian's `density_generate`: σ² = 1e-5·max(1, λ̄max − λ̄min) with λ̄max, λ̄min the
        /// means over runs of each run's largest and smallest Ritz value, widened by 0.01.
        case pyhessian

        /// Terrain's default: σ = (Ritz range)/100.
        public static let standard = Broadening.rangeFraction(0.01)

        /// Parses `range/100` (any positive divisor), `pyhessian`, or a positive number (σ in
        /// eigenvalue units). Throws ``TerrainError/invalidArgument(_:)`` naming the text.
        public init(parsing text: String) throws {
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            if t == "pyhessian" { self = .pyhessian; return }
            if t.hasPrefix("range/") {
                guard let d = Double(t.dropFirst("range/".count)), d.isFinite, d >= 1 else {
                    throw TerrainError.invalidArgument("'\(text)': write range/N with N ≥ 1, e.g. range/100")
                }
                self = .rangeFraction(1 / d)
                return
            }
            guard let s = Double(t), s.isFinite, s > 0 else {
                throw TerrainError.invalidArgument("'\(text)' is not a broadening: give σ as a positive number, range/N (default range/100) or pyhessian")
            }
            self = .absolute(s)
        }

        public var description: String {
            switch self {
            case .rangeFraction(let f): "range/\(Self.number(1 / f))"
            case .absolute(let s): Self.number(s)
            case .pyhessian: "pyhessian"
            }
        }

        /// How σ was chosen, for figure subtitles and summaries.
        public var explanation: String {
            switch self {
            case .rangeFraction(let f): "σ = Ritz range/\(Self.number(1 / f))"
            case .absolute: "σ chosen"
            case .pyhessian: "σ² = 1e-5·max(1, range), PyHessian's"
            }
        }

        private static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%g", v) }
    }

    /// Eigenvalues at which the density is sampled, ascending and evenly spaced.
    public var grid: [Double]
    /// The density at `grid` (per unit of eigenvalue; integrates to 1).
    public var density: [Double]
    /// The Gaussian's standard deviation, in eigenvalue units.
    public var sigma: Double
    /// How σ was chosen.
    public var broadening: Broadening

    /// The density of `runs` (each run's Ritz values and weights), or `nil` without any Ritz
    /// value. The grid spans the Ritz values with a margin of 5 % of their range or 4σ,
    /// whichever is larger, at 400 points or one every σ/3, whichever is finer, so that the
    /// trapezoidal integral is 1 to within 1e-4. The grid is capped at 100 000 points: a σ
    /// below about 1/30 000 of the range is then under-sampled (sharp spikes between grid
    /// points) and the integral is no longer 1 — choose a wider σ. A σ below
    /// 1e-12·max(1, range), or not a positive number, is raised to that.
    public static func estimate(runs: [(values: [Double], weights: [Double])], broadening: Broadening = .standard) -> SpectralDensity? {
        let all = runs.flatMap(\.values)
        guard let lo = all.min(), let hi = all.max(), !runs.isEmpty else { return nil }
        let width = Swift.max(hi - lo, 1e-12)
        var sigma: Double
        switch broadening {
        case .rangeFraction(let f): sigma = f * width
        case .absolute(let s): sigma = s
        case .pyhessian:
            let nonEmpty = runs.filter { !$0.values.isEmpty }
            let top = nonEmpty.map { $0.values.max()! }.reduce(0, +) / Double(nonEmpty.count) + 0.01
            let bottom = nonEmpty.map { $0.values.min()! }.reduce(0, +) / Double(nonEmpty.count) - 0.01
            sigma = (1e-5 * Swift.max(1, top - bottom)).squareRoot()
        }
        // A σ that is not a positive number, or so small that σ² underflows, cannot be drawn:
        // it is raised to 1e-12·max(1, range).
        let smallest = 1e-12 * Swift.max(1, width)
        if !(sigma >= smallest) { sigma = smallest }
        let margin = Swift.max(0.05 * width, 4 * sigma)
        let span = width + 2 * margin
        // Clamped in floating point first: a tiny σ would overflow the conversion to Int.
        let wanted = Swift.min(100_000, (span / (sigma / 3)).rounded(.up) + 1)
        let count = Swift.max(400, wanted.isFinite ? Int(wanted) : 100_000)
        let grid = (0..<count).map { lo - margin + span * Double($0) / Double(count - 1) }
        var density = [Double](repeating: 0, count: count)
        let norm = 1 / (sigma * (2 * Double.pi).squareRoot())
        for r in runs {
            for (v, w) in zip(r.values, r.weights) {
                // Only points within 10σ contribute more than e⁻⁵⁰ of the peak.
                let first = Swift.max(0, Int(((v - 10 * sigma - grid[0]) / span * Double(count - 1)).rounded(.down)))
                let last = Swift.min(count - 1, Int(((v + 10 * sigma - grid[0]) / span * Double(count - 1)).rounded(.up)))
                guard first <= last else { continue }
                for i in first...last {
                    let d = grid[i] - v
                    density[i] += w * Foundation.exp(-d * d / (2 * sigma * sigma)) * norm
                }
            }
        }
        let scale = 1 / Double(runs.count)
        return SpectralDensity(grid: grid, density: density.map { $0 * scale }, sigma: sigma, broadening: broadening)
    }

    /// The trapezoidal integral of ``density`` over ``grid`` (1 up to the tails beyond the grid).
    public var integral: Double {
        var total = 0.0
        for i in grid.indices.dropFirst() {
            let height: Double = 0.5 * (density[i] + density[i - 1])
            total += height * (grid[i] - grid[i - 1])
        }
        return total
    }

    /// The trace estimate of one Lanczos run on `freeDimension` free coordinates:
    /// `P_free·Σₖ τₖθₖ` (see ``HessianOperator/slqTrace(values:weights:)``).
    public static func slqTrace(values: [Double], weights: [Double], freeDimension: Int) -> Double {
        Double(freeDimension) * zip(values, weights).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
