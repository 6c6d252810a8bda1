import Foundation
import TerrainCore

/// Runs `train` tasks: trains θ* for a surface sweep that has `surface.train` instead of a
/// checkpoint, and returns it as the artifact `centre` (safetensors, model tensors only).
public struct TrainRunner: TaskRunner {
    public var kind: String { "train" }

    /// Creates the runner.
    public init() {}

    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput]) throws -> TaskOutput {
        let p: SurfaceSpec.TrainParams
        do { p = try JSONDecoder().decode(SurfaceSpec.TrainParams.self, from: Data(params)) } catch {
            throw TaskError("train task \(task): unreadable parameters: \(error)", retryable: false)
        }
        let (train, _) = try SurfaceRunner.loadData(p.data, sha256: p.dataSHA256, seed: p.dataSeed)
        let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs,
                                                         seed: TerrainRNG.derive(p.training.seed, "init"))
        let config = TrainingConfig(batchSize: p.training.batchSize, epochs: p.training.epochs, seed: TerrainRNG.derive(p.training.seed, "data"),
                                    optimizer: p.training.optimizer, schedule: p.training.schedule, loss: p.loss)
        do {
            try Trainer(model: model, train: train, config: config).run()
        } catch let e as TrainingError {
            throw TaskError("train task \(task): \(e.description)", retryable: false)
        }
        let bytes = SafeTensors.encode(Checkpoint.tensors(model: model), metadata: ["format": "pt", "terrain.trained_by": "surface sweep task \(task)"])
        let metrics = Evaluator.evaluate(model, on: train, loss: p.loss)
        let summary = try JSONEncoder().encode(["train_loss": metrics.loss, "train_acc": metrics.accuracy ?? .nan])
        return TaskOutput(output: [UInt8](summary), blobs: [("centre", bytes)])
    }
}

/// Runs `directions` tasks: computes the surface directions around a θ* produced by a
/// `train` task (input `centre`), returned as the artifacts `d1` (and `d2`), raw Float32.
public struct DirectionsRunner: TaskRunner {
    public var kind: String { "directions" }

    /// Creates the runner.
    public init() {}

    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput]) throws -> TaskOutput {
        let p: SurfaceSpec.DirectionsParams
        do { p = try JSONDecoder().decode(SurfaceSpec.DirectionsParams.self, from: Data(params)) } catch {
            throw TaskError("directions task \(task): unreadable parameters: \(error)", retryable: false)
        }
        guard let centre = inputs.first(where: { $0.name == "centre" }) else {
            throw TaskError("directions task \(task): missing input centre", retryable: false)
        }
        // Only the sample shape and class count are needed here; no hash check (the tasks that
        // evaluate the data check it).
        let (train, _) = try DataLoader.load(p.data, baseDirectory: "/", seed: p.dataSeed, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        try Checkpoint.apply(try SafeTensors.decode(centre.data, source: "centre").tensors, source: "centre", to: model)
        let space = ParameterSpace(model)
        let d = try SurfaceSpec.directions(p, centre: space.values(), layout: space.layout, dataShape: train.sampleShape, outputs: train.outputs)
        var blobs: [(name: String, data: [UInt8])] = [("d1", d.d1.withUnsafeBytes { Array($0) })]
        if let d2 = d.d2 { blobs.append(("d2", d2.withUnsafeBytes { Array($0) })) }
        return TaskOutput(output: Array("{}".utf8), blobs: blobs)
    }
}
