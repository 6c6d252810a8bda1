import Foundation
import TerrainCore
import TerrainDataset

/// One point of a training curve: metrics measured in evaluation mode after `step`
/// optimizer steps.
public struct CurvePoint: Codable, Sendable, Equatable {
    /// Optimizer steps taken.
    public var step: Int
    /// `step / steps_per_epoch`.
    public var epoch: Double
    /// Mean loss over the training set (or its `eval_samples` subset).
    public var trainLoss: Double
    /// Accuracy over the same samples (`nil` for regression).
    public var trainAccuracy: Double?
    /// Mean test loss (`nil` without a test set).
    public var testLoss: Double?
    /// Test accuracy.
    public var testAccuracy: Double?
    /// Mean loss and accuracy on the held-out validation samples (`validation_samples`).
    public var validationLoss: Double? = nil
    public var validationAccuracy: Double? = nil
    /// The learning rate of the step that led here (of step 0 for the first point).
    public var learningRate: Double
    /// The top Hessian eigenvalue of the training loss here, when measured.
    public var lambdaMax: Double?

    enum CodingKeys: String, CodingKey {
        case step, epoch, trainLoss = "train_loss", trainAccuracy = "train_acc", testLoss = "test_loss"
        case testAccuracy = "test_acc", learningRate = "lr", lambdaMax = "lambda_max"
        case validationLoss = "val_loss", validationAccuracy = "val_acc"
    }

    /// Creates a point.
    public init(step: Int, epoch: Double, trainLoss: Double, trainAccuracy: Double?, testLoss: Double?, testAccuracy: Double?,
                validationLoss: Double? = nil, validationAccuracy: Double? = nil, learningRate: Double, lambdaMax: Double? = nil) {
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.step = step
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.learningRate = learningRate
        self.lambdaMax = lambdaMax
    }
}

/// What one training run (`run` task) or one lottery-ticket level of one branch (`lottery`
/// task) produced: its labels, outcome, final metrics and curve. It is the task's output
/// (JSON) and becomes one row of the dataset's `runs` table plus its `curve_points`
/// (docs/dataset.md).
public struct RunRecord: Codable, Sendable, Equatable {
    /// `run` or `lottery`.
    public var kind: String
    /// The replicate seed (initialization and data order).
    public var seed: UInt64
    /// Samples per step.
    public var batchSize: Int
    /// The spec's base learning rate (at the schedule's reference batch size).
    public var learningRate: Double
    /// The peak rate actually used: base × batch-size scaling (before warm-up and decay).
    public var effectiveLearningRate: Double
    /// `sgd`, `adam`, `adamw`, with `+sam` when SAM wraps it.
    public var optimizer: String
    /// SGD momentum.
    public var momentum: Double
    /// Weight decay.
    public var weightDecay: Double
    /// Lottery: `main`, `random_reinit` or `random_prune`.
    public var branch: String?
    /// Lottery: the pruning level (0 = dense).
    public var level: Int?
    /// Lottery: the step the surviving weights were rewound to.
    public var rewindStep: Int?
    /// `completed` or `diverged`.
    public var status: String
    /// The step whose batch loss was non-finite or above the bound.
    public var divergedStep: Int?
    /// That loss (may be `inf` or `nan`).
    public var divergedLoss: Double?
    /// Optimizer steps of the full run (`epochs × ⌈N/B⌉`).
    public var totalSteps: Int
    /// Final training loss and accuracy (evaluation mode, after the last step).
    public var trainLoss: Double?
    public var trainAccuracy: Double?
    /// Final test loss and accuracy.
    public var testLoss: Double?
    public var testAccuracy: Double?
    /// Final validation loss and accuracy (with `validation_samples`).
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// `test_loss − train_loss` at the end.
    public var generalizationGap: Double?
    /// `train_acc − test_acc` at the end.
    public var accuracyGap: Double?
    /// Top Hessian eigenvalue of the training loss at the end.
    public var lambdaMax: Double?
    /// First curve step whose test accuracy reached the target (Shallue et al. 2019).
    public var stepsToTarget: Int?
    /// The curve step of minimum validation loss (the LTH papers' "early-stop iteration");
    /// of minimum test loss when the spec holds out no validation set.
    public var earlyStopStep: Int?
    /// Test accuracy at that step.
    public var earlyStopTestAccuracy: Double?
    /// Lottery: fraction of prunable weights remaining, counted from the mask.
    public var density: Double?
    /// Lottery: remaining weights per prunable parameter.
    public var remaining: [String: Int]?
    /// Lottery: size of each prunable parameter.
    public var prunable: [String: Int]?
    /// The curve, in step order.
    public var curve: [CurvePoint]
    /// Double descent: the model's width multiplier (`model.width`/`grid.width`), its
    /// hidden widths or channels as built, and its parameter count (recorded when the sweep
    /// varies the width or has label noise).
    public var width: Double?
    public var widths: [Int]?
    public var parameters: Int?
    /// Double descent: the label-noise fraction and the number of training labels it changed.
    public var labelNoise: Double?
    public var noisyLabels: Int?
    /// Stochastic weight averaging: the averaged solution's outcome.
    public var swa: SWAOutcome?

    enum CodingKeys: String, CodingKey {
        case kind, seed, batchSize = "batch_size", learningRate = "lr", effectiveLearningRate = "effective_lr", optimizer, momentum
        case weightDecay = "weight_decay", branch, level, rewindStep = "rewind_step", status, divergedStep = "diverged_step"
        case divergedLoss = "diverged_loss", totalSteps = "total_steps", trainLoss = "train_loss", trainAccuracy = "train_acc"
        case testLoss = "test_loss", testAccuracy = "test_acc", generalizationGap = "generalization_gap", accuracyGap = "accuracy_gap"
        case validationLoss = "val_loss", validationAccuracy = "val_acc"
        case lambdaMax = "lambda_max", stepsToTarget = "steps_to_target", earlyStopStep = "early_stop_step"
        case earlyStopTestAccuracy = "early_stop_test_acc", density, remaining, prunable, curve
        case width, widths, parameters, labelNoise = "label_noise", noisyLabels = "noisy_labels", swa
    }

