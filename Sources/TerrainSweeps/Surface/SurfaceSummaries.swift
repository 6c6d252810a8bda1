import Foundation
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
        let hessian = outputs.filter { $0.kind == HessianKind.name }.compactMap { o -> (params: HessianKind.Probe, output: [String: [Double]])? in
            guard let p = try? HessianKind.decode(o.params, task: o.task),
                  let v = try? JSONDecoder().decode([String: [Double]].self, from: Data(o.output)) else { return nil }
            return (p.own, v)
        }
        if !hessian.isEmpty {
            let dimension = hessian.first?.output["dimension"]?.first.map { Int($0) }
            out["curvature"] = String(decoding: try encoder.encode(CurvatureSpec.summarize(hessian, dimension: dimension)), as: UTF8.self)
        }
        if directionKind == .pca, checkpoint != nil, let ratios = try materialize(source: source).explainedVarianceRatio {
            out["pca"] = String(decoding: try encoder.encode(["explained_variance_ratio": ratios]), as: UTF8.self)
        }
        if directionKind == .interpolation {
            let surface = outputs.filter { $0.kind == SurfaceKind.name }.map { (params: $0.params, output: $0.output) }
            let grid = try Self.assemble(points: points, metrics: metricNames.count, outputs: surface)
            out["interpolation"] = String(decoding: try encoder.encode(barriers(grid)), as: UTF8.self)
        }
        return out
    }

    /// Loss barriers of an interpolation (x = t, θ_A at t = 0, θ_B at t = 1): for each loss
    /// metric, the highest loss on [0, 1] above the higher end point, and both end points.
    private func barriers(_ grid: [[Double]]) -> [String: Double] {
        let xs = x.coordinates
        var barriers = [String: Double]()
        for (m, name) in metricNames.enumerated() where name.hasSuffix("_loss") {
            guard let a = xs.firstIndex(of: 0), let b = xs.firstIndex(of: 1) else { continue }
            let inside = xs.indices.filter { xs[$0] >= 0 && xs[$0] <= 1 }.map { grid[m][$0] }
            guard !inside.contains(where: \.isNaN) else { continue }
            barriers[name.replacingOccurrences(of: "_loss", with: "") + "_barrier"] = inside.max()! - max(grid[m][a], grid[m][b])
            barriers[name + "_a"] = grid[m][a]
            barriers[name + "_b"] = grid[m][b]
        }
        if barriers.isEmpty { barriers["note"] = .nan }
        return barriers
    }
}
