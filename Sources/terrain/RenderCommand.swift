import ArgumentParser
import Foundation
import TerrainCore
import TerrainExport
import TerrainSweeps

/// `terrain render DATASET`: an SVG of a surface sweep.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a sweep as SVG: a surface heatmap with contours (2-D) or curves (1-D); test accuracy against density for a lottery sweep; batch-size figures for a training sweep.",
        discussion: """
            Lottery sweeps: --figure accuracy (the default: final test accuracy against density, log scale, mean ± one standard deviation over seeds, per branch), curves (test accuracy along training of the main chain, one line per level), or all.
            Training sweeps: --figure heatmap (default; batch size × learning rate, mean test accuracy, diverged cells marked), accuracy (test accuracy against batch size per learning rate), lambda (final λmax against batch size, with the edge-of-stability threshold per learning rate), sharpness (λmax along training per learning rate, one figure per batch size, against (2+2β)/η; needs curvature.every_epochs), or all (every figure, default names).
            """)

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

    @Flag(help: "Draw the Hessian eigenvalue density (stochastic Lanczos quadrature) of the sweep's curvature section instead: a probability density (integrates to 1; multiply by the free parameter count for eigenvalue counts).")
    var density = false

    @Option(help: "With --density: the Gaussian broadening σ, as a number (eigenvalue units), range/N (σ = Ritz range/N; default range/100) or pyhessian (σ² = 1e-5·max(1, range), PyHessian's density_generate).")
    var sigma: String?

    @Option(help: "Lottery and training sweeps: the figure (accuracy, heatmap, lambda, all).")
    var figure: String?

    func run() throws {
        let figures: [RenderedFigure]
        var broadening: SpectralDensity.Broadening?
        if let sigma {
            guard density else { throw CLI.Failure(message: "--sigma sets the broadening of the eigenvalue density: use it with --density") }
            do { broadening = try SpectralDensity.Broadening(parsing: sigma) } catch TerrainError.invalidArgument(let m) {
                throw CLI.Failure(message: "--sigma: \(m)")
            }
        }
        do {
            let sweep = try StoredSweep(path: dataset)
            let options = RenderOptions(output: output, metric: metric, log: log, contours: contours, maxCells: maxCells, density: density,
                                        sigma: broadening, figure: figure)
            figures = try sweep.sweepKind.render(sweep, options: options)
        } catch let e as ResultsError {
            throw CLI.Failure(message: e.message)
        }
        for f in figures {
            do { try f.svg.write(toFile: f.path, atomically: true, encoding: .utf8) } catch {
                throw CLI.Failure(message: "\(f.path): cannot write the file: \(CLI.reason(error))")
            }
            print("wrote \(f.path)")
        }
    }
}
