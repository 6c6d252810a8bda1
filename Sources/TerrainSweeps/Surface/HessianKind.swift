import Foundation
import TerrainCore

/// The `hessian` task kind: one curvature measurement at the centre θ* (input `centre`) — the
/// top eigenvalues, one Hutchinson probe, one Lanczos run or the ε-sharpness — as a JSON
/// object of number lists, merged by ``CurvatureSpec/summarize(_:dimension:)``.
public struct HessianKind: TaskKind {
    public static let name = "hessian"

    /// What one `hessian` task computes.
    public enum Mode: String, Codable, Sendable { case eigen, hutchinson, lanczos, sharpness, layers }

    /// The measurement a task makes.
    public struct Probe: Codable, Sendable, Equatable {
        public var mode: Mode
        public var index: UInt64
        public var eigenvalues: Int
        public var steps: Int
        public var epsilon: Double?
        public var seed: UInt64
        public var samples: Int?
        /// `eigen`: power iteration's tolerance and cap (nil: ``PowerIteration``'s defaults;
        /// absent from the stored parameters then, so older sweeps keep their bytes).
        public var tolerance: Double? = nil
        public var maxIterations: Int? = nil
        /// `layers`: Hutchinson probes for the per-group traces (absent for the other modes).
        public var probes: Int? = nil

        /// Creates a probe.
        public init(mode: Mode, index: UInt64, eigenvalues: Int = 0, steps: Int = 40, epsilon: Double? = nil, seed: UInt64 = 0,
                    samples: Int? = nil, tolerance: Double? = nil, maxIterations: Int? = nil) {
            self.mode = mode
            self.index = index
            self.eigenvalues = eigenvalues
            self.steps = steps
            self.epsilon = epsilon
            self.seed = seed
            self.samples = samples
            self.tolerance = tolerance
            self.maxIterations = maxIterations
        }
    }

