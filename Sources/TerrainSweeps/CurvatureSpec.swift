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

    /// What one `hessian` task computes.
    public enum Mode: String, Codable, Sendable { case eigen, hutchinson, lanczos, sharpness }

    /// The parameters of one `hessian` task.
    public struct Params: Codable, Sendable, Equatable {
        public var mode: Mode
        public var index: UInt64
        public var eigenvalues: Int
        public var steps: Int
        public var epsilon: Double?
        public var seed: UInt64
        public var samples: Int?
        public var model: ModelSpec
        public var data: DataSpec
        public var dataSHA256: String
        public var dataSeed: UInt64
        public var loss: LossKind
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
    public static func summarize(_ outputs: [(params: Params, output: [String: [Double]])], dimension: Int?) -> Summary {
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

/// Runs `hessian` tasks at the centre θ*.
public final class HessianRunner: TaskRunner, @unchecked Sendable {
    public var kind: String { "hessian" }

    /// Creates the runner.
    public init() {}

    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput]) throws -> TaskOutput {
        let p: CurvatureSpec.Params
        do { p = try JSONDecoder().decode(CurvatureSpec.Params.self, from: Data(params)) } catch {
            throw TaskError("hessian task \(task): unreadable parameters: \(error)", retryable: false)
        }
        guard let centre = inputs.first(where: { $0.name == "centre" }) else {
            throw TaskError("hessian task \(task): missing input centre", retryable: false)
        }
        var (train, _) = try SurfaceRunner.loadData(p.data, sha256: p.dataSHA256, seed: p.dataSeed)
        if let n = p.samples { train = train.subset(n, seed: TerrainRNG.derive(p.seed, "curvature-samples")) }
        let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        try Checkpoint.apply(try SafeTensors.decode(centre.data, source: "centre checkpoint").tensors, source: "centre checkpoint", to: model)
        var out = [String: [Double]]()
        if p.mode == .sharpness {
            let r = Sharpness.keskar(model: model, data: train, loss: p.loss, epsilon: p.epsilon ?? 1e-3, steps: p.steps)
            out = ["sharpness": [r.sharpness], "loss": [r.loss], "max_loss": [r.maxLoss]]
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return TaskOutput(output: [UInt8](try encoder.encode(out)))
        }
        let h = try HessianOperator(model: model, data: train, loss: p.loss)
        switch p.mode {
        case .sharpness:
            break
        case .eigen:
            let pairs = h.topEigenpairs(k: p.eigenvalues, maxIterations: 200, tolerance: 1e-5, seed: p.seed)
            out["eigenvalues"] = pairs.map(\.value)
            out["iterations"] = pairs.map { Double($0.iterations) }
        case .hutchinson:
            out["sample"] = [h.hutchinsonSample(seed: p.seed, index: p.index)]
        case .lanczos:
            let r = h.lanczos(steps: p.steps, seed: p.seed, index: p.index)
            out["values"] = r.values
            out["weights"] = r.weights
        }
        out["dimension"] = [Double(h.dimension)]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return TaskOutput(output: [UInt8](try encoder.encode(out)))
    }
}
