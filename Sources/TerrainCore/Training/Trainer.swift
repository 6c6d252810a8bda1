import Foundation

/// How to train: batch size, length, seed, optimizer, schedule and loss.
public struct TrainingConfig: Sendable, Equatable {
    /// Samples per optimizer step.
    public var batchSize: Int
    /// Passes over the training set.
    public var epochs: Int
    /// The seed of data order and dropout (the model's initialization has its own).
    public var seed: UInt64
    /// The update rule.
    public var optimizer: OptimizerSpec
    /// The learning-rate schedule.
    public var schedule: LearningRateSchedule
    /// The objective.
    public var loss: LossKind
    /// A training loss above this (or non-finite) marks the run as diverged.
    public var divergenceThreshold: Double

    /// Creates a configuration.
    public init(batchSize: Int, epochs: Int, seed: UInt64, optimizer: OptimizerSpec,
                schedule: LearningRateSchedule = LearningRateSchedule(), loss: LossKind = .crossEntropy,
                divergenceThreshold: Double = 1e6) {
        self.batchSize = batchSize
        self.epochs = epochs
        self.seed = seed
        self.optimizer = optimizer
        self.schedule = schedule
        self.loss = loss
        self.divergenceThreshold = divergenceThreshold
    }
}

/// What one optimizer step saw.
public struct StepResult: Sendable, Equatable {
    /// The step index (0-based) that was taken.
    public var step: Int
    /// Mean loss of the batch before the update.
    public var loss: Double
    /// Correct predictions in the batch.
    public var correct: Int
    /// Samples in the batch.
    public var count: Int
    /// The learning rate used.
    public var learningRate: Double
}

/// A summary of one epoch, for progress output and curves.
public struct EpochReport: Sendable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Optimizer steps taken so far.
    public var step: Int
    /// Mean training loss and accuracy over the epoch's batches (as seen before each update).
    public var train: Metrics
    /// Test-set metrics at the end of the epoch, if a test set was given.
    public var test: Metrics?
    /// Training throughput during the epoch.
    public var samplesPerSecond: Double
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
}

/// Training failed in a way the caller should report rather than crash on.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The loss became non-finite or exceeded the divergence threshold.
    case diverged(step: Int, loss: Double)

    public var description: String {
        switch self {
        case .diverged(let step, let loss): return "training diverged at step \(step) (loss \(loss))"
        }
    }
}

/// Mini-batch training of a model with an optimizer, a schedule and (optionally) SAM.
///
/// The run is a pure function of the model's initial state, the data and the config: the
/// batches of step `k` and the dropout masks depend only on `(seed, k)`, so a run resumed
/// from a checkpoint at step `k` continues exactly as the uninterrupted run would.
public final class Trainer<Scalar: TensorScalar> {
    /// The model being trained.
    public let model: Model<Scalar>
    /// The configuration.
    public let config: TrainingConfig
    /// The training data.
    public let train: Dataset<Scalar>
    /// The base optimizer.
    public let optimizer: Optimizer<Scalar>
    /// The data order.
    public let batches: BatchSchedule
    /// Optimizer steps taken so far.
    public private(set) var step: Int = 0
    /// Replaces the schedule's rate at the steps where it returns a value (stochastic weight
    /// averaging's constant or cyclic rate after its start epoch); `nil`: the schedule alone.
    public var learningRateOverride: (@Sendable (Int) -> Double?)? = nil

    /// Creates a trainer. Throws when the config is inconsistent with the data.
    public init(model: Model<Scalar>, train: Dataset<Scalar>, config: TrainingConfig) throws {
        try config.optimizer.validate()
        try config.schedule.validate()
        guard config.epochs >= 0 else { throw TerrainError.invalidArgument("epochs must be ≥ 0, got \(config.epochs)") }
        if config.loss == .crossEntropy {
            guard case .classes = train.y else {
                throw TerrainError.invalidArgument("loss cross_entropy needs class labels; use loss: mse for real-valued targets")
            }
        }
        self.model = model
        self.config = config
        self.train = train
        self.optimizer = config.optimizer.make(for: model.parameters)
        self.batches = try BatchSchedule(count: train.count, batchSize: config.batchSize, seed: config.seed)
    }