    /// Creates a record with its labels and outcome; the metrics start empty (`nil`).
    public init(kind: String, seed: UInt64, batchSize: Int, learningRate: Double, effectiveLearningRate: Double, optimizer: String,
                momentum: Double, weightDecay: Double, branch: String? = nil, level: Int? = nil, rewindStep: Int? = nil,
                status: String, totalSteps: Int, curve: [CurvePoint]) {
        self.kind = kind
        self.seed = seed
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.effectiveLearningRate = effectiveLearningRate
        self.optimizer = optimizer
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.branch = branch
        self.level = level
        self.rewindStep = rewindStep
        self.status = status
        self.totalSteps = totalSteps
        self.curve = curve
    }

    /// Why this record cannot become rows of the dataset's `runs` and `curve_points`
    /// tables (`nil` when it can): a record from a misbehaving worker must not break the
    /// coordinator's commit.
    public var storageProblem: String? {
        for (name, v) in [("lr", learningRate), ("effective_lr", effectiveLearningRate), ("momentum", momentum), ("weight_decay", weightDecay)]
        where !v.isFinite {
            return "\(name) is \(v)"
        }
        if totalSteps < 0 || batchSize <= 0 { return "total_steps \(totalSteps), batch_size \(batchSize)" }
        var previous = Int.min
        for c in curve {
            if c.step <= previous { return "curve steps are not increasing (\(previous), then \(c.step))" }
            if !c.epoch.isFinite || !c.learningRate.isFinite { return "curve point at step \(c.step) has a non-finite epoch or lr" }
            previous = c.step
        }
        return nil
    }

    /// The record as task output bytes (JSON, sorted keys; `inf`/`nan` as strings).
    public func encoded() throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return [UInt8](try e.encode(self))
    }

    /// Reads a record from task output bytes. Throws a decoding error for anything else.
    public static func decode(_ bytes: [UInt8]) throws -> RunRecord {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(RunRecord.self, from: Data(bytes))
    }
}

extension RunRecord {
    /// The record as rows of the dataset's `runs` and `curve_points` tables, for task `task`.
    public func rows(task: UInt64) -> RunRows {
        var run = RunRow(task: Int64(task), kind: kind, seed: seed, batchSize: batchSize, learningRate: learningRate,
                         effectiveLearningRate: effectiveLearningRate, optimizer: optimizer, momentum: momentum,
                         weightDecay: weightDecay, status: status, totalSteps: totalSteps)
        run.branch = branch
        run.level = level
        run.rewindStep = rewindStep
        run.divergedStep = divergedStep
        run.divergedLoss = divergedLoss
        run.density = density
        run.trainLoss = trainLoss
        run.trainAccuracy = trainAccuracy
        run.testLoss = testLoss
        run.testAccuracy = testAccuracy
        run.generalizationGap = generalizationGap
        run.accuracyGap = accuracyGap
        run.lambdaMax = lambdaMax
        run.stepsToTarget = stepsToTarget
        run.earlyStopStep = earlyStopStep
        run.earlyStopTestAccuracy = earlyStopTestAccuracy
        run.validationLoss = validationLoss
        run.validationAccuracy = validationAccuracy
        let curve = self.curve.map { c in
            CurvePointRow(task: Int64(task), step: c.step, epoch: c.epoch, trainLoss: c.trainLoss, trainAccuracy: c.trainAccuracy,
                          testLoss: c.testLoss, testAccuracy: c.testAccuracy, learningRate: c.learningRate, lambdaMax: c.lambdaMax,
                          validationLoss: c.validationLoss, validationAccuracy: c.validationAccuracy)
        }
        return RunRows(run: run, curve: curve, variant: variantRow(task: task))
    }
}

extension RunRecord {
    /// The coordinator's check of a `run` or `lottery` result: a record that decodes and can
    /// be tabulated becomes its rows; anything else is refused with a reason.
    static func judge(_ output: [UInt8], kind: String, task: UInt64) -> Judgement {
        let record: RunRecord
        do { record = try decode(output) } catch {
            return .reject("the \(kind) result is not a run record (\(error))")
        }
        if let problem = record.storageProblem {
            return .reject("the \(kind) record cannot be tabulated (\(problem))")
        }
        return .accept(record.rows(task: task))
    }
}

extension RunRecord {
    /// The record's `run_variants` row: `nil` unless it has a width, label noise or SWA.
    func variantRow(task: UInt64) -> RunVariantRow? {
        guard width != nil || widths != nil || parameters != nil || labelNoise != nil || swa != nil else { return nil }
        var v = RunVariantRow(task: Int64(task))
        v.width = width
        v.widths = widths.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }
        v.parameters = parameters
        v.labelNoise = labelNoise
        v.noisyLabels = noisyLabels
        if let s = swa {
            v.swaStartEpoch = s.startEpoch
            v.swaLR = s.lr
            v.swaSchedule = s.schedule
            v.swaAveraged = s.averaged
            v.swaTrainLoss = s.trainLoss
            v.swaTrainAccuracy = s.trainAccuracy
            v.swaTestLoss = s.testLoss
            v.swaTestAccuracy = s.testAccuracy
            v.swaValidationLoss = s.validationLoss
            v.swaValidationAccuracy = s.validationAccuracy
            v.swaLambdaMax = s.lambdaMax
        }
        return v
    }
}
