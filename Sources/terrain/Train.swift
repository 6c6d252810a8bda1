import ArgumentParser
import Foundation
import TerrainCore
import TerrainSweeps

/// `terrain train SPEC.yaml`: trains a model from a spec, prints progress and writes the
/// final checkpoint.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from a YAML spec and write its checkpoint (safetensors).",
        discussion: """
            The checkpoint holds the model's weights alone, under PyTorch's names: it loads with \
            load_state_dict(strict=True) into the module of docs/checkpoints.md (for the presets \
            resnet20/56/110, their _noshort twins and vgg9: docs/pytorch_presets.py). The optimizer \
            state and step go to a second file beside it, <name>.optimizer.safetensors, which \
            --resume reads; checkpoints written with the state inside (older Terrain) resume too.
            """)

    @Argument(help: "The training spec (see docs/spec.md).")
    var spec: String

    @Option(name: .shortAndLong, help: "Where to write the checkpoint (default: the spec's output, or <name>.safetensors): the model weights alone, a PyTorch state_dict; the optimizer state goes to <name>.optimizer.safetensors beside it.")
    var output: String?

    @Option(help: "Also write a checkpoint every N epochs to <output without .safetensors>.epoch<N>.safetensors (0 = never).")
    var checkpointEvery: Int = 0

    @Option(help: "Resume from this checkpoint: its weights, and the optimizer state and step from the <name>.optimizer.safetensors file written beside it.")
    var resume: String?

    @Flag(help: "Print only the final line.")
    var quiet = false

    func run() throws {
        let spec = try CLI.loadSpec(self.spec)
        let (model, train, test) = try CLI.materialize(spec)
        let trainer = try Trainer(model: model, train: train, config: spec.trainingConfig)
        if let resume {
            let info = try CLI.checkpointErrors { try Checkpoint.load(resume, into: model, optimizer: trainer.optimizer) }
            trainer.resume(atStep: info.step)
        }
        let out = output ?? spec.output ?? "\(spec.name).safetensors"
        if !quiet {
            print("terrain train \(spec.source): \(spec.model.kind.rawValue), \(model.parameterCount) parameters; \(train.count) training / \(test?.count ?? 0) test samples")
            print(model.summary)
            print("\(spec.epochs) epochs × \(trainer.batches.stepsPerEpoch) steps of batch \(spec.batchSize); optimizer \(spec.optimizer.name.rawValue)\(spec.optimizer.samRho.map { " + SAM(ρ=\($0))" } ?? ""), lr \(spec.optimizer.lr)")
        }
        do {
            try trainer.run(test: test) { r in
                if !quiet {
                    var line = String(format: "epoch %3d/%d  step %6d  loss %.4f", r.epoch, spec.epochs, r.step, r.train.loss)
                    if let a = r.train.accuracy { line += String(format: "  acc %5.1f%%", 100 * a) }
                    if let t = r.test {
                        line += String(format: "  test loss %.4f", t.loss)
                        if let a = t.accuracy { line += String(format: "  test acc %5.1f%%", 100 * a) }
                    }
                    line += String(format: "  lr %.3g  %.0f samples/s", r.learningRate, r.samplesPerSecond)
                    print(line)
                }
                if checkpointEvery > 0 && r.epoch % checkpointEvery == 0 {
                    try? Checkpoint.save(model: model, optimizer: trainer.optimizer, step: r.step,
                                         metadata: ["terrain.spec": spec.source],
                                         to: "\(out.hasSuffix(".safetensors") ? String(out.dropLast(12)) : out).epoch\(r.epoch).safetensors")
                }
            }
        } catch let e as TrainingError {
            throw CLI.Failure(message: "\(spec.source): \(e.description); lower optimizer.lr or add warm-up")
        }
        try CLI.checkpointErrors {
            try Checkpoint.save(model: model, optimizer: trainer.optimizer, step: trainer.step,
                                metadata: ["terrain.spec": spec.source, "terrain.seed": String(spec.seed)], to: out)
        }
        let trainMetrics = Evaluator.evaluate(model, on: train, loss: spec.loss)
        var final = String(format: "final: train loss %.6f", trainMetrics.loss)
        if let a = trainMetrics.accuracy { final += String(format: ", train accuracy %.2f%%", 100 * a) }
        if let test {
            let m = Evaluator.evaluate(model, on: test, loss: spec.loss)
            final += String(format: ", test loss %.6f", m.loss)
            if let a = m.accuracy { final += String(format: ", test accuracy %.2f%%", 100 * a) }
        }
        print(final + "; checkpoint \(out) (optimizer state \(Checkpoint.optimizerStatePath(for: out)))")
    }
}