    /// Total steps of the configured run, `epochs × ⌈N / batch⌉`.
    public var totalSteps: Int { config.epochs * batches.stepsPerEpoch }

    /// The learning rate at step `k`.
    public func learningRate(at k: Int) -> Double {
        if let override = learningRateOverride?(k) { return override }
        return config.schedule.rate(base: config.optimizer.lr, batchSize: config.batchSize, step: k,
                             totalSteps: totalSteps, stepsPerEpoch: batches.stepsPerEpoch)
    }

    /// Continues from a checkpoint's step: the next step taken is `step`.
    public func resume(atStep step: Int) {
        self.step = step
        optimizer.stepCount = step
    }

    /// Takes one optimizer step on the batch of the current step.
    @discardableResult
    public func trainStep() -> StepResult {
        let k = step
        let idx = batches.indices(step: k)
        let (x, y) = train.trainingBatch(idx, seed: config.seed, epoch: k / batches.stepsPerEpoch)
        let context = ForwardContext.train(seed: config.seed, step: UInt64(k))
        let first = lossAndGradient(x, y, context)
        if let rho = config.optimizer.samRho {
            // SAM: ε = ρ·g/‖g‖, gradient at θ + ε, applied at θ.
            let space = ParameterSpace(model)
            let saved = model.parameters.map(\.value)
            let g = space.gradients()
            let norm = ParameterSpace<Scalar>.norm(g)
            if norm > 0 {
                space.axpy(rho / norm, g)
                _ = lossAndGradient(x, y, context)
                for (p, v) in zip(model.parameters, saved) { p.value = v }
            }
        }
        let lr = learningRate(at: k)
        optimizer.step(lr: lr)
        step += 1
        return StepResult(step: k, loss: first.lossSum / Double(first.count), correct: first.correct,
                          count: first.count, learningRate: lr)
    }

    private func lossAndGradient(_ x: Tensor<Scalar>, _ y: Targets<Scalar>, _ context: ForwardContext) -> LossOutput<Scalar> {
        model.zeroGradients()
        let out = model.forward(x, context: context)
        let l = config.loss.evaluate(logits: out, targets: y, normalizer: y.count, wantGradient: true)
        model.backward(l.gradient!)
        return l
    }

    /// Trains until `until` steps (default: the configured total), evaluating on `test` at
    /// each epoch end and calling `onEpoch` with a report. Throws
    /// ``TrainingError/diverged(step:loss:)`` when the loss becomes non-finite or exceeds
    /// the threshold.
    public func run(until: Int? = nil, test: Dataset<Scalar>? = nil, onEpoch: (EpochReport) -> Void = { _ in }) throws {
        let end = until ?? totalSteps
        let perEpoch = batches.stepsPerEpoch
        var lossSum = 0.0, correct = 0, seen = 0
        var clock = ContinuousClock.now
        var lastLR = 0.0
        while step < end {
            let r = trainStep()
            guard r.loss.isFinite, r.loss <= config.divergenceThreshold else {
                throw TrainingError.diverged(step: r.step, loss: r.loss)
            }
            lossSum += r.loss * Double(r.count)
            correct += r.correct
            seen += r.count
            lastLR = r.learningRate
            if step % perEpoch == 0 || step == end {
                let elapsed = ContinuousClock.now - clock
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let isClasses: Bool
                if case .classes = train.y { isClasses = true } else { isClasses = false }
                let report = EpochReport(
                    epoch: (step + perEpoch - 1) / perEpoch, step: step,
                    train: Metrics(loss: lossSum / Double(max(seen, 1)),
                                   accuracy: isClasses ? Double(correct) / Double(max(seen, 1)) : nil, count: seen),
                    test: test.map { Evaluator.evaluate(model, on: $0, loss: config.loss) },
                    samplesPerSecond: Double(seen) / max(seconds, 1e-9), learningRate: lastLR)
                onEpoch(report)
                lossSum = 0; correct = 0; seen = 0
                clock = ContinuousClock.now
            }
        }
    }
}
