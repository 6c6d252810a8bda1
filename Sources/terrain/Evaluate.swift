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

    @Option(help: "Also compute this many top Hessian eigenvalues of the training loss (power iteration).")
    var eigenvalues: Int = 0

    @Option(help: "Samples of the training set used for the Hessian (a fixed seeded subset; 0 = all).")
    var hessianSamples: Int = 0

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
            let data = hessianSamples > 0 ? train.subset(hessianSamples, seed: spec.dataSeed) : train
            let h = try CLI.checkpointErrors { try HessianOperator(model: model, data: data, loss: spec.loss) }
            for (i, pair) in h.topEigenpairs(k: eigenvalues, seed: spec.seed).enumerated() {
                print(String(format: "λ%d = %.6g  (%d iterations%@)", i + 1, pair.value, pair.iterations, pair.converged ? "" : ", not converged"))
            }
        }
    }
}
