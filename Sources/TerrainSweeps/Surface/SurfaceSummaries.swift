import Foundation
import TerrainCore
import TerrainDataset

extension SurfaceSpec {
    /// Results derived from a finished surface sweep's outputs, stored in the dataset's
    /// `summaries` table (JSON values): `curvature` (the `hessian` tasks merged), `pca` (the
    /// explained variance of PCA directions) and `interpolation` (loss barriers along θ_A → θ_B).
    public func summaries(of outputs: [SweepDataset.CompletedTask], source: String) throws -> [String: String] {
        var out = [String: String]()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if let curvature = curvatureSummary(of: outputs) {
            out["curvature"] = String(decoding: try encoder.encode(curvature), as: UTF8.self)
        }
        if directionKind == .pca, checkpoint != nil, let ratios = try materialize(source: source).explainedVarianceRatio {
            out["pca"] = String(decoding: try encoder.encode(["explained_variance_ratio": ratios]), as: UTF8.self)
        }
        if directionKind == .interpolation {
            let surface = outputs.filter { $0.kind == SurfaceKind.name }.map { (params: $0.params, output: $0.output) }
            let grid = try Self.assemble(points: points, metrics: metricNames.count, outputs: surface)
            let barriers = Self.interpolationBarriers(x: x, metricNames: metricNames, grid: grid)
            out["interpolation"] = String(decoding: try encoder.encode(barriers), as: UTF8.self)
        }
        return out
    }

    /// The `hessian` tasks' outputs merged (``CurvatureSpec/summarize(_:broadening:)``), or
    /// `nil` when none has finished.
    func curvatureSummary(of outputs: [SweepDataset.CompletedTask],
                          broadening: SpectralDensity.Broadening = .standard) -> CurvatureSpec.Summary? {
        let hessian = outputs.filter { $0.kind == HessianKind.name }.compactMap { o -> (params: HessianKind.Probe, output: [String: [Double]])? in
            guard let p = try? HessianKind.decode(o.params, task: o.task),
                  let v = try? JSONDecoder().decode([String: [Double]].self, from: Data(o.output)) else { return nil }
            return (p.own, v)
        }
        return hessian.isEmpty ? nil : CurvatureSpec.summarize(hessian, broadening: broadening)
    }

    /// Loss barriers of an interpolation (x = t, θ_A at t = 0, θ_B at t = 1): for each loss
    /// metric, the highest loss on [0, 1] above the higher end point, and both end points.
    ///
    /// The end points are the grid points nearest t = 0 and t = 1 within
    /// ``endpointTolerance`` of a step (``GridAxis/index(of:tolerance:)``): a grid such as
    /// `-0.2:1.2:29` puts t = 0 at −2.8e-17, not 0. When a barrier cannot be given, `note`
    /// says why (no grid point at an end, or a NaN loss between the ends) instead of a bare
    /// NaN.
    public static func interpolationBarriers(x: GridAxis, metricNames: [String], grid: [[Double]]) -> [String: SummaryValue] {
        var out = [String: SummaryValue]()
        let a = x.index(of: 0, tolerance: endpointTolerance), b = x.index(of: 1, tolerance: endpointTolerance)
        guard let a, let b else {
            let missing = [a == nil ? "t = 0 (θ_A)" : nil, b == nil ? "t = 1 (θ_B)" : nil].compactMap { $0 }
            out["note"] = .text("no barrier: the grid x: \"\(x)\" has no point at \(missing.joined(separator: " or ")) "
                                + "(within \(endpointTolerance) of a step); give a grid that contains both, e.g. x: \"-0.2:1.2:29\"")
            return out
        }
        let xs = x.coordinates
        var notes = [String]()
        for (m, name) in metricNames.enumerated() where name.hasSuffix("_loss") && m < grid.count {
            let set = String(name.dropLast("_loss".count))
            let between = grid[m][a...b]
            if let k = (a...b).first(where: { grid[m][$0].isNaN }) {
                notes.append("no \(set) barrier: \(name) is NaN at t = \(xs[k]) (a missing or diverged point)")
                continue
            }
            out[set + "_barrier"] = .number(between.max()! - Swift.max(grid[m][a], grid[m][b]))
            out[name + "_a"] = .number(grid[m][a])
            out[name + "_b"] = .number(grid[m][b])
        }
        if !notes.isEmpty { out["note"] = .text(notes.joined(separator: "; ")) }
        return out
    }

    /// How far (in grid steps) an interpolation's end points may lie from t = 0 and t = 1.
    public static let endpointTolerance = 1e-6
}

/// One value of a summary stored in the dataset: a number, or a sentence saying why a number
/// is missing.
public enum SummaryValue: Encodable, Sendable, Equatable {
    case number(Double)
    case text(String)

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let v): try c.encode(v)
        case .text(let t): try c.encode(t)
        }
    }

    /// The number, if this is one.
    public var number: Double? { if case .number(let v) = self { v } else { nil } }
}
