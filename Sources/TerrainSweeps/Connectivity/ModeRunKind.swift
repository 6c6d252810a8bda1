import Foundation
import TerrainCore

/// The `mode_run` task kind: one training run of a `connectivity` or `instability` sweep
/// whose weights are kept — an end point trained from its seed, an instability parent that
/// also keeps its state at every branch step k (`at_<k>` blobs), or a child that starts from
/// its parent's state at step k and trains to the end with its own data order (Frankle et al.
/// 2020; open_lth's branch experiment: the weights and BatchNorm buffers of step k, a fresh
/// optimizer, the schedule at step k).
///
/// The output is a ``RunRecord`` (tabulated into `runs` and `curve_points`, with `branch` the
/// run's role and `rewind_step` the step it started from); blobs: `weights` and `at_<k>` per
/// captured step, safetensors under PyTorch names.
public struct ModeRunKind: TaskKind {
    public static let name = "mode_run"

    /// One run.
    public struct Run: Codable, Sendable, Equatable {
        public var training: RunTraining
        /// The replicate seed: the initialization is derived from it.
        public var seed: UInt64
        /// The data-order seed (children of one parent differ here).
        public var dataOrder: UInt64
        /// `endpoint`, `parent`, `child0` or `child1` (the `runs.branch` column).
        public var role: String
        /// The parent task whose `at_<branchStep>` state this run starts from (children).
        public var parent: UInt64?
        /// The step it starts from (0 without a parent).
        public var branchStep: Int
        /// Steps whose state it keeps as `at_<k>` blobs, increasing.
        public var captureSteps: [Int]
        /// Where the starting state comes from instead of the parent's `at_<k>` (a lottery
        /// chain's `rewind` point), and the 0/1 masks that make it a subnetwork (a lottery
        /// level's `mask`). Absent from the parameters of dense runs.
        public var start: PathSource? = nil
        public var mask: PathSource? = nil
    }

    /// The parameters of one `mode_run` task.
    public typealias Params = Networked<Run>

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        guard p.branchStep >= 0, p.parent != nil || p.branchStep == 0,
              p.captureSteps.allSatisfy({ $0 >= 0 }), p.captureSteps == p.captureSteps.sorted(), Set(p.captureSteps).count == p.captureSteps.count,
              p.captureSteps.count <= 64 else {
            return "branch step \(p.branchStep), capture steps \(p.captureSteps)"
        }
        return p.training.problem
    }

    /// The blob names a run of these parameters returns.
    static func blobNames(_ p: Params) -> [String] { ["weights"] + p.captureSteps.map { "at_\($0)" } }

    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: Self.blobNames(p)) { return .reject(problem) }
        let judged = RunRecord.judge(result.output, kind: Self.name, task: task)
        guard case .accept(let rows?) = judged else { return judged }
        guard rows.run.seed == Int64(bitPattern: p.seed), rows.run.branch == p.role else {
            return .reject("the record is of seed \(rows.run.seed), role \(rows.run.branch ?? "none"); the task is seed \(p.seed), role \(p.role)")
        }
        return judged
    }

    public func run(_ run: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = run.params, task = run.task
        let data = try RunData.load(p.network, validationSamples: p.training.validationSamples)
        do {
            func fresh() throws -> (Model<Float>, RunEngine) {
                let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: data.train.sampleShape, outputs: data.train.outputs,
                                                                 seed: TerrainRNG.derive(p.seed, "init"))
                if let start = p.start ?? p.parent.map({ PathSource(task: $0, name: "at_\(p.branchStep)") }) {
                    try Checkpoint.apply(try start.tensors(in: run), source: "\(start.name) of task \(start.task)", to: model)
                }
                if let source = p.mask {
                    let masks = try source.tensors(in: run)
                    for q in model.parameters {
                        guard let m = masks[q.name] else { continue }
                        guard m.shape == q.shape else { throw run.failure("the mask of task \(source.task) has shape \(m.shape) for \(q.name), the model \(q.shape)") }
                        q.mask = try m.tensor(as: Float.self)
                    }
                }
                return (model, try RunEngine(model: model, data: data, spec: p.training, loss: p.loss, dataOrderSeed: p.dataOrder,
                                             curvature: nil, startStep: p.branchStep))
            }
            var (model, engine) = try fresh()
            func capture(_ step: Int) {
                guard p.captureSteps.contains(step) else { return }
                for (name, t) in Checkpoint.tensors(model: model) { engine.extras["at_\(step)." + name] = t }
            }
            var restored = false
            if let saved = run.checkpoint {
                do {
                    try engine.restore(saved, source: "checkpoint of mode_run task \(task)")
                    restored = true
                } catch {
                    FileHandle.standardError.write(Data("mode_run task \(task): ignoring its checkpoint (\(error)); starting over\n".utf8))
                    (model, engine) = try fresh()
                }
            }
            if !restored { capture(p.branchStep) }
            let startStep = engine.startStep
            let outcome = try engine.run(context: context) { step in capture(step) }
            let t = p.training
            var record = RunRecord(kind: Self.name, seed: p.seed, batchSize: t.batchSize, learningRate: t.optimizer.lr,
                                   effectiveLearningRate: t.schedule.scaledBaseRate(t.optimizer.lr, batchSize: t.batchSize),
                                   optimizer: t.optimizer.name.rawValue, momentum: t.optimizer.momentum, weightDecay: t.optimizer.weightDecay,
                                   branch: p.role, rewindStep: p.branchStep, status: "", totalSteps: 0, curve: [])
            engine.finish(outcome, into: &record)
            var blobs: [(name: String, data: [UInt8])] = [
                ("weights", SafeTensors.encode(Checkpoint.tensors(model: model), metadata: ["format": "pt", "terrain.step": String(engine.trainer.step)])),
            ]
            for k in p.captureSteps {
                var state = [String: StoredTensor]()
                for (name, t) in engine.extras where name.hasPrefix("at_\(k).") { state[String(name.dropFirst("at_\(k).".count))] = t }
                guard !state.isEmpty else {
                    throw TaskError("mode_run task \(task): training ended (\(record.status)) before step \(k), the branch step", retryable: false)
                }
                blobs.append(("at_\(k)", SafeTensors.encode(state, metadata: ["format": "pt", "terrain.step": String(k)])))
            }
            return TaskOutput(output: try record.encoded(), blobs: blobs, startStep: startStep)
        } catch let e as TerrainError {
            throw TaskError("mode_run task \(task): \(e.description)", retryable: false)
        }
    }
}
