import ArgumentParser
import TerrainCore
import TerrainSweeps

/// `terrain validate SPEC.yaml`: checks a spec (fields, data files, model shapes) without
/// training.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a training or sweep spec: its fields, its files and that the model fits the data, without running it.")

    @Argument(help: "The spec to check.")
    var spec: String

    func run() throws {
        if let text = try? String(contentsOfFile: self.spec, encoding: .utf8), text.range(of: #"(?m)^kind\s*:"#, options: .regularExpression) != nil {
            // A sweep spec: parse it and expand it (reads its checkpoints and data) without running it.
            let sweep = try CLI.loadSweep(self.spec)
            let tasks: [ExpandedTask]
            do { tasks = try sweep.expand() } catch let e as SpecError { throw CLI.Failure(message: e.description) }
            let kinds = Dictionary(grouping: tasks, by: \.kind).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
            print("\(sweep.source): ok — \(sweep.kind) sweep \(sweep.name) (spec hash \(sweep.hash.prefix(12))): \(tasks.count) tasks (\(kinds))")
            return
        }
        let spec = try CLI.loadSpec(self.spec)
        let (model, train, test) = try CLI.materialize(spec)
        let trainer = try Trainer(model: model, train: train, config: spec.trainingConfig)
        print("\(spec.source): ok — \(spec.model.kind.rawValue) with \(model.parameterCount) parameters, input \(model.inputShape) → \(model.outputs) outputs; \(train.count) training / \(test?.count ?? 0) test samples; \(trainer.totalSteps) steps")
    }
}
