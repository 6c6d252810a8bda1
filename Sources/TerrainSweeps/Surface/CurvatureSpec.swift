import Foundation
import TerrainCore
import Yams

/// The optional `curvature:` section of a surface sweep: Hessian measures at the centre θ*,
/// each random probe its own task so that the estimate is spread over the workers.
///
/// ```yaml
/// curvature:
///   eigenvalues: 3          # top-k by power iteration with deflation (one task)
///   hutchinson: 64          # Rademacher probes for the trace (one task each)
///   lanczos: {runs: 8, steps: 40}   # stochastic Lanczos quadrature runs (one task each)
///   sharpness: {epsilon: 0.001, steps: 10}   # Keskar et al.'s ε-sharpness (one task)
///   samples: 1000           # a fixed, seeded subset of the training set (default: all)
///   seed: 0
/// ```
public struct CurvatureSpec: Codable, Sendable, Equatable {
    /// Top eigenvalues by power iteration (0 = none).
    public var eigenvalues: Int
    /// Hutchinson probes (0 = none).
    public var hutchinson: Int
    /// SLQ runs (0 = none).
    public var lanczosRuns: Int
    /// Lanczos steps per run.
    public var lanczosSteps: Int
    /// Training samples used (nil = all).
    public var samples: Int?
    /// Seed of probes and start vectors.
    public var seed: UInt64
    /// Keskar sharpness box size ε (nil = not computed).
    public var sharpnessEpsilon: Double? = nil
    /// Ascent steps of the sharpness maximization.
    public var sharpnessSteps: Int = 10

    static let keys = ["eigenvalues", "hutchinson", "lanczos", "samples", "seed", "sharpness"]

