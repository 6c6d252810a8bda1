import Foundation
import TerrainCore
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

    /// The stochastic-Lanczos eigenvalue density of the sweep's Lanczos runs, broadened as
    /// `--sigma` says (default σ = Ritz range/100, as stored in the `curvature` summary). The
    /// figure states the conventions: a probability density (integrates to 1; × P_free for
    /// counts) and how σ was chosen.
    private func densityFigure(_ sweep: StoredSweep, options o: RenderOptions) throws -> RenderedFigure {
        let summary = try curvatureSummary(of: sweep.dataset.completedOutputs(), broadening: o.sigma ?? .standard)
        guard let summary, let grid = summary.densityGrid, let values = summary.density, let sigma = summary.sigma else {
            throw ResultsError("\(sweep.path): no eigenvalue density (add curvature.lanczos to the spec and let its runs finish)")
        }
        let broadening = o.sigma ?? .standard
        let samples = curvature?.samples.map { "\($0) training samples" } ?? "full training set"
        let counts = summary.freeDimension.map { "; × P = \($0) for counts" } ?? ""
        let subtitle = "stochastic Lanczos quadrature, \(summary.lanczosRuns ?? 0) runs × \(curvature?.lanczosSteps ?? 0) steps · "
            + "Gaussian σ = \(String(format: "%.3g", sigma)) (\(broadening.explanation)) · \(samples)"
        let svg = SVGRenderer.density(grid: grid, density: values, title: "Hessian eigenvalue density at \(centreName)", subtitle: subtitle,
                                      xLabel: "eigenvalue λ", yLabel: "probability density (integrates to 1\(counts))", logY: true)
        return RenderedFigure(path: o.output ?? (sweep.base + "-density.svg"), svg: svg)
    }
}
