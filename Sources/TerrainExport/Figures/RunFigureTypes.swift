import Foundation

// MARK: - Inputs

/// One point of a lottery-ticket figure: a (branch, seed, level) result.
///
/// `density` and `testAccuracy` are fractions (`0.512`, `0.871`); the figure shows them
/// in percent.
public struct LotteryPoint: Sendable, Equatable {
    /// Branch name, e.g. `main` (the winning ticket), `random_reinit` or `random_prune`.
    public var branch: String
    /// Seed of the run (one line is the mean over seeds).
    public var seed: UInt64
    /// Pruning level, `0` for the dense network; points are grouped by level.
    public var level: Int
    /// Fraction of the prunable weights still present, in `(0, 1]`.
    public var density: Double
    /// Test accuracy as a fraction in `[0, 1]`.
    public var testAccuracy: Double

    /// Creates a point; values are checked when the figure is drawn, not here.
    public init(branch: String, seed: UInt64, level: Int, density: Double, testAccuracy: Double) {
        self.branch = branch
        self.seed = seed
        self.level = level
        self.density = density
        self.testAccuracy = testAccuracy
    }
}

/// One training run of a batch-size/learning-rate sweep.
///
/// The metrics of a diverged run are ignored, whatever they hold.
public struct GridRun: Sendable, Equatable {
    /// Mini-batch size (examples per step), `> 0`.
    public var batchSize: Int
    /// Learning rate η, finite and `> 0`.
    public var learningRate: Double
    /// Seed of the run (a point of a figure is the mean over seeds).
    public var seed: UInt64
    /// Whether training diverged (loss became non-finite or exceeded the sweep's limit).
    public var diverged: Bool
    /// Final test accuracy as a fraction in `[0, 1]`; `nil` when diverged or missing.
    public var testAccuracy: Double?
    /// Largest Hessian eigenvalue λmax (sharpness) at the end of training; `nil` when
    /// diverged or not measured.
    public var lambdaMax: Double?
    /// The rate actually used at this batch size when the sweep scales the base rate with
    /// the batch size (`linear`, `sqrt`); `nil` = ``learningRate``. The 2/η threshold of the
    /// λmax figure uses it.
    public var effectiveLearningRate: Double? = nil
    /// Heavy-ball momentum β of the run: the edge-of-stability threshold of SGD with momentum
    /// is (2 + 2β)/η (Cohen et al. 2021); 0 gives 2/η.
    public var momentum: Double = 0

    /// Creates a run record; values are checked when a figure is drawn, not here.
    public init(
        batchSize: Int, learningRate: Double, seed: UInt64, diverged: Bool = false,
        testAccuracy: Double? = nil, lambdaMax: Double? = nil, effectiveLearningRate: Double? = nil, momentum: Double = 0
    ) {
        self.effectiveLearningRate = effectiveLearningRate
        self.momentum = momentum
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seed = seed
        self.diverged = diverged
        self.testAccuracy = testAccuracy
        self.lambdaMax = lambdaMax
    }
}

/// The quantity on the vertical axis of ``RunFigures/batchSizeCurves(_:metric:title:)``.
public enum GridMetric: String, Sendable, CaseIterable {
    /// ``GridRun/testAccuracy``, drawn in percent on a linear axis.
    case testAccuracy
    /// ``GridRun/lambdaMax``, drawn with the edge-of-stability threshold 2/η per learning rate.
    case lambdaMax
}

/// Why a run figure cannot be drawn. Every message names the figure, the offending input
/// and what to change.
public enum RunFigureError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// ``RunFigures/lotteryAccuracy(_:title:)`` was given no points.
    case noPoints
    /// `points[index]` cannot be drawn (empty branch name, negative level, density outside
    /// `(0, 1]`, accuracy outside `[0, 1]` or not finite).
    case invalidPoint(index: Int, reason: String)
    /// `points[index]` repeats the (branch, seed, level) of `points[previous]`.
    case duplicatePoint(index: Int, previous: Int, branch: String, seed: UInt64, level: Int)
    /// A batch-size/learning-rate figure was given no runs.
    case noRuns(figure: String)
    /// `runs[index]` cannot be drawn (batch size `≤ 0`, learning rate not finite and
    /// positive, or a run not marked diverged with a non-finite or out-of-range metric).
    case invalidRun(index: Int, reason: String)
    /// `runs[index]` repeats the (batch size, learning rate, seed) of `runs[previous]`.
    case duplicateRun(index: Int, previous: Int, batchSize: Int, learningRate: Double, seed: UInt64)
    /// No run yields a value of `metric`: all `runs` diverged, or the ones that did not
    /// diverge (`runs − diverged`) do not report it.
    case nothingToDraw(figure: String, metric: String, runs: Int, diverged: Int)

    /// One-line message naming the figure, the offending input and how to fix it.
    public var description: String {
        switch self {
        case .noPoints:
            return "lottery accuracy figure: no points to draw; pass at least one LotteryPoint per (branch, seed, level)"
        case .invalidPoint(let index, let reason):
            return "lottery accuracy figure: points[\(index)] \(reason)"
        case .duplicatePoint(let index, let previous, let branch, let seed, let level):
            return "lottery accuracy figure: points[\(index)] and points[\(previous)] are both branch '\(branch)', seed \(seed), level \(level); pass one result per (branch, seed, level)"
        case .noRuns(let figure):
            return "\(figure): no runs to draw; pass at least one GridRun"
        case .invalidRun(let index, let reason):
            return "runs[\(index)] \(reason)"
        case .duplicateRun(let index, let previous, let batchSize, let learningRate, let seed):
            return "runs[\(index)] and runs[\(previous)] are both batch size \(batchSize), learning rate \(learningRate), seed \(seed); pass one result per (batch size, learning rate, seed)"
        case .nothingToDraw(let figure, let metric, let runs, let diverged):
            if diverged == runs {
                return "\(figure): all \(runs) runs diverged, so there is no \(metric) to plot; lower the learning rates or check the divergence criterion"
            }
            return "\(figure): none of the \(runs - diverged) runs that did not diverge reports \(metric) (\(diverged) of \(runs) diverged); record \(metric) for the finished runs before plotting"
        }
    }

    /// The same text as ``description``.
    public var errorDescription: String? { description }
}

extension GridMetric {
    /// Name used in messages and subtitles.
    var displayName: String {
        switch self {
        case .testAccuracy: return "test accuracy"
        case .lambdaMax: return "λmax"
        }
    }

    var axisLabel: String {
        switch self {
        case .testAccuracy: return "test accuracy (%)"
        case .lambdaMax: return "λmax (top Hessian eigenvalue)"
        }
    }
}
