import Foundation
import TerrainCore

/// Trains one run of a `lottery` or `run` task: records the curve, watches for divergence,
/// measures λmax, and sends checkpoints to the coordinator — and resumes from one so that
/// the outcome is bit-identical to an uninterrupted run.
///
/// A checkpoint holds the model (parameters and buffers), the optimizer state, any extra
/// tensors the task needs to carry (under `extra.`), and the run state (curve so far, step,
/// optimizer step count) as JSON metadata `terrain.run_state`.
final class RunEngine {
    /// What a run carries across a checkpoint besides tensors.
    struct State: Codable, Equatable {
        var step: Int
        var optimizerSteps: Int
        var curve: [CurvePoint]
        var stepsToTarget: Int?
    }

    /// How a run ended.
    enum Outcome: Equatable {
        case completed
        case diverged(step: Int, loss: Double)
    }

    static let extraPrefix = "extra."

    let model: Model<Float>
    let trainer: Trainer<Float>
    let spec: RunTraining
    let loss: LossKind
    let test: Dataset<Float>?
    let validation: Dataset<Float>?
    let evalTrain: Dataset<Float>
    let curvature: RunCurvature?
    let hessianData: Dataset<Float>?
    var state: State
    /// Tensors saved with every checkpoint (e.g. the lottery's rewind point once captured).
    var extras: [String: StoredTensor] = [:]
    /// The step this attempt started from.
    private(set) var startStep = 0

    /// Prepares a run of `model` on `train` from its current parameters at `startStep`
    /// (a fresh optimizer; a rewound lottery level starts at its rewind step).
    init(model: Model<Float>, data: RunData, spec: RunTraining, loss: LossKind, dataOrderSeed: UInt64,
         curvature: RunCurvature?, startStep: Int = 0) throws {
        let train = data.train
        self.model = model
        self.spec = spec
        self.loss = loss
        self.test = data.test
        self.validation = data.validation
        self.curvature = curvature
        let config = TrainingConfig(batchSize: spec.batchSize, epochs: spec.epochs, seed: dataOrderSeed, optimizer: spec.optimizer,
                                    schedule: spec.schedule, loss: loss, divergenceThreshold: spec.divergeAbove)
        trainer = try Trainer(model: model, train: train, config: config)
        evalTrain = spec.evalSamples.map { $0 < train.count ? train.subset($0, seed: TerrainRNG.derive(dataOrderSeed, "eval-subset")) : train } ?? train
        hessianData = curvature.map { c in
            c.samples < train.count ? train.subset(c.samples, seed: TerrainRNG.derive(c.seed, "hessian-subset")) : train
        }
        trainer.resume(atStep: startStep)
        trainer.optimizer.stepCount = 0
        self.startStep = startStep
        state = State(step: startStep, optimizerSteps: 0, curve: [], stepsToTarget: nil)
        installSWARate()
    }

    /// Restores a checkpoint written by ``checkpointBytes()``: model, optimizer, extras and
    /// run state. Throws when the bytes do not fit this model.
    func restore(_ bytes: [UInt8], source: String) throws {
        let decoded = try SafeTensors.decode(bytes, source: source)
        var tensors = decoded.tensors
        extras = [:]
        for (name, t) in decoded.tensors where name.hasPrefix(Self.extraPrefix) {
            extras[String(name.dropFirst(Self.extraPrefix.count))] = t
            tensors.removeValue(forKey: name)
        }
        try Checkpoint.apply(tensors, source: source, to: model, optimizer: trainer.optimizer)
        guard let json = decoded.metadata["terrain.run_state"],
              let s = try? JSONDecoder.runState.decode(State.self, from: Data(json.utf8)) else {
            throw TerrainError.invalidCheckpoint("\(source): no run state (terrain.run_state) in the checkpoint")
        }
        state = s
        trainer.resume(atStep: s.step)
        trainer.optimizer.stepCount = s.optimizerSteps
        startStep = s.step
    }

    /// The current state as checkpoint bytes.
    func checkpointBytes() throws -> [UInt8] {
        var tensors = Checkpoint.tensors(model: model, optimizer: trainer.optimizer)
        for (name, t) in extras { tensors[Self.extraPrefix + name] = t }
        var s = state
        s.step = trainer.step
        s.optimizerSteps = trainer.optimizer.stepCount
        let json = String(decoding: try JSONEncoder.runState.encode(s), as: UTF8.self)
        return SafeTensors.encode(tensors, metadata: ["format": "pt", "terrain.step": String(trainer.step), "terrain.run_state": json])
    }

    /// The top Hessian eigenvalue of the training loss on the curvature subset, now.
    func lambdaMax() throws -> Double? {
        guard let c = curvature, let data = hessianData else { return nil }
        let h = try HessianOperator(model: model, data: data, loss: loss)
        return h.topEigenpairs(k: 1, maxIterations: c.iterations, tolerance: 1e-4, seed: c.seed).first?.value
    }

