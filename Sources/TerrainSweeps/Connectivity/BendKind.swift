import Foundation
import TerrainCore

/// The `bend` task kind: trains the control point θ_C of a quadratic Bezier curve or a
/// one-bend polygonal chain between two fixed end points (Garipov et al. 2018) with
/// ``CurveTrainer`` — t ~ U(0, 1) from Terrain's RNG at every step — and returns θ_C as the
/// `bend` blob (safetensors, PyTorch names). Checkpoints (θ_C, the optimizer state and the
/// curve so far) let a retry resume bit-identically.
///
/// The output is a ``RunRecord`` of kind `bend` with `branch` the curve's shape; its curve
/// points hold the mean mini-batch loss and accuracy of the steps since the previous point,
/// each at its own t (the objective E_t L(φ(t)) being minimized), without test metrics.
public struct BendKind: TaskKind {
    public static let name = "bend"

    /// One curve's training.
    public struct Bend: Codable, Sendable, Equatable {
        public var training: RunTraining
        public var shape: PathShape
        /// Seeds the t draws, the data order and dropout.
        public var seed: UInt64
        public var a: PathSource
        public var b: PathSource
    }

    /// The parameters of one `bend` task.
    public typealias Params = Networked<Bend>

    /// What a checkpoint carries besides tensors.
    struct State: Codable, Equatable {
        var step: Int
        var optimizerSteps: Int
        var curve: [CurvePoint]
        var lossSum: Double
        var correct: Int
        var seen: Int
    }

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        guard p.shape.hasBend else { return "a \(p.shape.rawValue) has no bend to train" }
        guard p.training.optimizer.samRho == nil else { return "curve training does not use SAM" }
        return p.training.problem
    }

    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: ["bend"]) { return .reject(problem) }
        let judged = RunRecord.judge(result.output, kind: Self.name, task: task)
        guard case .accept(let rows?) = judged else { return judged }
        guard rows.run.seed == Int64(bitPattern: p.seed), rows.run.branch == p.shape.rawValue else {
            return .reject("the record is of seed \(rows.run.seed), shape \(rows.run.branch ?? "none"); the task is seed \(p.seed), \(p.shape.rawValue)")
        }
        return judged
    }

    public func run(_ run: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = run.params, task = run.task
        let data = try RunData.load(p.network, validationSamples: p.training.validationSamples)
        do {
            let build = { () throws -> Model<Float> in
                try ModelBuilder.build(p.model, dataShape: data.train.sampleShape, outputs: data.train.outputs, seed: 0)
            }
            let work = try build(), bend = try build()
            let a = try p.a.values(in: run, model: work), b = try p.b.values(in: run, model: work)
            let t = p.training
            let config = TrainingConfig(batchSize: t.batchSize, epochs: t.epochs, seed: p.seed, optimizer: t.optimizer, schedule: t.schedule,
                                        loss: p.loss, divergenceThreshold: t.divergeAbove)
            let trainer = try CurveTrainer(model: work, bend: bend, shape: p.shape, a: a, b: b, train: data.train, config: config)
            var state = State(step: 0, optimizerSteps: 0, curve: [], lossSum: 0, correct: 0, seen: 0)
            if let saved = run.checkpoint {
                do {
                    let decoded = try SafeTensors.decode(saved, source: "checkpoint of bend task \(task)")
                    guard let json = decoded.metadata["terrain.run_state"],
                          let s = try? JSONDecoder.runState.decode(State.self, from: Data(json.utf8)) else {
                        throw TerrainError.invalidCheckpoint("no run state in the checkpoint")
                    }
                    try Checkpoint.apply(decoded.tensors, source: "checkpoint of bend task \(task)", to: bend, optimizer: trainer.optimizer)
                    state = s
                    trainer.resume(atStep: s.step, optimizerSteps: s.optimizerSteps)
                } catch {
                    FileHandle.standardError.write(Data("bend task \(task): ignoring its checkpoint (\(error)); starting over\n".utf8))
                    return try self.run(TaskRun(kind: run.kind, task: task, attempt: run.attempt, params: p,
                                                inputs: run.inputs.filter { $0.name != TaskContext.checkpointInput || $0.task != task }), context: context)
                }
            }
            let startStep = trainer.step
            let total = trainer.totalSteps, perEpoch = trainer.batches.stepsPerEpoch
            while trainer.step < total {
                let r = trainer.trainStep()
                guard r.loss.isFinite, r.loss <= t.divergeAbove else {
                    throw TaskError("bend task \(task): the \(p.shape.rawValue) curve's training diverged at step \(r.step) (loss \(r.loss)); lower curve_training's learning rate", retryable: false)
                }
                state.lossSum += r.loss * Double(r.count)
                state.correct += r.correct
                state.seen += r.count
                let s = trainer.step
                if (t.evalEvery > 0 && s % t.evalEvery == 0) || s % perEpoch == 0 || s == total {
                    let classes = p.loss == .crossEntropy
                    state.curve.append(CurvePoint(step: s, epoch: Double(s) / Double(perEpoch), trainLoss: state.lossSum / Double(state.seen),
                                                  trainAccuracy: classes ? Double(state.correct) / Double(state.seen) : nil,
                                                  testLoss: nil, testAccuracy: nil, learningRate: r.learningRate))
                    state.lossSum = 0
                    state.correct = 0
                    state.seen = 0
                }
                if s % perEpoch == 0, t.checkpointEvery > 0, (s / perEpoch) % t.checkpointEvery == 0, s < total {
                    state.step = s
                    state.optimizerSteps = trainer.optimizer.stepCount
                    let json = String(decoding: try JSONEncoder.runState.encode(state), as: UTF8.self)
                    context.checkpoint(s, SafeTensors.encode(Checkpoint.tensors(model: bend, optimizer: trainer.optimizer),
                                                             metadata: ["format": "pt", "terrain.step": String(s), "terrain.run_state": json]))
                }
            }
            var record = RunRecord(kind: Self.name, seed: p.seed, batchSize: t.batchSize, learningRate: t.optimizer.lr,
                                   effectiveLearningRate: t.schedule.scaledBaseRate(t.optimizer.lr, batchSize: t.batchSize),
                                   optimizer: t.optimizer.name.rawValue, momentum: t.optimizer.momentum, weightDecay: t.optimizer.weightDecay,
                                   branch: p.shape.rawValue, status: "completed", totalSteps: total, curve: state.curve)
            record.trainLoss = state.curve.last?.trainLoss
            record.trainAccuracy = state.curve.last?.trainAccuracy
            let blob = SafeTensors.encode(Checkpoint.tensors(model: bend), metadata: ["format": "pt", "terrain.kind": "curve bend",
                                                                                      "terrain.shape": p.shape.rawValue])
            return TaskOutput(output: try record.encoded(), blobs: [("bend", blob)], startStep: startStep)
        } catch let e as TerrainError {
            throw TaskError("bend task \(task): \(e.description)", retryable: false)
        }
    }
}
