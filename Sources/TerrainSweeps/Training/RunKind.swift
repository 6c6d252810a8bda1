import Foundation
import TerrainCore

/// The `run` task kind: one full training run of a batch-size / learning-rate grid (see
/// ``TrainingGridSpec``). Its output is a ``RunRecord``, which the coordinator tabulates into
/// the `runs` and `curve_points` tables; checkpoints let a retry resume bit-identically.
public struct RunKind: TaskKind {
    public static let name = "run"

    /// One grid point: how it trains, its replicate seed and its optimizer's label.
    public struct Run: Codable, Sendable, Equatable {
        public var training: RunTraining
        public var seed: UInt64
        /// `sgd`, `adam`, `adamw`, or the base optimizer with `+sam`.
        public var optimizerLabel: String
        public var curvature: RunCurvature?
        /// Record the model's width and parameter count (a grid over `width` or `hidden`);
        /// a run with `model.width` or `data.label_noise` records them anyway.
        public var capacity: Bool? = nil
    }

    /// The parameters of one `run` task.
    public typealias Params = Networked<Run>

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? { p.training.problem }

    /// A run record of this grid point (its seed and batch size) that can be tabulated.
    /// With SWA, a completed run also carries its averaged outcome and the `final` and `swa`
    /// weights (safetensors).
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        let judged = RunRecord.judge(result.output, kind: Self.name, task: task)
        guard case .accept(let rows?) = judged else {
            if let problem = Self.blobProblem(result, expected: []) { return .reject(problem) }
            return judged
        }
        let averaged = p.training.swa != nil && rows.run.status == "completed"
        if let problem = Self.blobProblem(result, expected: averaged ? ["final", "swa"] : []) { return .reject(problem) }
        if averaged {
            guard result.blobs.allSatisfy({ TrainKind.looksLikeSafeTensors($0.data) }) else {
                return .reject("the 'final' and 'swa' blobs must be safetensors files")
            }
            guard (rows.variant?.swaAveraged ?? 0) > 0 else { return .reject("a completed SWA run must record its averaged solution") }
        }
        guard rows.run.seed == Int64(bitPattern: p.seed), rows.run.batchSize == p.training.batchSize else {
            return .reject("the run record is of seed \(rows.run.seed), batch size \(rows.run.batchSize); the task is seed \(p.seed), batch size \(p.training.batchSize)")
        }
        return judged
    }

    public func run(_ run: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = run.params, task = run.task
        let data = try RunData.load(p.network, validationSamples: p.training.validationSamples)
        let train = data.train
        do {
            func fresh() throws -> RunEngine {
                let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs,
                                                                 seed: TerrainRNG.derive(p.seed, "init"))
                return try RunEngine(model: model, data: data, spec: p.training, loss: p.loss,
                                     dataOrderSeed: TerrainRNG.derive(p.seed, "data"), curvature: p.curvature)
            }
            var engine = try fresh()
            if let saved = run.checkpoint {
                do {
                    try engine.restore(saved, source: "checkpoint of run task \(task)")
                } catch {
                    // An unusable checkpoint costs time, not the task: start over.
                    FileHandle.standardError.write(Data("run task \(task): ignoring its checkpoint (\(error)); starting from step 0\n".utf8))
                    engine = try fresh()
                }
            }
            let start = engine.startStep
            let outcome = try engine.run(context: context)
            let t = p.training
            var record = RunRecord(kind: Self.name, seed: p.seed, batchSize: t.batchSize, learningRate: t.optimizer.lr,
                                   effectiveLearningRate: t.schedule.scaledBaseRate(t.optimizer.lr, batchSize: t.batchSize),
                                   optimizer: p.optimizerLabel, momentum: t.optimizer.momentum, weightDecay: t.optimizer.weightDecay,
                                   status: "", totalSteps: 0, curve: [])
            engine.finish(outcome, into: &record)
            if p.model.width != nil || p.data.labelNoise != nil || p.capacity == true {
                Self.describeCapacity(p, model: engine.model, trainingSamples: data.train.count + (data.validation?.count ?? 0), into: &record)
            }
            var blobs = [(name: String, data: [UInt8])]()
            if outcome == .completed, let swa = try engine.finishSWA(task: task) {
                record.swa = swa.outcome
                blobs = swa.blobs
            }
            return TaskOutput(output: try record.encoded(), blobs: blobs, startStep: start)
        } catch let e as TerrainError {
            throw TaskError("run task \(task): \(e.description)", retryable: false)
        }
    }
}

extension RunKind {
    /// Fills the double-descent fields of `record`: width multiplier, widths as built,
    /// parameter count, label-noise fraction and the number of labels it changed among the
    /// `trainingSamples` loaded (before any validation hold-out).
    static func describeCapacity(_ p: Params, model: Model<Float>, trainingSamples: Int, into record: inout RunRecord) {
        let spec = p.model.widened()
        record.width = p.model.width ?? 1
        switch spec.kind {
        case .mlp: record.widths = spec.hidden
        case .cnn, .resnet: record.widths = spec.channels
        case .vgg9: record.widths = [64, 128, 256].map(spec.scaledWidth)
        default: record.widths = [16, 32, 64].map(spec.scaledWidth)
        }
        record.parameters = model.parameters.reduce(0) { $0 + $1.value.count }
        record.labelNoise = p.data.labelNoise
        record.noisyLabels = p.data.labelNoise.map { LabelNoise.count(fraction: $0, samples: trainingSamples) }
    }
}