    static func parse(_ node: Node, source: String) throws -> CurvatureSpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        try SpecYAML.checkKeys(node, allowed: keys, section: "curvature", source: source)
        func int(_ key: String, _ d: Int) throws -> Int {
            guard let v = node[key] else { return d }
            guard let i = v.int, i >= 0 else { throw fail("curvature.\(key): expected a non-negative integer") }
            return i
        }
        var runs = 0, steps = 40
        if let l = node["lanczos"] {
            try SpecYAML.checkKeys(l, allowed: ["runs", "steps"], section: "curvature.lanczos", source: source)
            guard let r = l["runs"]?.int, r >= 1 else { throw fail("curvature.lanczos.runs: expected a positive integer") }
            runs = r
            if let s = l["steps"] {
                guard let si = s.int, si >= 2, si <= 1000 else { throw fail("curvature.lanczos.steps: expected an integer in 2…1000") }
                steps = si
            }
        }
        let samples = try node["samples"].map { _ in try int("samples", 0) }
        if samples == 0 { throw fail("curvature.samples: expected a positive integer") }
        try SweepLimits.check(try int("eigenvalues", 0), atMost: SweepLimits.eigenvalues, field: "curvature.eigenvalues", what: "eigenvalues", source: source)
        try SweepLimits.check(try int("hutchinson", 0), atMost: SweepLimits.tasks, field: "curvature.hutchinson", what: "probes (one task each)", source: source)
        try SweepLimits.check(runs, atMost: SweepLimits.tasks, field: "curvature.lanczos.runs", what: "runs (one task each)", source: source)
        var spec = CurvatureSpec(eigenvalues: try int("eigenvalues", 0), hutchinson: try int("hutchinson", 0), lanczosRuns: runs,
                                 lanczosSteps: steps, samples: samples, seed: UInt64(try int("seed", 0)))
        if let sh = node["sharpness"] {
            try SpecYAML.checkKeys(sh, allowed: ["epsilon", "steps"], section: "curvature.sharpness", source: source)
            guard let e = sh["epsilon"]?.float, e > 0, e < 1 else { throw fail("curvature.sharpness.epsilon: expected a number in (0, 1), e.g. 0.001") }
            spec.sharpnessEpsilon = e
            if let st = sh["steps"] {
                guard let n = st.int, n >= 1, n <= 1000 else { throw fail("curvature.sharpness.steps: expected an integer in 1…1000") }
                spec.sharpnessSteps = n
            }
        }
        if spec.eigenvalues == 0 && spec.hutchinson == 0 && spec.lanczosRuns == 0 && spec.sharpnessEpsilon == nil {
            throw fail("curvature: ask for at least one of eigenvalues, hutchinson, lanczos, sharpness")
        }
        return spec
    }

    /// How many `hessian` tasks ``probes()`` makes (each count is within the task limit).
    var taskCount: Int { (eigenvalues > 0 ? 1 : 0) + hutchinson + lanczosRuns + (sharpnessEpsilon != nil ? 1 : 0) }

    /// The `hessian` tasks this section asks for: the eigenvalues (one task), each
    /// Hutchinson probe, each Lanczos run, and the sharpness (one task).
    func probes() -> [HessianKind.Probe] {
        func probe(_ mode: HessianKind.Mode, _ index: UInt64) -> HessianKind.Probe {
            HessianKind.Probe(mode: mode, index: index, eigenvalues: eigenvalues, steps: mode == .sharpness ? sharpnessSteps : lanczosSteps,
                              epsilon: mode == .sharpness ? sharpnessEpsilon : nil, seed: seed, samples: samples)
        }
        var out = [HessianKind.Probe]()
        if eigenvalues > 0 { out.append(probe(.eigen, 0)) }
        out += (0..<hutchinson).map { probe(.hutchinson, UInt64($0)) }
        out += (0..<lanczosRuns).map { probe(.lanczos, UInt64($0)) }
        if sharpnessEpsilon != nil { out.append(probe(.sharpness, 0)) }
        return out
    }

    /// The merged estimates, as stored in the dataset's `summaries` table.
    public struct Summary: Codable, Sendable, Equatable {
        /// Top eigenvalues (power iteration), largest first.
        public var eigenvalues: [Double]?
        /// Hutchinson trace estimate, its standard error and the number of probes merged.
        public var trace: Double?, traceStandardError: Double?, probes: Int?
        /// SLQ density on `densityGrid` (Gaussian broadening σ), and the SLQ trace estimate.
        public var densityGrid: [Double]?, density: [Double]?, sigma: Double?
        public var slqTrace: Double?, slqTraceStandardError: Double?, lanczosRuns: Int?
        /// Keskar ε-sharpness (percent), with the loss at θ, the largest loss found and ε.
        public var sharpness: Double?, sharpnessLoss: Double?, sharpnessMaxLoss: Double?, sharpnessEpsilon: Double?
    }

    /// Merges the outputs of `hessian` tasks (JSON objects) into one summary.
    public static func summarize(_ outputs: [(params: HessianKind.Probe, output: [String: [Double]])], dimension: Int?) -> Summary {
        var s = Summary()
        if let e = outputs.first(where: { $0.params.mode == .eigen }) { s.eigenvalues = e.output["eigenvalues"] }
        if let k = outputs.first(where: { $0.params.mode == .sharpness }) {
            s.sharpness = k.output["sharpness"]?.first
            s.sharpnessLoss = k.output["loss"]?.first
            s.sharpnessMaxLoss = k.output["max_loss"]?.first
            s.sharpnessEpsilon = k.params.epsilon
        }
        let h = outputs.filter { $0.params.mode == .hutchinson }.compactMap { $0.output["sample"]?.first }
        if !h.isEmpty {
            let (m, se) = meanAndError(h)
            s.trace = m
            s.traceStandardError = se
            s.probes = h.count
        }
        let runs = outputs.filter { $0.params.mode == .lanczos }
        if !runs.isEmpty {
            let all = runs.flatMap { $0.output["values"] ?? [] }
            let lo = all.min() ?? 0, hi = all.max() ?? 1
            let width = max(hi - lo, 1e-12)
            let sigma = width / 100
            let grid = (0..<400).map { lo - 0.05 * width + 1.1 * width * Double($0) / 399 }
            var density = [Double](repeating: 0, count: grid.count)
            var traces = [Double]()
            for r in runs {
                let values = r.output["values"] ?? [], weights = r.output["weights"] ?? []
                for (v, w) in zip(values, weights) {
                    for (i, t) in grid.enumerated() {
                        density[i] += w * Foundation.exp(-(t - v) * (t - v) / (2 * sigma * sigma)) / (sigma * (2 * Double.pi).squareRoot())
                    }
                }
                if let dimension { traces.append(Double(dimension) * zip(values, weights).reduce(0) { $0 + $1.0 * $1.1 }) }
            }
            s.densityGrid = grid
            s.density = density.map { $0 / Double(runs.count) }
            s.sigma = sigma
            s.lanczosRuns = runs.count
            if !traces.isEmpty {
                let (m, se) = meanAndError(traces)
                s.slqTrace = m
                s.slqTraceStandardError = se
            }
        }
        return s
    }

    static func meanAndError(_ x: [Double]) -> (Double, Double) {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        guard x.count > 1 else { return (mean, .nan) }
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return (mean, (variance / n).squareRoot())
    }
}
