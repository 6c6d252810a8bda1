import ArgumentParser
import Foundation
import TerrainCore
import TerrainSweeps

/// `terrain evaluate SPEC.yaml CHECKPOINT`: loss and accuracy of a checkpoint on the spec's
/// data, and optionally the top Hessian eigenvalues.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on a spec's data (loss, accuracy, optionally top Hessian eigenvalues).")

    @Argument(help: "The spec the checkpoint was trained from (its model and data sections are used).")
    var spec: String

    @Argument(help: "The checkpoint (safetensors).")
    var checkpoint: String

    @Option(help: "Also compute this many Hessian eigenvalues of the training loss: the largest in magnitude (power iteration with deflation; a negative eigenvalue larger in size than a positive one comes first), each with its residual ‖Hv − λv‖.")
    var eigenvalues: Int = 0

    @Option(help: "Power iteration stops when an eigenvalue changes by at most this fraction between iterations (the sweeps' curvature.eigenvalues use the same default).")
    var eigenTolerance: Double = PowerIteration.defaultTolerance

    @Option(help: "The cap on power iterations per eigenvalue.")
    var eigenIterations: Int = PowerIteration.defaultMaxIterations

    @Option(help: "Samples of the training set used for the Hessian (a fixed seeded subset; 0 = all).")
    var hessianSamples: Int = 0

    @Option(help: "Also run Lanczos for this many steps and print λ_max, λ_min (the most negative eigenvalue), |λ_min/λ_max| and the spectral mass below zero (0 = no).")
    var lanczosSteps: Int = 0

    @Flag(help: "Also print per-layer spectra: λ_max, λ_min and trace of each parameter group's Hessian block.")
    var layers = false

    @Option(help: "Write the per-layer spectra as CSV here (implies --layers).")
    var layersCSV: String?

    @Option(help: "Hutchinson probes for the per-layer traces.")
    var layerProbes: Int = 16

    func run() throws {
        let spec = try CLI.loadSpec(self.spec)
        let (model, train, test) = try CLI.materialize(spec)
        try CLI.checkpointErrors { _ = try Checkpoint.load(checkpoint, into: model) }
        let m = Evaluator.evaluate(model, on: train, loss: spec.loss)
        print(String(format: "train loss %.6f", m.loss) + (m.accuracy.map { String(format: "  accuracy %.2f%%", 100 * $0) } ?? ""))
        if let test {
            let t = Evaluator.evaluate(model, on: test, loss: spec.loss)
            print(String(format: "test  loss %.6f", t.loss) + (t.accuracy.map { String(format: "  accuracy %.2f%%", 100 * $0) } ?? ""))
        }
        if eigenvalues > 0 {
            guard eigenTolerance > 0, eigenTolerance < 1 else { throw CLI.Failure(message: "--eigen-tolerance: expected a number in (0, 1), e.g. 1e-5") }
            guard eigenIterations >= 1 else { throw CLI.Failure(message: "--eigen-iterations: expected a positive number") }
            let data = hessianSamples > 0 ? train.subset(hessianSamples, seed: spec.dataSeed) : train
            let h = try CLI.checkpointErrors { try HessianOperator(model: model, data: data, loss: spec.loss) }
            print("Hessian eigenvalues of largest magnitude (power iteration with deflation, relative tolerance "
                  + "\(eigenTolerance), \(data.count) samples, \(h.freeDimension) parameters):")
            for (i, pair) in h.topEigenpairs(k: eigenvalues, maxIterations: eigenIterations, tolerance: eigenTolerance, seed: spec.seed).enumerated() {
                print(String(format: "λ%d = %.6g  residual ‖Hv − λv‖ = %.2g  (%d iterations%@)", i + 1, pair.value, pair.residual,
                             pair.iterations, pair.converged ? "" : ", not converged: raise --eigen-iterations"))
            }
        }
        try curvatureExtras(spec: spec, model: model, train: train)
    }
}
