import Foundation
import TerrainCore

/// The `train` task kind: trains θ* for a surface sweep that has `surface.train` instead of a
/// checkpoint, and returns it as the artifact `centre` (safetensors, model tensors only).
public struct TrainKind: TaskKind {
    public static let name = "train"

    /// How θ* is trained.
    public struct Own: Codable, Sendable, Equatable {
        public var training: SurfaceSpec.TrainingSection
    }

    /// The parameters of the `train` task.
    public typealias Params = Networked<Own>

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        let t = p.own.training
        guard (1...SweepLimits.batchSize).contains(t.batchSize), (0...SweepLimits.stepsPerRun).contains(t.epochs) else {
            return "batch_size \(t.batchSize), epochs \(t.epochs)"
        }
        return nil
    }

    /// A safetensors file starts with its JSON header's length (u64 little-endian), then `{`.
    static func looksLikeSafeTensors(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > 8 else { return false }
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return length >= 2 && length <= UInt64(bytes.count - 8) && bytes[8] == UInt8(ascii: "{")
    }

    /// A JSON summary of the trained centre's loss, and the `centre` checkpoint (safetensors).
    public func judge(_ result: TaskOutput, params: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: ["centre"]) { return .reject(problem) }
        guard (try? JSONSerialization.jsonObject(with: Data(result.output))) is [String: Any] else {
            return .reject("the output is not a JSON object")
        }
        guard Self.looksLikeSafeTensors(result.blobs[0].data) else { return .reject("the 'centre' blob is not a safetensors file") }
        return .accept(nil)
    }

    public func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = task.params
        let (train, _) = try p.network.loadData()
        let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs,
                                                         seed: TerrainRNG.derive(p.training.seed, "init"))
        let config = TrainingConfig(batchSize: p.training.batchSize, epochs: p.training.epochs, seed: TerrainRNG.derive(p.training.seed, "data"),
                                    optimizer: p.training.optimizer, schedule: p.training.schedule, loss: p.loss)
        do {
            try Trainer(model: model, train: train, config: config).run()
        } catch let e as TrainingError {
            throw task.failure(e.description)
        }
        let bytes = SafeTensors.encode(Checkpoint.tensors(model: model), metadata: ["format": "pt", "terrain.trained_by": "surface sweep task \(task.task)"])
        let metrics = Evaluator.evaluate(model, on: train, loss: p.loss)
        // Sorted keys: a dictionary's order changes from process to process, and a retried
        // task must store the same bytes (caught by the convexity chaos test).
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard metrics.loss.isFinite else { throw task.failure("the trained centre's training loss is \(metrics.loss)") }
        // No accuracy for regression targets (MSE on values): the key is left out, not NaN
        // (which JSON cannot hold).
        let summary = try encoder.encode(CentreSummary(trainLoss: metrics.loss, trainAccuracy: metrics.accuracy))
        return TaskOutput(output: [UInt8](summary), blobs: [("centre", bytes)])
    }
}

/// What a `train` task reports about θ*: its training loss and, for class targets, accuracy.
struct CentreSummary: Encodable {
    var trainLoss: Double
    var trainAccuracy: Double?
    enum CodingKeys: String, CodingKey { case trainLoss = "train_loss", trainAccuracy = "train_acc" }
}

/// The `directions` task kind: computes the surface directions around a θ* produced by a
/// `train` task (input `centre`), returned as the artifacts `d1` (and `d2`), raw Float32.
public struct DirectionsKind: TaskKind {
    public static let name = "directions"
    public typealias Params = SurfaceSpec.DirectionsParams

    /// Creates the kind.
    public init() {}

    /// `d1` (and `d2` for a 2-D surface): raw Float32 vectors of equal, non-zero length with
    /// finite entries.
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: p.twoDimensional ? ["d1", "d2"] : ["d1"]) { return .reject(problem) }
        let n = result.blobs[0].data.count
        for b in result.blobs {
            guard b.data.count == n, n % 4 == 0 else { return .reject("direction '\(b.name)' has \(b.data.count) bytes (d1 has \(n))") }
            let finite = b.data.withUnsafeBytes { raw in
                (0..<(n / 4)).allSatisfy { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self).isFinite }
            }
            guard finite else { return .reject("direction '\(b.name)' has non-finite entries") }
        }
        return .accept(nil)
    }

    public func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = task.params
        let centre = try task.input("centre")
        // Only the sample shape and class count are needed here; no hash check (the tasks that
        // evaluate the data check it).
        let (train, _) = try DataLoader.load(p.data.withLocalFiles, baseDirectory: "/", seed: p.dataSeed, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        try Checkpoint.apply(try SafeTensors.decode(centre, source: "centre").tensors, source: "centre", to: model)
        let space = p.space(of: model)
        let d = try SurfaceSpec.directions(p, centre: space.values(), layout: space.layout, dataShape: train.sampleShape, outputs: train.outputs,
                                           model: model, train: train)
        var blobs: [(name: String, data: [UInt8])] = [("d1", d.d1.withUnsafeBytes { Array($0) })]
        if let d2 = d.d2 { blobs.append(("d2", d2.withUnsafeBytes { Array($0) })) }
        return TaskOutput(output: Array("{}".utf8), blobs: blobs)
    }
}
