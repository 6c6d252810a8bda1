import Foundation
import TerrainCore
import Yams

/// The `training:` section of `kind: lottery` and `kind: training` sweeps: how each run
/// trains, what it records along the way and how often it checkpoints (docs/spec.md).
///
/// ```yaml
/// training:
///   optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
///   schedule: {kind: cosine, warmup_steps: 50}
///   batch_size: 128
///   epochs: 20
///   eval_every: 100        # steps between curve points (0: epoch ends only)
///   checkpoint_every: 5    # epochs between checkpoints sent to the coordinator (0: never)
///   diverge_above: 1000    # a training loss above this (or NaN/Inf) ends the run as diverged
///   target_accuracy: 0.6   # record the first step whose test accuracy reaches it
/// ```
public struct RunTraining: Codable, Sendable, Equatable {
    /// The optimizer (its `lr` is the base rate at `schedule.reference_batch_size`).
    public var optimizer: OptimizerSpec
    /// The learning-rate schedule (warm-up, decay, batch-size scaling).
    public var schedule: LearningRateSchedule
    /// Samples per step.
    public var batchSize: Int
    /// Passes over the training set.
    public var epochs: Int
    /// Steps between curve points (train/test loss and accuracy); 0 = at epoch ends only.
    /// Epoch ends, the first and the last step are always recorded.
    public var evalEvery: Int
    /// Epochs between checkpoints sent to the coordinator; 0 = never.
    public var checkpointEvery: Int
    /// A batch loss above this, or a non-finite one, ends the run as `diverged`.
    public var divergeAbove: Double
    /// Test accuracy (0…1) whose first crossing is recorded as `steps_to_target`.
    public var targetAccuracy: Double?
    /// Curve points measure the training loss on this many training samples (a fixed
    /// seeded subset); `nil` = all of them.
    public var evalSamples: Int?
    /// Training samples held out as a validation set (fixed by the spec's `seed`, the same
    /// for every run): recorded along training, and the early-stop step is the step of
    /// minimum validation loss. `nil` = no validation set (early stop on the test loss).
    public var validationSamples: Int? = nil
    /// Stochastic weight averaging (``SWASpec``), `kind: training` only; `nil` = none.
    public var swa: SWASpec? = nil

    static let allowedKeys = ["optimizer", "schedule", "batch_size", "epochs", "eval_every", "checkpoint_every",
                              "diverge_above", "target_accuracy", "eval_samples", "validation_samples", "swa"]

    /// Creates a section.
    public init(optimizer: OptimizerSpec, schedule: LearningRateSchedule = LearningRateSchedule(), batchSize: Int, epochs: Int,
                evalEvery: Int = 0, checkpointEvery: Int = 0, divergeAbove: Double = 1000, targetAccuracy: Double? = nil,
                evalSamples: Int? = nil) {
        self.optimizer = optimizer
        self.schedule = schedule
        self.batchSize = batchSize
        self.epochs = epochs
        self.evalEvery = evalEvery
        self.checkpointEvery = checkpointEvery
        self.divergeAbove = divergeAbove
        self.targetAccuracy = targetAccuracy
        self.evalSamples = evalSamples
    }

    /// Why these values cannot be run (parameters arrive over the wire), or `nil`: the same
    /// bounds the spec is checked against, so that a worker's arithmetic on them cannot trap.
    public var problem: String? {
        let sizes = [batchSize, evalSamples ?? 1, validationSamples ?? 1]
        guard sizes.allSatisfy({ (1...SweepLimits.batchSize).contains($0) }), (1...SweepLimits.stepsPerRun).contains(epochs),
              evalEvery >= 0, checkpointEvery >= 0, divergeAbove > 0 else {
            return "batch_size \(batchSize), epochs \(epochs), eval_every \(evalEvery), checkpoint_every \(checkpointEvery)"
        }
        if let s = swa, let p = s.problem(epochs: epochs) { return p }
        return nil
    }

