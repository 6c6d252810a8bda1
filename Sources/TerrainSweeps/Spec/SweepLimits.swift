/// The limits a spec is checked against when it is read (docs/spec.md, "Limits"), and the
/// overflow-safe arithmetic that computes the totals they bound. A spec past a limit is
/// refused by `terrain validate`, `run` and `coordinator` with a ``SpecError`` naming the
/// field and the limit — never by a trap, an allocation that does not fit, or a dataset that
/// fills the disk.
public enum SweepLimits {
    /// Tasks in one sweep: each is a row in the dataset and an entry in the scheduler.
    public static let tasks = 1_000_000
    /// Points of a surface grid (4096 × 4096).
    public static let gridPoints = 1 << 24
    /// Optimizer steps of one training run (`epochs × ⌈N / batch_size⌉`).
    public static let stepsPerRun = 1_000_000_000
    /// Curve points one run records (`steps / eval_every` plus the epoch ends).
    public static let curvePointsPerRun = 1_000_000
    /// Samples per step.
    public static let batchSize = 1 << 24
    /// A probe task's sleep, milliseconds (one hour).
    public static let probeSleepMs = 3_600_000
    /// Iterations of an iterative curvature estimate (power iteration, Lanczos).
    public static let curvatureIterations = 100_000
    /// Top Hessian eigenvalues computed by deflation (each costs a vector of the model's size).
    public static let eigenvalues = 100

    /// `values` multiplied, or `nil` when the product does not fit an `Int` (or a value is negative).
    public static func product(_ values: [Int]) -> Int? {
        var p = 1
        for v in values {
            guard v >= 0 else { return nil }
            let (r, overflow) = p.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            p = r
        }
        return p
    }

    /// `a + b`, or `nil` on overflow.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : r
    }

    /// `⌈samples / batchSize⌉` without the overflow of `samples + batchSize − 1`.
    public static func stepsPerEpoch(samples: Int, batchSize: Int) -> Int {
        guard batchSize > 0, samples > 0 else { return 0 }
        return samples / batchSize + (samples % batchSize == 0 ? 0 : 1)
    }

    /// The steps of a run of `epochs` epochs, checked against ``stepsPerRun``; the error names
    /// `field` (e.g. `training.epochs`).
    static func steps(epochs: Int, samples: Int, batchSize: Int, field: String, source: String) throws -> Int {
        let perEpoch = stepsPerEpoch(samples: samples, batchSize: batchSize)
        guard let steps = product([epochs, perEpoch]), steps <= stepsPerRun else {
            throw SpecError(file: source, message: "\(field): \(epochs) epochs of \(perEpoch) steps (\(samples) samples, batch size \(batchSize)) is more than the limit of \(stepsPerRun) steps per run")
        }
        return steps
    }

    /// Checks that a sweep's task count (`nil`: it overflowed) is within ``tasks``; the error
    /// names `field` and how the count arises.
    static func checkTasks(_ count: Int?, field: String, how: String, source: String) throws {
        guard let count, count <= tasks else {
            let n = count.map(String.init) ?? "more than \(Int.max)"
            throw SpecError(file: source, message: "\(field): \(how) make \(n) tasks; the limit is \(tasks) tasks per sweep")
        }
    }

    /// Checks `value` ≤ `limit` for an integer field.
    static func check(_ value: Int, atMost limit: Int, field: String, what: String, source: String) throws {
        if value > limit { throw SpecError(file: source, message: "\(field): \(value) is more than the limit of \(limit) \(what)") }
    }
}
