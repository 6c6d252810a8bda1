import Foundation
import TerrainCore
import Yams

/// Stochastic weight averaging (Izmailov et al. 2018), the `training.swa` option of
/// `kind: training` sweeps: after `start_epoch` epochs of ordinary training, the rate is
/// replaced by SWA's and the weights are averaged every `cycle_epochs` epochs; at the end the
/// average θ̄ gets BatchNorm statistics recomputed over the training set and is evaluated
/// beside the final iterate θ_SGD. Both are saved (the `final` and `swa` artifacts), so
/// surfaces and λmax can compare the two solutions.
///
/// ```yaml
/// training:
///   swa:
///     start_epoch: 30       # epochs of ordinary training before averaging starts
///     lr: 0.01              # constant: the rate from then on; cyclic: the cycle's low rate α2
///     schedule: constant    # or cyclic
///     max_lr: 0.05          # cyclic only: the cycle's high rate α1 (default: the run's peak rate)
///     cycle_epochs: 1       # average at the end of every this many epochs (cyclic: the cycle length)
/// ```
///
/// Cyclic rate (Izmailov et al., eq. 2): at step i after the start, with a cycle of c steps,
/// t = ((i mod c) + 1)/c and α = (1 − t)·α1 + t·α2, so each cycle ends at α2, where the
/// iterate is averaged. The rates are used as given (no batch-size scaling).
public struct SWASpec: Codable, Sendable, Equatable {
    /// Constant or cyclic rate after the start.
    public enum Schedule: String, Codable, Sendable, CaseIterable { case constant, cyclic }

    /// Epochs of ordinary training before averaging starts (0 ≤ start < epochs).
    public var startEpoch: Int
    /// The SWA rate (constant), or the low rate α2 ending each cycle (cyclic).
    public var lr: Double
    /// Constant or cyclic.
    public var schedule: Schedule
    /// Cyclic: the high rate α1 starting each cycle; `nil` = the run's batch-scaled base rate.
    public var maxLR: Double?
    /// Epochs between averaged iterates (the cycle length when cyclic).
    public var cycleEpochs: Int

    enum CodingKeys: String, CodingKey {
        case startEpoch = "start_epoch", lr, schedule, maxLR = "max_lr", cycleEpochs = "cycle_epochs"
    }

    static let allowedKeys = ["start_epoch", "lr", "schedule", "max_lr", "cycle_epochs"]

    /// Creates the option.
    public init(startEpoch: Int, lr: Double, schedule: Schedule = .constant, maxLR: Double? = nil, cycleEpochs: Int = 1) {
        self.startEpoch = startEpoch
        self.lr = lr
        self.schedule = schedule
        self.maxLR = maxLR
        self.cycleEpochs = cycleEpochs
    }

    /// Why these values cannot run for `epochs` epochs (they arrive over the wire too), or `nil`.
    func problem(epochs: Int) -> String? {
        guard startEpoch >= 0, startEpoch < epochs, cycleEpochs >= 1, cycleEpochs <= epochs - startEpoch else {
            return "swa.start_epoch \(startEpoch) and swa.cycle_epochs \(cycleEpochs) leave no averaged iterate within \(epochs) epochs (need start_epoch + cycle_epochs ≤ epochs)"
        }
        guard lr > 0, lr.isFinite, (maxLR ?? 1) > 0, (maxLR ?? 1).isFinite else { return "swa.lr \(lr), swa.max_lr \(maxLR ?? .nan): expected positive rates" }
        if maxLR != nil && schedule != .cyclic { return "swa.max_lr is for schedule: cyclic" }
        return nil
    }

    /// The number of iterates a run of `epochs` epochs averages.
    public func averagedIterates(epochs: Int) -> Int { max(0, (epochs - startEpoch) / cycleEpochs) }

    /// Whether the iterate after `step` steps (`perEpoch` per epoch) is averaged: an epoch
    /// end, at least `cycle_epochs` after the start, on the cycle.
    func averages(afterStep step: Int, perEpoch: Int) -> Bool {
        guard perEpoch > 0, step % perEpoch == 0 else { return false }
        let since = step / perEpoch - startEpoch
        return since > 0 && since % cycleEpochs == 0
    }

    /// The rate replacing the schedule's from the start on (`nil` before it); `peak` is the
    /// run's batch-scaled base rate, α1's default.
    func rateOverride(perEpoch: Int, peak: Double) -> @Sendable (Int) -> Double? {
        let start = startEpoch * perEpoch, cycle = cycleEpochs * perEpoch
        let low = lr, high = maxLR ?? peak, cyclic = schedule == .cyclic
        return { step in
            guard step >= start else { return nil }
            guard cyclic else { return low }
            let t = Double((step - start) % cycle + 1) / Double(cycle)
            return (1 - t) * high + t * low
        }
    }

    /// Parses `training.swa` for a run of `epochs` epochs.
    static func parse(_ node: Node, section: String, epochs: Int, source: String) throws -> SWASpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        try SpecYAML.checkKeys(node, allowed: allowedKeys, section: section, source: source)
        guard let start = node["start_epoch"]?.int, start >= 0 else {
            throw fail("\(section).start_epoch: required, the epochs of ordinary training before averaging (0 ≤ start_epoch < epochs)")
        }
        guard let lr = node["lr"]?.float, lr > 0, lr.isFinite else { throw fail("\(section).lr: required, a positive rate") }
        var spec = SWASpec(startEpoch: start, lr: lr)
        if let s = node["schedule"] {
            guard let v = s.string.flatMap(Schedule.init(rawValue:)) else { throw fail("\(section).schedule: expected constant or cyclic") }
            spec.schedule = v
        }
        if let m = node["max_lr"] {
            guard let v = m.float, v > 0, v.isFinite else { throw fail("\(section).max_lr: expected a positive rate") }
            spec.maxLR = v
        }
        if let c = node["cycle_epochs"] {
            guard let v = c.int, v >= 1 else { throw fail("\(section).cycle_epochs: expected a positive number of epochs") }
            spec.cycleEpochs = v
        }
        if let problem = spec.problem(epochs: epochs) { throw fail("\(section): \(problem)") }
        return spec
    }
}

/// What a run with ``SWASpec`` records about its averaged solution θ̄ (the final iterate's
/// metrics stay in the run's own fields).
public struct SWAOutcome: Codable, Sendable, Equatable {
    /// The option's start epoch, rate and schedule.
    public var startEpoch: Int
    public var lr: Double
    public var schedule: String
    /// Iterates averaged.
    public var averaged: Int
    /// θ̄'s metrics (BatchNorm statistics recomputed over the training set).
    public var trainLoss: Double
    public var trainAccuracy: Double?
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// θ̄'s top Hessian eigenvalue, when the sweep measures λmax at the end.
    public var lambdaMax: Double?

    enum CodingKeys: String, CodingKey {
        case startEpoch = "start_epoch", lr, schedule, averaged, trainLoss = "train_loss", trainAccuracy = "train_acc"
        case testLoss = "test_loss", testAccuracy = "test_acc", validationLoss = "val_loss", validationAccuracy = "val_acc"
        case lambdaMax = "lambda_max"
    }
}
