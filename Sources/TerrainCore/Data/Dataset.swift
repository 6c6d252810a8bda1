import Foundation

/// A labelled data set held in memory: inputs `x` of shape `[N] + sampleShape` and one
/// target per sample.
public struct Dataset<Scalar: TensorScalar>: Sendable {
    /// The inputs, `[N] + sampleShape`.
    public var x: Tensor<Scalar>
    /// The targets.
    public var y: Targets<Scalar>
    /// The number of classes for classification data (`nil` for regression).
    public var classes: Int?

    /// Creates a data set; fails (precondition) when the sample counts disagree.
    public init(x: Tensor<Scalar>, y: Targets<Scalar>, classes: Int? = nil) {
        precondition(x.shape.first == y.count, "dataset: \(x.shape.first ?? 0) inputs but \(y.count) targets")
        self.x = x
        self.y = y
        self.classes = classes
    }

    /// The number of samples.
    public var count: Int { y.count }
    /// The shape of one sample.
    public var sampleShape: [Int] { Array(x.shape.dropFirst()) }
    /// The number of model outputs this data needs: classes, or target width.
    public var outputs: Int {
        if let classes { return classes }
        if case .values(let v) = y { return v.count / max(v.shape[0], 1) }
        return 1
    }

    /// The samples at `indices`, in that order.
    public func batch(_ indices: some Collection<Int>) -> (x: Tensor<Scalar>, y: Targets<Scalar>) {
        (x.gatherRows(indices), y.gather(indices))
    }

    /// The first `n` samples (all when `n >= count`).
    public func prefix(_ n: Int) -> Dataset {
        let m = min(n, count)
        return Dataset(x: x.rows(0..<m), y: y.slice(0..<m), classes: classes)
    }

    /// A fixed subset of `n` samples chosen by a seeded permutation (all when `n >= count`),
    /// kept in their original order.
    public func subset(_ n: Int, seed: UInt64) -> Dataset {
        guard n < count else { return self }
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "subset"))
        let chosen = rng.permutation(count).prefix(n).sorted()
        let (bx, by) = batch(chosen)
        return Dataset(x: bx, y: by, classes: classes)
    }

    /// Holds out `n` samples, chosen by a seeded permutation, as a validation set: returns
    /// (the rest, the held-out samples), both in their original order. `n` must be less than
    /// `count`.
    public func holdOut(_ n: Int, seed: UInt64) -> (rest: Dataset, heldOut: Dataset) {
        precondition(n >= 0 && n < count, "holdOut: \(n) of \(count) samples")
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "hold-out"))
        let perm = rng.permutation(count)
        let held = perm.prefix(n).sorted(), rest = perm.dropFirst(n).sorted()
        let (rx, ry) = batch(rest), (hx, hy) = batch(held)
        return (Dataset(x: rx, y: ry, classes: classes), Dataset(x: hx, y: hy, classes: classes))
    }

    /// Splits into (train, test) with `testFraction` of the samples, chosen by a seeded
    /// permutation, in the test part.
    public func split(testFraction: Double, seed: UInt64) -> (train: Dataset, test: Dataset) {
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "split"))
        let perm = rng.permutation(count)
        let testCount = Int((Double(count) * testFraction).rounded())
        let test = perm.prefix(testCount).sorted(), train = perm.dropFirst(testCount).sorted()
        let (tx, ty) = batch(train), (sx, sy) = batch(test)
        return (Dataset(x: tx, y: ty, classes: classes), Dataset(x: sx, y: sy, classes: classes))
    }
}

/// Deterministic minibatching: the order of epoch `e` is a permutation drawn from
/// `(seed, e)`, so any step of any epoch can be reproduced without replaying the ones
/// before it (resuming, rewinding). The last batch of an epoch may be smaller.
public struct BatchSchedule: Sendable {
    /// Samples in the data set.
    public let count: Int
    /// Samples per batch.
    public let batchSize: Int
    /// The data-order seed.
    public let seed: UInt64
    /// Whether to shuffle (false: batches in data order, e.g. for evaluation).
    public let shuffle: Bool

    /// Creates a schedule. Fails with ``TerrainError/invalidArgument(_:)`` on a
    /// non-positive batch size or empty data.
    public init(count: Int, batchSize: Int, seed: UInt64, shuffle: Bool = true) throws {
        guard batchSize > 0 else { throw TerrainError.invalidArgument("batch_size must be positive, got \(batchSize)") }
        guard count > 0 else { throw TerrainError.invalidArgument("the data set is empty") }
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
    }

    /// Batches per epoch, `⌈count / batchSize⌉`.
    public var stepsPerEpoch: Int { (count + batchSize - 1) / batchSize }

    /// The sample order of an epoch.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<count) }
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "batches"), stream: UInt64(epoch))
        return rng.permutation(count)
    }

    /// The sample indices of global step `step` (epoch `step / stepsPerEpoch`).
    public func indices(step: Int) -> ArraySlice<Int> {
        let epoch = step / stepsPerEpoch, b = step % stepsPerEpoch
        let order = cache.order(epoch: epoch, of: self)
        return order[b * batchSize ..< min((b + 1) * batchSize, count)]
    }

    private let cache = OrderCache()
}

/// Remembers the order of the latest epoch so that consecutive steps do not redraw it.
private final class OrderCache: @unchecked Sendable {
    private var epoch = -1
    private var order: [Int] = []
    private let lock = NSLock()

    func order(epoch e: Int, of schedule: BatchSchedule) -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        if e != epoch {
            order = schedule.order(epoch: e)
            epoch = e
        }
        return order
    }
}