    /// The parameters of one `hessian` task.
    public typealias Params = Networked<Probe>

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        let probe = p.own
        guard (0...SweepLimits.eigenvalues).contains(probe.eigenvalues), (0...SweepLimits.curvatureIterations).contains(probe.steps),
              (probe.samples ?? 1) >= 1, probe.epsilon.map({ $0 > 0 && $0 < 1 }) ?? true,
              (probe.probes ?? 2) >= 2, (probe.probes ?? 2) <= SweepLimits.tasks else {
            return "eigenvalues \(probe.eigenvalues), steps \(probe.steps), samples \(probe.samples.map(String.init) ?? "all")"
        }
        return nil
    }

    /// The output is the JSON object of finite number lists its mode writes (eigenvalues,
    /// a Hutchinson sample, Lanczos values and weights, or the sharpness), no blobs.
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: []) { return .reject(problem) }
        guard let out = try? JSONDecoder().decode([String: [Double]].self, from: Data(result.output)) else {
            return .reject("the output is not a JSON object of number lists")
        }
        let probe = p.own
        let expected: [String: ClosedRange<Int>]
        switch probe.mode {
        case .eigen:
            expected = ["eigenvalues": 0...probe.eigenvalues, "residuals": 0...probe.eigenvalues, "iterations": 0...probe.eigenvalues,
                        "dimension": 1...1, "free_dimension": 1...1]
        case .hutchinson: expected = ["sample": 1...1, "dimension": 1...1, "free_dimension": 1...1]
        case .lanczos:
            expected = ["values": 1...max(1, probe.steps), "weights": 1...max(1, probe.steps), "dimension": 1...1, "free_dimension": 1...1]
        case .sharpness: expected = ["sharpness": 1...1, "loss": 1...1, "max_loss": 1...1]
        case .layers:
            // One `group:<name>` list per parameter group: index, size, λ_max, λ_min, trace, its standard error.
            let groups = out.keys.filter { $0.hasPrefix(Self.groupPrefix) }
            guard !groups.isEmpty else { return .reject("the layers output has no group: entries") }
            expected = Dictionary(uniqueKeysWithValues: groups.map { ($0, 6...6) } + [("dimension", 1...1), ("free_dimension", 1...1)])
        }
        guard Set(out.keys) == Set(expected.keys) else {
            return .reject("the \(probe.mode.rawValue) output has keys \(out.keys.sorted()), expected \(expected.keys.sorted())")
        }
        for (key, range) in expected where !range.contains(out[key]!.count) || !out[key]!.allSatisfy(\.isFinite) {
            return .reject("'\(key)' holds \(out[key]!.count) values (expected \(range.lowerBound)…\(range.upperBound), finite)")
        }
        return .accept(nil)
    }

    public func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = task.params
        let centre = try task.input("centre")
        var (train, _) = try p.network.loadData()
        if let n = p.samples { train = train.subset(n, seed: TerrainRNG.derive(p.seed, "curvature-samples")) }
        let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        try Checkpoint.apply(try SafeTensors.decode(centre, source: "centre checkpoint").tensors, source: "centre checkpoint", to: model)
        var out = [String: [Double]]()
        if p.mode == .sharpness {
            let r = Sharpness.keskar(model: model, data: train, loss: p.loss, epsilon: p.epsilon ?? 1e-3, steps: p.steps)
            out = ["sharpness": [r.sharpness], "loss": [r.loss], "max_loss": [r.maxLoss]]
            return TaskOutput(output: try Self.encodeOutput(out))
        }
        let h = try HessianOperator(model: model, data: train, loss: p.loss)
        return TaskOutput(output: try Self.encodeOutput(Self.measure(p.own, on: h)))
    }

    /// One eigen, Hutchinson or Lanczos measurement on `h`, as the task's output object:
    /// `eigenvalues`, `residuals` (‖Hv − λv‖) and `iterations`; or `sample`; or the Ritz
    /// `values` and `weights`; always `dimension` (P) and `free_dimension` (P_free, the
    /// coordinates not masked, which the SLQ trace scales with). The sharpness has its own path.
    public static func measure(_ p: Probe, on h: HessianOperator<Float>) -> [String: [Double]] {
        var out = [String: [Double]]()
        switch p.mode {
        case .sharpness:
            preconditionFailure("the sharpness is measured on the model, not the Hessian operator")
        case .eigen:
            let pairs = h.topEigenpairs(k: p.eigenvalues, maxIterations: p.maxIterations ?? PowerIteration.defaultMaxIterations,
                                        tolerance: p.tolerance ?? PowerIteration.defaultTolerance, seed: p.seed)
            out["eigenvalues"] = pairs.map(\.value)
            out["residuals"] = pairs.map(\.residual)
            out["iterations"] = pairs.map { Double($0.iterations) }
        case .hutchinson:
            out["sample"] = [h.hutchinsonSample(seed: p.seed, index: p.index)]
        case .lanczos:
            let r = h.lanczos(steps: p.steps, seed: p.seed, index: p.index)
            out["values"] = r.values
            out["weights"] = r.weights
        case .layers:
            for (index, s) in h.layerSpectra(steps: p.steps, probes: p.probes ?? 2, seed: p.seed).enumerated() {
                out[groupPrefix + s.name] = [Double(index), Double(s.parameters), s.lambdaMax, s.lambdaMin, s.trace, s.traceStandardError]
            }
        }
        out["dimension"] = [Double(h.dimension)]
        out["free_dimension"] = [Double(h.freeDimension)]
        return out
    }

    /// The key prefix of a parameter group's entry in a `layers` output.
    public static let groupPrefix = "group:"

    /// The per-group spectra of a `layers` output, in parameter order.
    public static func layerSpectra(_ out: [String: [Double]]) -> [LayerSpectrum] {
        out.filter { $0.key.hasPrefix(groupPrefix) && $0.value.count == 6 }
            .sorted { $0.value[0] < $1.value[0] }
            .map { LayerSpectrum(name: String($0.key.dropFirst(groupPrefix.count)), parameters: Int($0.value[1]),
                                 lambdaMax: $0.value[2], lambdaMin: $0.value[3], trace: $0.value[4], traceStandardError: $0.value[5]) }
    }

    private static func encodeOutput(_ out: [String: [Double]]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return [UInt8](try encoder.encode(out))
    }
}
