import Foundation

/// Results derived from a finished sweep's task outputs and stored in the dataset's
/// `summaries` table (JSON values): merged curvature estimates and interpolation barriers.
public enum SweepSummaries {
    /// Computes the summaries of a sweep from `(kind, params, output)` of its completed tasks.
    public static func compute(_ spec: SweepSpec, outputs: [(kind: String, params: [UInt8], output: [UInt8])]) throws -> [String: String] {
        guard let s = spec.surface else { return [:] }
        var out = [String: String]()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let decoder = JSONDecoder()
        let hessian = outputs.filter { $0.kind == "hessian" }.compactMap { o -> (params: CurvatureSpec.Params, output: [String: [Double]])? in
            guard let p = try? decoder.decode(CurvatureSpec.Params.self, from: Data(o.params)),
                  let v = try? decoder.decode([String: [Double]].self, from: Data(o.output)) else { return nil }
            return (p, v)
        }
        if !hessian.isEmpty {
            let dimension = hessian.first?.output["dimension"]?.first.map { Int($0) }
            out["curvature"] = String(decoding: try encoder.encode(CurvatureSpec.summarize(hessian, dimension: dimension)), as: UTF8.self)
        }
        if s.directionKind == .pca, s.checkpoint != nil, let ratios = try s.materialize(source: spec.source).explainedVarianceRatio {
            out["pca"] = String(decoding: try encoder.encode(["explained_variance_ratio": ratios]), as: UTF8.self)
        }
        if s.directionKind == .interpolation {
            let surface = outputs.filter { $0.kind == "surface" }.map { (params: $0.params, output: $0.output) }
            let grid = try SurfaceSpec.assemble(points: s.points, metrics: s.metricNames.count, outputs: surface)
            let xs = s.x.coordinates
            var barriers = [String: Double]()
            for (m, name) in s.metricNames.enumerated() where name.hasSuffix("_loss") {
                guard let a = xs.firstIndex(of: 0), let b = xs.firstIndex(of: 1) else { continue }
                let inside = xs.indices.filter { xs[$0] >= 0 && xs[$0] <= 1 }.map { grid[m][$0] }
                guard !inside.contains(where: \.isNaN) else { continue }
                barriers[name.replacingOccurrences(of: "_loss", with: "") + "_barrier"] = inside.max()! - max(grid[m][a], grid[m][b])
                barriers[name + "_a"] = grid[m][a]
                barriers[name + "_b"] = grid[m][b]
            }
            if barriers.isEmpty {
                barriers["note"] = .nan
            }
            out["interpolation"] = String(decoding: try encoder.encode(barriers), as: UTF8.self)
        }
        return out
    }
}
