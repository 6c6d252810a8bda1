import Foundation
import TerrainCore
import Yams

/// The optional `curvature:` section of a surface sweep: Hessian measures at the centre θ*,
/// each random probe its own task so that the estimate is spread over the workers.
///
/// ```yaml
/// curvature:
///   eigenvalues: 3          # top-k (largest magnitude) by power iteration with deflation (one task)
///                           # or {count: 3, tolerance: 1e-5, max_iterations: 200}
///   hutchinson: 64          # Rademacher probes for the trace (one task each)
///   lanczos: {runs: 8, steps: 40}   # stochastic Lanczos quadrature runs (one task each)
///   sharpness: {epsilon: 0.001, steps: 10}   # Keskar et al.'s ε-sharpness (one task)
///   layers: {steps: 30, probes: 16}   # per parameter group: λ_max, λ_min (Lanczos) and trace (Hutchinson), one task
///   samples: 1000           # a fixed, seeded subset of the training set (default: all)
///   seed: 0
/// ```
public struct CurvatureSpec: Codable, Sendable, Equatable {
    /// Top eigenvalues (largest magnitude) by power iteration (0 = none).
    public var eigenvalues: Int
    /// Power iteration's relative-change tolerance (nil = ``PowerIteration/defaultTolerance``).
    public var eigenTolerance: Double? = nil
    /// Power iteration's cap per eigenpair (nil = ``PowerIteration/defaultMaxIterations``).
    public var eigenIterations: Int? = nil
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
    /// Per-layer spectra: Lanczos steps per group (nil = not computed) and Hutchinson probes.
    public var layerSteps: Int? = nil
    public var layerProbes: Int = 16

