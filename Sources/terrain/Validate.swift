import ArgumentParser
import TerrainCore
import TerrainSweeps

/// `terrain validate SPEC.yaml`: checks a spec (fields, data files, model shapes) without
/// training.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a spec: its fields, its data files and that the model fits the data, without running it.")

    @Argument(help: "The spec to check.")
    var spec: String

    func run() throws {
        let spec = try CLI.loadSpec(self.spec)
        let (model, train, test) = try CLI.materialize(spec)
        let trainer = try Trainer(model: model, train: train, config: spec.trainingConfig)
        print("\(spec.source): ok — \(spec.model.kind.rawValue) with \(model.parameterCount) parameters, input \(model.inputShape) → \(model.outputs) outputs; \(train.count) training / \(test?.count ?? 0) test samples; \(trainer.totalSteps) steps")
    }
}