    /// The steps of one run over `samples` training samples with `batchSize`, checked against
    /// the limits (``SweepLimits``) on steps and curve points, and that warm-up ends before
    /// the run does. Errors name `section`'s fields.
    func checkRun(samples: Int, batchSize: Int, section: String, source: String) throws -> Int {
        let steps = try SweepLimits.steps(epochs: epochs, samples: samples, batchSize: batchSize, field: "\(section).epochs", source: source)
        let points = (evalEvery > 0 ? steps / evalEvery : 0) + epochs + 2
        if points > SweepLimits.curvePointsPerRun {
            throw SpecError(file: source, message: "\(section).eval_every: \(evalEvery) records \(points) curve points over \(steps) steps; the limit is \(SweepLimits.curvePointsPerRun) per run")
        }
        try checkWarmup(steps: steps, batchSize: batchSize, section: section, source: source)
        return steps
    }

    /// Checks that warm-up ends before a run of `steps` steps does (a longer warm-up never
    /// reaches the peak rate, which is almost certainly a mistake in the spec).
    func checkWarmup(steps: Int, batchSize: Int, section: String, source: String) throws {
        if schedule.warmupSteps > 0 && schedule.warmupSteps >= steps {
            throw SpecError(file: source, message: "\(section).schedule.warmup_steps: \(schedule.warmupSteps) steps of warm-up, but the run with batch size \(batchSize) trains only \(steps) steps (\(epochs) epochs); shorten the warm-up")
        }
    }

    /// Parses `section` (e.g. `training`) of a sweep spec; `batch_size` and `optimizer.lr`
    /// may be left out when `gridSupplies` says the grid gives them.
    static func parse(_ node: Node, section: String, source: String, gridSupplies: Set<String> = []) throws -> RunTraining {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        try SpecYAML.checkKeys(node, allowed: allowedKeys, section: section, source: source)
        guard let o = node["optimizer"] else { throw fail("\(section).optimizer: required, e.g. {name: sgd, lr: 0.1, momentum: 0.9}") }
        try SpecYAML.checkKeys(o, allowed: OptimizerSpec.allowedKeys, section: "\(section).optimizer", source: source)
        // Values the grid supplies get placeholders here and are replaced per run.
        var optimizerNode = o
        if gridSupplies.contains("lr"), o["lr"] == nil { optimizerNode["lr"] = Node("1") }
        if gridSupplies.contains("optimizer"), o["name"] == nil { optimizerNode["name"] = Node("sgd") }
        let optimizer: OptimizerSpec = try SpecYAML.decode(optimizerNode, section: "\(section).optimizer", source: source)
        var schedule = LearningRateSchedule()
        if let sc = node["schedule"] {
            try SpecYAML.checkKeys(sc, allowed: LearningRateSchedule.allowedKeys, section: "\(section).schedule", source: source)
            schedule = try SpecYAML.decode(sc, section: "\(section).schedule", source: source)
        }
        var batch = 0
        if let b = node["batch_size"] {
            guard let v = b.int, v > 0 else { throw fail("\(section).batch_size: expected a positive integer") }
            try SweepLimits.check(v, atMost: SweepLimits.batchSize, field: "\(section).batch_size", what: "samples per step", source: source)
            batch = v
        } else if !gridSupplies.contains("batch_size") {
            throw fail("\(section).batch_size: required, a positive integer")
        }
        guard let epochs = node["epochs"]?.int, epochs >= 1 else { throw fail("\(section).epochs: required, a positive integer") }
        // Every epoch has at least one step: the total is checked against the data when it is read.
        try SweepLimits.check(epochs, atMost: SweepLimits.stepsPerRun, field: "\(section).epochs", what: "steps per run", source: source)
        func int(_ key: String, _ d: Int) throws -> Int {
            guard let n = node[key] else { return d }
            guard let v = n.int, v >= 0 else { throw fail("\(section).\(key): expected a non-negative integer") }
            return v
        }
        var spec = RunTraining(optimizer: optimizer, schedule: schedule, batchSize: batch, epochs: epochs,
                               evalEvery: try int("eval_every", 0), checkpointEvery: try int("checkpoint_every", 0))
        if let d = node["diverge_above"] {
            guard let v = d.float, v > 0 else { throw fail("\(section).diverge_above: expected a positive loss bound") }
            spec.divergeAbove = v
        }
        if let t = node["target_accuracy"] {
            guard let v = t.float, v > 0, v <= 1 else { throw fail("\(section).target_accuracy: expected a fraction in (0, 1], e.g. 0.6") }
            spec.targetAccuracy = v
        }
        if let v = node["validation_samples"] {
            guard let n = v.int, n >= 1 else { throw fail("\(section).validation_samples: expected a positive number of training samples to hold out") }
            spec.validationSamples = n
        }
        if let e = node["eval_samples"] {
            guard let v = e.int, v >= 1 else { throw fail("\(section).eval_samples: expected a positive number of samples") }
            try SweepLimits.check(v, atMost: SweepLimits.batchSize, field: "\(section).eval_samples", what: "samples", source: source)
            spec.evalSamples = v
        }
        if let s = node["swa"] { spec.swa = try SWASpec.parse(s, section: "\(section).swa", epochs: epochs, source: source) }
        do { try optimizer.validate(); try schedule.validate() } catch let e as TerrainError {
            // The core names the field (optimizer.lr, schedule.gamma…); put it under this section.
            if case .invalidArgument(let m) = e { throw fail("\(section).\(m)") }
            throw fail("\(section): \(e.description)")
        }
        return spec
    }
}

