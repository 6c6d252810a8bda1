import Foundation
import TerrainCore
import Yams

/// A training run described in YAML — what `terrain train SPEC.yaml` runs.
///
/// ```yaml
/// name: mlp-mnist1d
/// seed: 0
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
/// schedule: {kind: cosine}
/// training: {batch_size: 128, epochs: 20}
/// ```
/// The full format is in docs/spec.md. Unknown keys are errors (a typo must not silently
/// fall back to a default).
public struct TrainSpec: Sendable, Equatable {
    /// A label for logs and output names.
    public var name: String
    /// The seed of initialization, data order, subsets and dropout.
    public var seed: UInt64
    /// The network.
    public var model: ModelSpec
    /// The data.
    public var data: DataSpec
    /// The optimizer.
    public var optimizer: OptimizerSpec
    /// The learning-rate schedule.
    public var schedule: LearningRateSchedule
    /// Batch size.
    public var batchSize: Int
    /// Epochs.
    public var epochs: Int
    /// The loss.
    public var loss: LossKind
    /// Where the final checkpoint goes (relative to the working directory); default
    /// `<name>.safetensors`.
    public var output: String?
    /// The directory of the spec file, against which data paths are resolved.
    public var baseDirectory: String
    /// The file the spec came from (for messages).
    public var source: String

    static let topKeys = ["name", "seed", "model", "data", "optimizer", "schedule", "training", "output"]
    static let trainingKeys = ["batch_size", "epochs", "loss"]

    /// The seed of the model's initialization.
    public var initSeed: UInt64 { TerrainRNG.derive(seed, "init") }
    /// The seed of data order, subsets and dropout.
    public var dataSeed: UInt64 { TerrainRNG.derive(seed, "data") }

    /// The training configuration this spec describes.
    public var trainingConfig: TrainingConfig {
        TrainingConfig(batchSize: batchSize, epochs: epochs, seed: dataSeed, optimizer: optimizer,
                       schedule: schedule, loss: loss)
    }

    /// Reads and checks a spec file. Throws ``SpecError`` naming the file and field.
    public static func load(path: String) throws -> TrainSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpecError(file: path, message: "cannot read the file (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpecError(file: path, message: "not UTF-8 text")
        }
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(text, source: path, baseDirectory: dir)
    }

    /// Parses and checks spec text.
    public static func parse(_ text: String, source: String = "<string>", baseDirectory: String = ".") throws -> TrainSpec {
        let root = try SpecYAML.mapping(text, source: source)
        if let kind = root["kind"]?.string {
            throw SpecError(file: source, message: "this is a sweep spec (kind: \(kind)); run it with `terrain run` or `terrain coordinator` (`terrain validate` checks both kinds)")
        }
        try SpecYAML.checkKeys(root, allowed: topKeys, section: nil, source: source)
        for (key, allowed) in [("model", ModelSpec.allowedKeys), ("data", DataSpec.allowedKeys),
                               ("optimizer", OptimizerSpec.allowedKeys), ("schedule", LearningRateSchedule.allowedKeys),
                               ("training", trainingKeys)] {
            if let node = root[key] {
                try SpecYAML.checkKeys(node, allowed: allowed, section: key, source: source)
            }
        }
        for required in ["model", "data", "optimizer", "training"] where root[required] == nil {
            throw SpecError(file: source, message: "missing section '\(required):'")
        }
        let model: ModelSpec = try SpecYAML.decode(root["model"]!, section: "model", source: source)
        let data: DataSpec = try SpecYAML.decode(root["data"]!, section: "data", source: source)
        let optimizer: OptimizerSpec = try SpecYAML.decode(root["optimizer"]!, section: "optimizer", source: source)
        let schedule: LearningRateSchedule = try root["schedule"].map {
            try SpecYAML.decode($0, section: "schedule", source: source)
        } ?? LearningRateSchedule()
        let training = root["training"]!
        guard let batch = training["batch_size"]?.int else {
            throw SpecError(file: source, message: "training.batch_size: required, a positive integer")
        }
        guard let epochs = training["epochs"]?.int else {
            throw SpecError(file: source, message: "training.epochs: required, a non-negative integer")
        }
        var loss = LossKind.crossEntropy
        if let l = training["loss"] {
            guard let s = l.string, let k = LossKind(rawValue: s) else {
                throw SpecError(file: source, message: "training.loss: expected one of \(LossKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            loss = k
        }
        var seed: UInt64 = 0
        if let s = root["seed"] {
            guard let i = s.int, i >= 0 else { throw SpecError(file: source, message: "seed: expected a non-negative integer") }
            seed = UInt64(i)
        }
        let spec = TrainSpec(
            name: root["name"]?.string ?? ((source as NSString).lastPathComponent as NSString).deletingPathExtension,
            seed: seed, model: model, data: data, optimizer: optimizer, schedule: schedule,
            batchSize: batch, epochs: epochs, loss: loss, output: root["output"]?.string,
            baseDirectory: baseDirectory, source: source)
        try spec.validate()
        return spec
    }

    /// Checks every section's values (not the data files).
    public func validate() throws {
        do {
            try model.validate()
            try data.validate()
            try optimizer.validate()
            try schedule.validate()
        } catch let e as TerrainError {
            throw SpecError(file: source, message: e.description)
        }
        if batchSize <= 0 { throw SpecError(file: source, message: "training.batch_size must be positive, got \(batchSize)") }
        if epochs < 0 { throw SpecError(file: source, message: "training.epochs must be ≥ 0, got \(epochs)") }
        try SweepLimits.check(batchSize, atMost: SweepLimits.batchSize, field: "training.batch_size", what: "samples per step", source: source)
        try SweepLimits.check(epochs, atMost: SweepLimits.stepsPerRun, field: "training.epochs", what: "steps per run", source: source)
        if loss == .crossEntropy && data.targets == "values" {
            throw SpecError(file: source, message: "training.loss cross_entropy needs data.targets: classes")
        }
    }

    /// Loads the data and builds the model, checking that they fit together.
    public func materialize() throws -> (model: Model<Float>, train: Dataset<Float>, test: Dataset<Float>?) {
        do {
            let (train, test) = try DataLoader.load(data, baseDirectory: baseDirectory, seed: dataSeed, as: Float.self)
            _ = try SweepLimits.steps(epochs: epochs, samples: train.count, batchSize: batchSize, field: "training.epochs", source: source)
            let model = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs,
                                               seed: initSeed, as: Float.self)
            return (model, train, test)
        } catch let e as TerrainError {
            throw SpecError(file: source, message: e.description)
        }
    }
}
