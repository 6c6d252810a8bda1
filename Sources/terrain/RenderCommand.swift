import ArgumentParser
import Foundation
import TerrainCoordinator
import TerrainExport
import TerrainSweeps

/// `terrain render DATASET`: an SVG of a surface sweep.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a surface sweep as SVG: a heatmap with contour lines and a colour bar (2-D), or train/test curves (1-D).")

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    @Option(name: .shortAndLong, help: "Output SVG (default: <dataset>-<metric>.svg for 2-D, <dataset>-curves.svg for 1-D, <dataset>-density.svg with --density).")
    var output: String?

    @Option(help: "2-D: the metric to draw (train_loss, train_acc, test_loss, test_acc).")
    var metric: String = "train_loss"

    @Flag(help: "Logarithmic colour scale (2-D) or y axis (1-D).")
    var log = false

    @Option(help: "2-D: number of contour levels.")
    var contours: Int = 12

    @Option(help: "2-D: grids larger than this many points per axis are drawn from block means (exports keep every point).")
    var maxCells: Int = 251

    @Flag(help: "Draw the Hessian eigenvalue density (stochastic Lanczos quadrature) of the sweep's curvature section instead.")
    var density = false

    func run() throws {
        let (table, spec, sweep) = try SurfaceResults.load(dataset)
        if density {
            let ds = try SweepDataset(path: dataset, readOnly: true)
            guard let json = try ds.summaries()["curvature"],
                  let summary = try? JSONDecoder().decode(CurvatureSpec.Summary.self, from: Data(json.utf8)),
                  let grid = summary.densityGrid, let values = summary.density else {
                throw CLI.Failure(message: "\(dataset): no eigenvalue density (add curvature.lanczos to the spec and let the sweep finish)")
            }
            let samples = spec.curvature?.samples.map { "\($0) training samples" } ?? "full training set"
            let svg = SVGRenderer.density(grid: grid, density: values,
                                          title: "Hessian eigenvalue density at \(SurfaceResults.centreName(spec))",
                                          subtitle: "stochastic Lanczos quadrature, \(summary.lanczosRuns ?? 0) runs × \(spec.curvature?.lanczosSteps ?? 0) steps, σ = \(String(format: "%.3g", summary.sigma ?? 0)) · \(samples)",
                                          xLabel: "eigenvalue", yLabel: "density", logY: true)
            let out = output ?? ((dataset as NSString).deletingPathExtension + "-density.svg")
            do { try svg.write(toFile: out, atomically: true, encoding: .utf8) } catch {
                throw CLI.Failure(message: "\(out): cannot write: \(error.localizedDescription)")
            }
            print("wrote \(out)")
            return
        }
        let subtitle = SurfaceResults.describe(spec, metric: metric)
        let title: String
        let svg: String
        let name = SurfaceResults.centreName(spec)
        if let y = table.y {
            guard let values = table.values(of: metric) else {
                throw ValidationError("no metric '\(metric)'; the dataset has \(table.metricNames.joined(separator: ", "))")
            }
            title = "\(metric) around \(name) (\(sweep.name))"
            // Very large grids are drawn from block means (at most maxCells per axis) so that
            // the SVG stays light enough for a browser; exports keep every point.
            let (dx, dy, dv, factor) = GridDownsampling.blockMeans(x: table.x, y: y, values: values, maxCells: maxCells)
            let drawn = factor > 1 ? subtitle + " · \(factor)×\(factor) block means" : subtitle
            svg = SVGRenderer.heatmap(x: dx, y: dy, values: dv, title: title, subtitle: drawn, xLabel: "α (direction 1)",
                                      yLabel: "β (direction 2)", valueLabel: log ? "\(metric) (log scale)" : metric, logScale: log,
                                      contourLevels: contours, marker: (0, 0))
        } else {
            title = spec.directionKind == .interpolation ? "\(name) → \(((spec.target ?? "") as NSString).lastPathComponent)"
                                                          : "1-D slice around \(name) (\(sweep.name))"
            let losses = table.metrics.filter { $0.name.hasSuffix("_loss") }.map { (label: $0.name, values: $0.values) }
            svg = SVGRenderer.curves(x: table.x, series: losses, title: title, subtitle: subtitle,
                                     xLabel: spec.directionKind == .interpolation ? "t" : "α", yLabel: "loss", logY: log)
        }
        let out = output ?? ((dataset as NSString).deletingPathExtension + "-\(table.y != nil ? metric : "curves").svg")
        do { try svg.write(toFile: out, atomically: true, encoding: .utf8) } catch {
            throw CLI.Failure(message: "\(out): cannot write: \(error.localizedDescription)")
        }
        print("wrote \(out)")
    }
}
