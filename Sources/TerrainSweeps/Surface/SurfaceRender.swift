import Foundation
import TerrainDataset
import TerrainExport

extension SurfaceSpec {
    /// A 2-D grid as a heatmap with contours, a 1-D one as loss curves, or (with `density`)
    /// the Hessian eigenvalue density of the sweep's curvature section.
    public static func render(_ sweep: StoredSweep, options o: RenderOptions) throws -> [RenderedFigure] {
        if o.figure != nil { throw ResultsError("--figure applies to lottery and training sweeps; a surface sweep draws its grid") }
        let s = try stored(sweep)
        if o.density { return [try s.densityFigure(sweep, options: o)] }
        let table = try s.table(sweep)
        let subtitle = s.describe(metric: o.metric)
        let svg: String
        if let y = table.y {
            guard let values = table.values(of: o.metric) else {
                throw ResultsError("no metric '\(o.metric)'; the dataset has \(table.metricNames.joined(separator: ", "))")
            }
            // Very large grids are drawn from block means (at most maxCells per axis) so that
            // the SVG stays light enough for a browser; exports keep every point.
            let (dx, dy, dv, factor) = GridDownsampling.blockMeans(x: table.x, y: y, values: values, maxCells: o.maxCells)
            let drawn = factor > 1 ? subtitle + " · \(factor)×\(factor) block means" : subtitle
            svg = SVGRenderer.heatmap(x: dx, y: dy, values: dv, title: "\(o.metric) around \(s.centreName) (\(sweep.name))", subtitle: drawn,
                                      xLabel: "α (direction 1)", yLabel: "β (direction 2)",
                                      valueLabel: o.log ? "\(o.metric) (log scale)" : o.metric, logScale: o.log,
                                      contourLevels: o.contours, marker: (0, 0))
        } else {
            let title = s.directionKind == .interpolation ? "\(s.centreName) → \(((s.target ?? "") as NSString).lastPathComponent)"
                                                          : "1-D slice around \(s.centreName) (\(sweep.name))"
            let losses = table.metrics.filter { $0.name.hasSuffix("_loss") }.map { (label: $0.name, values: $0.values) }
            svg = SVGRenderer.curves(x: table.x, series: losses, title: title, subtitle: subtitle,
                                     xLabel: s.directionKind == .interpolation ? "t" : "α", yLabel: "loss", logY: o.log)
        }
        return [RenderedFigure(path: o.output ?? (sweep.base + "-\(table.y != nil ? o.metric : "curves").svg"), svg: svg)]
    }

    /// The stochastic-Lanczos eigenvalue density stored in the `curvature` summary.
    private func densityFigure(_ sweep: StoredSweep, options o: RenderOptions) throws -> RenderedFigure {
        guard let json = try sweep.dataset.summaries()["curvature"],
              let summary = try? JSONDecoder().decode(CurvatureSpec.Summary.self, from: Data(json.utf8)),
              let grid = summary.densityGrid, let values = summary.density else {
            throw ResultsError("\(sweep.path): no eigenvalue density (add curvature.lanczos to the spec and let the sweep finish)")
        }
        let samples = curvature?.samples.map { "\($0) training samples" } ?? "full training set"
        let svg = SVGRenderer.density(grid: grid, density: values, title: "Hessian eigenvalue density at \(centreName)",
                                      subtitle: "stochastic Lanczos quadrature, \(summary.lanczosRuns ?? 0) runs × \(curvature?.lanczosSteps ?? 0) steps, σ = \(String(format: "%.3g", summary.sigma ?? 0)) · \(samples)",
                                      xLabel: "eigenvalue", yLabel: "density", logY: true)
        return RenderedFigure(path: o.output ?? (sweep.base + "-density.svg"), svg: svg)
    }
}