/// The `curvature:` section of `kind: lottery` and `kind: training` sweeps: the top Hessian
/// eigenvalue of the training loss at the end of each run and, optionally, along training
/// (the edge-of-stability picture: λmax against 2/η, Cohen et al. 2021).
///
/// ```yaml
/// curvature: {lambda_max: true, every_epochs: 2, samples: 1000, iterations: 20}
/// ```
public struct RunCurvature: Codable, Sendable, Equatable {
    /// Measure λmax at the end of the run.
    public var atEnd: Bool
    /// Also measure it every this many epochs (0 = only at the end).
    public var everyEpochs: Int
    /// Training samples the Hessian is taken over (a fixed seeded subset).
    public var samples: Int
    /// Power-iteration steps (Hessian-vector products).
    public var iterations: Int
    /// Seed of the subset and the starting vector.
    public var seed: UInt64

    static let allowedKeys = ["lambda_max", "every_epochs", "samples", "iterations", "seed"]

    /// Creates a section.
    public init(atEnd: Bool = true, everyEpochs: Int = 0, samples: Int = 1000, iterations: Int = 20, seed: UInt64 = 0) {
        self.atEnd = atEnd
        self.everyEpochs = everyEpochs
        self.samples = samples
        self.iterations = iterations
        self.seed = seed
    }

    static func parse(_ node: Node, source: String) throws -> RunCurvature {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        try SpecYAML.checkKeys(node, allowed: allowedKeys, section: "curvature", source: source)
        var c = RunCurvature()
        if let v = node["lambda_max"] {
            guard let b = v.bool else { throw fail("curvature.lambda_max: expected true or false") }
            c.atEnd = b
        }
        func int(_ key: String, min: Int) throws -> Int? {
            guard let n = node[key] else { return nil }
            guard let v = n.int, v >= min else { throw fail("curvature.\(key): expected an integer ≥ \(min)") }
            if key == "iterations" {
                try SweepLimits.check(v, atMost: SweepLimits.curvatureIterations, field: "curvature.iterations", what: "iterations", source: source)
            }
            return v
        }
        c.everyEpochs = try int("every_epochs", min: 0) ?? 0
        c.samples = try int("samples", min: 1) ?? 1000
        c.iterations = try int("iterations", min: 1) ?? 20
        c.seed = UInt64(try int("seed", min: 0) ?? 0)
        return c
    }
}
