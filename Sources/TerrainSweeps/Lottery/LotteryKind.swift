import Foundation
import TerrainCore

/// The `lottery` task kind: one level of one branch of one seed (see ``LotterySpec``).
///
/// Outputs (artifacts, safetensors under PyTorch names): `weights` (the trained model),
/// `mask` (0/1 Float32 masks of the prunable weights) and, at level 0, `rewind` (the model
/// at `rewind_step`). The task output is a ``RunRecord`` with the level's density, which the
/// coordinator tabulates into the `runs` and `curve_points` tables.
public struct LotteryKind: TaskKind {
    public static let name = "lottery"

    /// One level of one branch of one seed's chain.
    public struct Level: Codable, Sendable, Equatable {
        public var training: RunTraining
        public var seed: UInt64
        public var branch: LotterySpec.Branch
        public var level: Int
        public var plan: Pruning.Plan
        public var rewindStep: Int
        /// Main level L−1 (weights, mask).
        public var previousMain: UInt64?
        /// This branch's level L−1 (random_prune's mask).
        public var previousBranch: UInt64?
        /// Level 0 of this seed (the rewind point).
        public var dense: UInt64?
        public var curvature: RunCurvature?
    }

    /// The parameters of one `lottery` task.
    public typealias Params = Networked<Level>

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        guard (0...60).contains(p.level), p.rewindStep >= 0 else { return "level \(p.level), rewind step \(p.rewindStep)" }
        return p.training.problem
    }

    /// A run record of this level (seed, level, branch) that can be tabulated, with the
    /// `mask` and `weights` blobs (and `rewind` at level 0).
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: ["mask", "weights"] + (p.level == 0 ? ["rewind"] : [])) { return .reject(problem) }
        let judged = RunRecord.judge(result.output, kind: Self.name, task: task)
        guard case .accept(let rows?) = judged else { return judged }
        guard rows.run.seed == Int64(bitPattern: p.seed), rows.run.level == p.level, rows.run.branch == p.branch.rawValue else {
            return .reject("the record is of seed \(rows.run.seed), level \(rows.run.level.map(String.init) ?? "none"), branch \(rows.run.branch ?? "none"); the task is seed \(p.seed), level \(p.level), branch \(p.branch.rawValue)")
        }
        return judged
    }

    /// The level's starting point before any training: the model with its masks set, at
    /// the step training starts from. Exposed for tests (rewound survivors must equal the
    /// dense run's step-k weights bit for bit).
    public static func initialState(task: UInt64, params p: Params, inputs: [TaskInput], train: Dataset<Float>) throws
        -> (model: Model<Float>, startStep: Int)
    {
        func fail(_ m: String) -> TaskError { TaskError("lottery task \(task) (seed \(p.seed), \(p.branch.rawValue) level \(p.level)): \(m)", retryable: false) }
        func input(_ name: String, from id: UInt64?) throws -> [String: StoredTensor] {
            guard let id, let i = inputs.first(where: { $0.task == id && $0.name == name }) else {
                throw fail("missing input \(name) of task \(id.map(String.init) ?? "?")")
            }
            return try SafeTensors.decode(i.data, source: "\(name) of task \(id)").tensors
        }
        func build(seed: UInt64) throws -> Model<Float> {
            try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: seed)
        }
        if p.level == 0 {
            return (try build(seed: TerrainRNG.derive(p.seed, "init")), 0)
        }
        // The main chain's mask for this level, from main L−1's trained weights under its mask.
        let previous = try build(seed: 0)
        try Checkpoint.apply(try input("weights", from: p.previousMain), source: "weights of task \(p.previousMain!)", to: previous)
        let previousMasks = try input("mask", from: p.previousMain)
        for q in Pruning.prunable(previous, includeOutput: p.plan.pruneOutputLayer) {
            guard let m = previousMasks[q.name] else { throw fail("the mask of task \(p.previousMain!) has no entry for \(q.name)") }
            guard m.shape == q.shape else { throw fail("the mask of task \(p.previousMain!) has shape \(m.shape) for \(q.name), the model \(q.shape)") }
            q.mask = try m.tensor(as: Float.self)
        }
        // A diverged level leaves non-finite weights: there is nothing to prune by magnitude.
        for q in Pruning.prunable(previous, includeOutput: p.plan.pruneOutputLayer) where !q.value.storage.allSatisfy(\.isFinite) {
            throw fail("main level \(p.level - 1) (task \(p.previousMain!)) diverged: its \(q.name) is not finite, so the chain cannot prune from it")
        }
        let mainMasks = Pruning.nextMasks(previous, plan: p.plan)
        let model: Model<Float>
        var masks = mainMasks
        switch p.branch {
        case .main:
            model = try build(seed: 0)
            try Checkpoint.apply(try input("rewind", from: p.dense), source: "rewind point of task \(p.dense!)", to: model)
        case .randomReinit:
            model = try build(seed: TerrainRNG.derive(TerrainRNG.derive(p.seed, "reinit"), UInt64(p.level)))
        case .randomPrune:
            var within: [String: Tensor<Float>]? = nil
            if p.level > 1 {
                within = try input("mask", from: p.previousBranch).mapValues { try $0.tensor(as: Float.self) }
                for (name, m) in mainMasks where within?[name]?.shape != m.shape {
                    throw fail("the mask of task \(p.previousBranch!) has no entry of shape \(m.shape) for \(name)")
                }
            }
            masks = Pruning.randomMasks(like: mainMasks, within: within, seed: TerrainRNG.derive(TerrainRNG.derive(p.seed, "random-prune"), UInt64(p.level)))
            model = try build(seed: 0)
            try Checkpoint.apply(try input("rewind", from: p.dense), source: "rewind point of task \(p.dense!)", to: model)
        }
        for q in model.parameters { if let m = masks[q.name] { q.mask = m } }
        return (model, p.rewindStep)
    }

    public func run(_ run: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = run.params, task = run.task, inputs = run.inputs
        let data = try RunData.load(p.network, validationSamples: p.training.validationSamples)
        do {
            func fresh() throws -> (Model<Float>, RunEngine) {
                let (model, start) = try Self.initialState(task: task, params: p, inputs: inputs, train: data.train)
                return (model, try RunEngine(model: model, data: data, spec: p.training, loss: p.loss,
                                             dataOrderSeed: TerrainRNG.derive(p.seed, "data"), curvature: p.curvature, startStep: start))
            }
            var (model, engine) = try fresh()
            // Level 0 keeps the state at the rewind step; checkpoints carry it once captured.
            func capture() {
                for (name, t) in Checkpoint.tensors(model: model) { engine.extras["rewind." + name] = t }
            }
            var restored = false
            if let saved = run.checkpoint {
                do {
                    try engine.restore(saved, source: "checkpoint of lottery task \(task)")
                    restored = true
                } catch {
                    // An unusable checkpoint costs time, not the task (nor the chain after it): start over.
                    FileHandle.standardError.write(Data("lottery task \(task): ignoring its checkpoint (\(error)); starting over\n".utf8))
                    (model, engine) = try fresh()
                }
            }
            if !restored && p.level == 0 && p.rewindStep == 0 { capture() }
            let startStep = engine.startStep
            let outcome = try engine.run(context: context) { step in
                if p.level == 0 && step == p.rewindStep { capture() }
            }
            let t = p.training
            var record = RunRecord(kind: Self.name, seed: p.seed, batchSize: t.batchSize, learningRate: t.optimizer.lr,
                                   effectiveLearningRate: t.schedule.scaledBaseRate(t.optimizer.lr, batchSize: t.batchSize),
                                   optimizer: t.optimizer.name.rawValue + (t.optimizer.samRho == nil ? "" : "+sam"),
                                   momentum: t.optimizer.momentum, weightDecay: t.optimizer.weightDecay,
                                   branch: p.branch.rawValue, level: p.level, rewindStep: p.rewindStep, status: "", totalSteps: 0, curve: [])
            engine.finish(outcome, into: &record)
            // Density, counted from the masks (level 0: every prunable weight).
            var masks = [String: StoredTensor]()
            var remaining = [String: Int](), prunable = [String: Int]()
            for q in Pruning.prunable(model, includeOutput: p.plan.pruneOutputLayer) {
                let m = q.mask ?? Tensor(shape: q.shape, repeating: 1)
                masks[q.name] = StoredTensor(m)
                remaining[q.name] = m.storage.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                prunable[q.name] = q.count
            }
            record.remaining = remaining
            record.prunable = prunable
            let total = prunable.values.reduce(0, +)
            record.density = total == 0 ? 1 : Double(remaining.values.reduce(0, +)) / Double(total)
            var blobs: [(name: String, data: [UInt8])] = [
                ("mask", SafeTensors.encode(masks, metadata: ["format": "pt", "terrain.kind": "lottery mask"])),
                ("weights", SafeTensors.encode(Checkpoint.tensors(model: model), metadata: ["format": "pt", "terrain.step": String(engine.trainer.step)])),
            ]
            if p.level == 0 {
                var rewind = [String: StoredTensor]()
                for (name, t) in engine.extras where name.hasPrefix("rewind.") { rewind[String(name.dropFirst(7))] = t }
                guard !rewind.isEmpty else {
                    throw TaskError("lottery task \(task): training ended (\(record.status)) before the rewind step \(p.rewindStep)", retryable: false)
                }
                blobs.append(("rewind", SafeTensors.encode(rewind, metadata: ["format": "pt", "terrain.step": String(p.rewindStep)])))
            }
            return TaskOutput(output: try record.encoded(), blobs: blobs, startStep: startStep)
        } catch let e as TerrainError {
            throw TaskError("lottery task \(task): \(e.description)", retryable: false)
        }
    }
}