    private func record(_ step: Int, forceLambda: Bool) throws {
        if state.curve.last?.step == step { return }
        let perEpoch = trainer.batches.stepsPerEpoch
        let tr = Evaluator.evaluate(model, on: evalTrain, loss: loss)
        let te = test.map { Evaluator.evaluate(model, on: $0, loss: loss) }
        let va = validation.map { Evaluator.evaluate(model, on: $0, loss: loss) }
        var lambda: Double? = nil
        if let c = curvature {
            let periodic = c.everyEpochs > 0 && step % (c.everyEpochs * perEpoch) == 0
            if periodic || forceLambda { lambda = try lambdaMax() }
        }
        let point = CurvePoint(step: step, epoch: Double(step) / Double(perEpoch), trainLoss: tr.loss, trainAccuracy: tr.accuracy,
                               testLoss: te?.loss, testAccuracy: te?.accuracy, validationLoss: va?.loss, validationAccuracy: va?.accuracy,
                               learningRate: trainer.learningRate(at: max(step - 1, 0)), lambdaMax: lambda)
        state.curve.append(point)
        if let target = spec.targetAccuracy, state.stepsToTarget == nil, let acc = te?.accuracy, acc >= target {
            state.stepsToTarget = step
        }
    }

    /// Trains to the end (or to divergence). `atStep` is called after every step with the
    /// step count, before any curve point or checkpoint of that step (the lottery captures
    /// its rewind point there). Checkpoints go to `context`.
    func run(context: TaskContext, atStep: (Int) throws -> Void = { _ in }) throws -> Outcome {
        let total = trainer.totalSteps
        let perEpoch = trainer.batches.stepsPerEpoch
        if state.curve.isEmpty { try record(trainer.step, forceLambda: false) }
        while trainer.step < total {
            let r = trainer.trainStep()
            if !r.loss.isFinite || r.loss > spec.divergeAbove {
                return .diverged(step: r.step, loss: r.loss)
            }
            let s = trainer.step
            try atStep(s)
            try averageIfDue(s)
            let epochEnd = s % perEpoch == 0
            if (spec.evalEvery > 0 && s % spec.evalEvery == 0) || epochEnd || s == total {
                try record(s, forceLambda: s == total && (curvature?.atEnd ?? false))
                // The last update may have made the weights non-finite after a finite batch loss.
                if let l = state.curve.last?.trainLoss, !l.isFinite { return .diverged(step: s - 1, loss: l) }
            }
            if epochEnd, spec.checkpointEvery > 0, (s / perEpoch) % spec.checkpointEvery == 0, s < total {
                state.step = s
                context.checkpoint(s, try checkpointBytes())
            }
        }
        return .completed
    }

    /// Fills the outcome, final metrics and curve summaries of `record`.
    func finish(_ outcome: Outcome, into record: inout RunRecord) {
        record.curve = state.curve
        record.totalSteps = trainer.totalSteps
        record.stepsToTarget = state.stepsToTarget
        switch outcome {
        case .completed:
            record.status = "completed"
            if let last = state.curve.last {
                record.trainLoss = last.trainLoss
                record.trainAccuracy = last.trainAccuracy
                record.testLoss = last.testLoss
                record.testAccuracy = last.testAccuracy
                record.lambdaMax = last.lambdaMax
                record.validationLoss = last.validationLoss
                record.validationAccuracy = last.validationAccuracy
                record.generalizationGap = last.testLoss.map { $0 - last.trainLoss }
                if let a = last.trainAccuracy, let b = last.testAccuracy { record.accuracyGap = a - b }
            }
        case let .diverged(step, loss):
            record.status = "diverged"
            record.divergedStep = step
            record.divergedLoss = loss
        }
        // The early-stop step: minimum validation loss, or test loss without a validation set.
        let criterion: (CurvePoint) -> Double? = validation != nil ? { $0.validationLoss } : { $0.testLoss }
        if let best = state.curve.filter({ criterion($0)?.isFinite ?? false }).min(by: { (criterion($0)!, $0.step) < (criterion($1)!, $1.step) }) {
            record.earlyStopStep = best.step
            record.earlyStopTestAccuracy = best.testAccuracy
        }
    }
}

/// The data of a run: training samples (without the held-out validation samples), the
/// validation set if the spec asks for one, and the test set.
struct RunData {
    var train: Dataset<Float>
    var validation: Dataset<Float>?
    var test: Dataset<Float>?

    /// Loads and checks the data file (its SHA-256 must match the coordinator's) and holds
    /// out `validationSamples` training samples, fixed by `dataSeed`.
    static func load(_ network: NetworkParams, validationSamples: Int?) throws -> RunData {
        let (train, test) = try network.loadData()
        guard let n = validationSamples else { return RunData(train: train, validation: nil, test: test) }
        guard n < train.count else {
            throw TaskError("validation_samples \(n) is not less than the \(train.count) training samples", retryable: false)
        }
        let (rest, held) = train.holdOut(n, seed: TerrainRNG.derive(network.dataSeed, "validation"))
        return RunData(train: rest, validation: held, test: test)
    }
}

extension JSONEncoder {
    /// Sorted keys, non-finite numbers as strings: for run states and records.
    static var runState: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}

extension JSONDecoder {
    /// The decoder matching ``JSONEncoder/runState``.
    static var runState: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
