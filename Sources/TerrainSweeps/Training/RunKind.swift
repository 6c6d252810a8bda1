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
    }

    /// The parameters of one `run` task.
    public typealias Params = Networked<Run>

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? { p.training.problem }

    /// A run record of this grid point (its seed and batch size) that can be tabulated.
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: []) { return .reject(problem) }
        let judged = RunRecord.judge(result.output, kind: Self.name, task: task)
        guard case .accept(let rows?) = judged else { return judged }
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
            return TaskOutput(output: try record.encoded(), startStep: start)
        } catch let e as TerrainError {
            throw TaskError("run task \(task): \(e.description)", retryable: false)
        }
    }
}