    static let keys = ["eigenvalues", "hutchinson", "lanczos", "samples", "seed", "sharpness", "layers"]

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
        try SweepLimits.check(try int("hutchinson", 0), atMost: SweepLimits.tasks, field: "curvature.hutchinson", what: "probes (one task each)", source: source)
        try SweepLimits.check(runs, atMost: SweepLimits.tasks, field: "curvature.lanczos.runs", what: "runs (one task each)", source: source)
        var spec = CurvatureSpec(eigenvalues: 0, hutchinson: try int("hutchinson", 0), lanczosRuns: runs,
                                 lanczosSteps: steps, samples: samples, seed: UInt64(try int("seed", 0)))
        if let e = node["eigenvalues"] { try spec.parseEigenvalues(e, source: source) }
        if let sh = node["sharpness"] {
            try SpecYAML.checkKeys(sh, allowed: ["epsilon", "steps"], section: "curvature.sharpness", source: source)
            guard let e = sh["epsilon"]?.float, e > 0, e < 1 else { throw fail("curvature.sharpness.epsilon: expected a number in (0, 1), e.g. 0.001") }
            spec.sharpnessEpsilon = e
            if let st = sh["steps"] {
                guard let n = st.int, n >= 1, n <= 1000 else { throw fail("curvature.sharpness.steps: expected an integer in 1…1000") }
                spec.sharpnessSteps = n
            }
        }
        if let l = node["layers"] { try spec.parseLayers(l, source: source) }
        if spec.eigenvalues == 0 && spec.hutchinson == 0 && spec.lanczosRuns == 0 && spec.sharpnessEpsilon == nil && spec.layerSteps == nil {
            throw fail("curvature: ask for at least one of eigenvalues, hutchinson, lanczos, sharpness, layers")
        }
        return spec
    }

    /// `curvature.eigenvalues`: a count, or `{count, tolerance, max_iterations}`.
    private mutating func parseEigenvalues(_ e: Node, source: String) throws {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        if e.mapping == nil {
            guard let k = e.int, k >= 0, k <= 1000 else { throw fail("curvature.eigenvalues: expected a count in 0…1000 or {count: 3, tolerance: 1e-5}") }
            eigenvalues = k
            return
        }
        try SpecYAML.checkKeys(e, allowed: ["count", "tolerance", "max_iterations"], section: "curvature.eigenvalues", source: source)
        guard let k = e["count"]?.int, k >= 1, k <= 1000 else { throw fail("curvature.eigenvalues.count: expected an integer in 1…1000") }
        eigenvalues = k
        if let t = e["tolerance"] {
            guard let v = t.float, v > 0, v < 1 else { throw fail("curvature.eigenvalues.tolerance: expected a number in (0, 1), e.g. 1e-5") }
            eigenTolerance = v
        }
        if let m = e["max_iterations"] {
            guard let v = m.int, v >= 1, v <= 100_000 else { throw fail("curvature.eigenvalues.max_iterations: expected an integer in 1…100000") }
            eigenIterations = v
        }
    }

    /// `curvature.layers`: `true` or `{steps: 30, probes: 16}`.
    private mutating func parseLayers(_ l: Node, source: String) throws {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        if l.bool == true { layerSteps = 30; return }
        guard l.mapping != nil else { throw fail("curvature.layers: expected true or {steps: 30, probes: 16}") }
        try SpecYAML.checkKeys(l, allowed: ["steps", "probes"], section: "curvature.layers", source: source)
        layerSteps = 30
        if let s = l["steps"] {
            guard let v = s.int, v >= 2, v <= 1000 else { throw fail("curvature.layers.steps: expected an integer in 2…1000") }
            layerSteps = v
        }
        if let p = l["probes"] {
            guard let v = p.int, v >= 2, v <= 10_000 else { throw fail("curvature.layers.probes: expected an integer in 2…10000") }
            layerProbes = v
        }
    }

    /// How many `hessian` tasks ``probes()`` makes (each count is within the task limit).
    var taskCount: Int { (eigenvalues > 0 ? 1 : 0) + hutchinson + lanczosRuns + (sharpnessEpsilon != nil ? 1 : 0) + (layerSteps != nil ? 1 : 0) }

    /// The `hessian` tasks this section asks for: the eigenvalues (one task), each
    /// Hutchinson probe, each Lanczos run, and the sharpness (one task).
    func probes() -> [HessianKind.Probe] {
        func probe(_ mode: HessianKind.Mode, _ index: UInt64) -> HessianKind.Probe {
            var p = HessianKind.Probe(mode: mode, index: index, eigenvalues: eigenvalues, steps: mode == .sharpness ? sharpnessSteps : lanczosSteps,
                                      epsilon: mode == .sharpness ? sharpnessEpsilon : nil, seed: seed, samples: samples)
            if mode == .eigen { p.tolerance = eigenTolerance; p.maxIterations = eigenIterations }
            return p
        }
        var out = [HessianKind.Probe]()
        if eigenvalues > 0 { out.append(probe(.eigen, 0)) }
        out += (0..<hutchinson).map { probe(.hutchinson, UInt64($0)) }
        out += (0..<lanczosRuns).map { probe(.lanczos, UInt64($0)) }
        if sharpnessEpsilon != nil { out.append(probe(.sharpness, 0)) }
        if let layerSteps {
            out.append(HessianKind.Probe(mode: .layers, index: 0, steps: layerSteps, seed: seed, samples: samples))
            out[out.count - 1].probes = layerProbes
        }
        return out
    }

    /// The merged estimates, as stored in the dataset's `summaries` table.
    public struct Summary: Codable, Sendable, Equatable {
        /// Top eigenvalues by magnitude (power iteration), largest |λ| first, and each one's
        /// residual ‖Hv − λv‖ (absent in sweeps from before residuals were recorded).
        public var eigenvalues: [Double]?, eigenvalueResiduals: [Double]?
        /// Hutchinson trace estimate, its standard error and the number of probes merged.
        public var trace: Double?, traceStandardError: Double?, probes: Int?
        /// SLQ density on `densityGrid`: a probability density (integrates to 1; × `freeDimension`
        /// for eigenvalue counts), Gaussian broadening σ chosen by `densityBroadening`
        /// (``SpectralDensity/Broadening``; absent in older sweeps, whose σ was range/100).
        public var densityGrid: [Double]?, density: [Double]?, sigma: Double?, densityBroadening: String?
        /// The SLQ trace estimate (`P_free·Σ τθ` per run) with its standard error.
        public var slqTrace: Double?, slqTraceStandardError: Double?, lanczosRuns: Int?
        /// The number of free (unmasked) parameters P_free the estimates refer to.
        public var freeDimension: Int?
        /// Keskar ε-sharpness (percent), with the loss at θ, the largest loss found and ε.
        public var sharpness: Double?, sharpnessLoss: Double?, sharpnessMaxLoss: Double?, sharpnessEpsilon: Double?
        /// The extreme Ritz values over all SLQ runs — λ_max and λ_min, the most negative
        /// eigenvalue at a saddle — with |λ_min/λ_max|, and the spectral mass below zero (the
        /// runs' average `Σ_{θ<0} τ`: the fraction of eigenvalues estimated negative).
        public var lambdaMax: Double?, lambdaMin: Double?, eigenRatio: Double?, negativeMass: Double?
        /// Per-parameter-group λ_max, λ_min and trace (`curvature.layers`), in parameter order.
        public var layers: [LayerSpectrum]?
    }

    /// Merges the outputs of `hessian` tasks (JSON objects) into one summary; the density is
    /// broadened as `broadening` says. Each Lanczos run's trace is scaled by the free
    /// parameter count its task recorded (`free_dimension`; `dimension` in outputs from before
    /// it was recorded, which had no masks).
    public static func summarize(_ outputs: [(params: HessianKind.Probe, output: [String: [Double]])],
                                 broadening: SpectralDensity.Broadening = .standard) -> Summary {
        var s = Summary()
        if let e = outputs.first(where: { $0.params.mode == .eigen }) {
            s.eigenvalues = e.output["eigenvalues"]
            s.eigenvalueResiduals = e.output["residuals"]
        }
        if let k = outputs.first(where: { $0.params.mode == .sharpness }) {
            s.sharpness = k.output["sharpness"]?.first
            s.sharpnessLoss = k.output["loss"]?.first
            s.sharpnessMaxLoss = k.output["max_loss"]?.first
            s.sharpnessEpsilon = k.params.epsilon
        }
        if let l = outputs.first(where: { $0.params.mode == .layers }) { s.layers = HessianKind.layerSpectra(l.output) }
        func free(_ o: [String: [Double]]) -> Int? { (o["free_dimension"] ?? o["dimension"])?.first.map { Int($0) } }
        s.freeDimension = outputs.lazy.compactMap { free($0.output) }.first
        let h = outputs.filter { $0.params.mode == .hutchinson }.compactMap { $0.output["sample"]?.first }
        if !h.isEmpty {
            let (m, se) = meanAndError(h)
            s.trace = m
            s.traceStandardError = se
            s.probes = h.count
        }
        let runs = outputs.filter { $0.params.mode == .lanczos }.map { (values: $0.output["values"] ?? [], weights: $0.output["weights"] ?? [], free: free($0.output)) }
        if !runs.isEmpty {
            if let d = SpectralDensity.estimate(runs: runs.map { ($0.values, $0.weights) }, broadening: broadening) {
                s.densityGrid = d.grid
                s.density = d.density
                s.sigma = d.sigma
                s.densityBroadening = d.broadening.description
            }
            s.lanczosRuns = runs.count
            let ritz = runs.flatMap(\.values)
            if let top = ritz.max(), let bottom = ritz.min() {
                s.lambdaMax = top
                s.lambdaMin = bottom
                s.eigenRatio = top == 0 ? nil : abs(bottom / top)
            }
            s.negativeMass = SpectralDensity.negativeMass(runs: runs.map { ($0.values, $0.weights) })
            let traces = runs.compactMap { r in r.free.map { SpectralDensity.slqTrace(values: r.values, weights: r.weights, freeDimension: $0) } }
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
