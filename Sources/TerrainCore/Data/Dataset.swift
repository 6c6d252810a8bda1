import Foundation

/// A labelled data set: inputs of shape `[N] + sampleShape` and one target per sample.
///
/// Inputs are held one of two ways:
/// - **dense**: a `Tensor` of the model's scalar type (tabular and small data: MNIST-1D,
///   digits, CSV, IDX);
/// - **images**: an ``ImageStore`` of uint8 or float pixels, memory-mapped from the file and
///   shared by the processes of a node, plus an optional list of the store's samples that
///   this set consists of (subsets, hold-outs and splits are index lists, never copies).
///   Batches are normalized on the fly.
///
/// Read inputs through ``inputs(_:)`` (a range of samples), ``batch(_:)`` (any samples) or
/// ``trainingBatch(_:seed:epoch:)`` (with augmentation); ``x`` materializes every sample
/// and is meant for small dense sets only.
public struct Dataset<Scalar: TensorScalar>: Sendable {
    enum Storage: Sendable {
        case dense(Tensor<Scalar>)
        case images(ImageStore, [Int]?)
    }

    var storage: Storage
    /// The targets.
    public var y: Targets<Scalar>
    /// The number of classes for classification data (`nil` for regression).
    public var classes: Int?
    /// Training-time augmentation applied by ``trainingBatch(_:seed:epoch:)`` (image data
    /// only; `nil`: none). Evaluation paths never apply it.
    public var augmentation: ImageAugmentation?

    /// Creates a dense data set; fails (precondition) when the sample counts disagree.
    public init(x: Tensor<Scalar>, y: Targets<Scalar>, classes: Int? = nil) {
        precondition(x.shape.first == y.count, "dataset: \(x.shape.first ?? 0) inputs but \(y.count) targets")
        self.storage = .dense(x)
        self.y = y
        self.classes = classes
    }

    /// Creates an image data set over `store`, made of the store's samples `indices` (all, in
    /// order, when `nil`); fails (precondition) when the sample counts disagree or an index is
    /// outside the store.
    public init(images store: ImageStore, indices: [Int]? = nil, y: Targets<Scalar>, classes: Int? = nil,
                augmentation: ImageAugmentation? = nil) {
        precondition((indices?.count ?? store.count) == y.count, "dataset: \(indices?.count ?? store.count) images but \(y.count) targets")
        precondition(indices?.allSatisfy { $0 >= 0 && $0 < store.count } ?? true, "dataset: image index outside the store")
        self.storage = .images(store, indices)
        self.y = y
        self.classes = classes
        self.augmentation = augmentation
    }

    /// All inputs as one dense tensor `[N] + sampleShape`. For image data this converts every
    /// sample (N·C·H·W scalars): use ``inputs(_:)`` or ``batch(_:)`` instead. Setting it
    /// replaces the inputs with a dense tensor.
    public var x: Tensor<Scalar> {
        get {
            switch storage {
            case .dense(let t): return t
            case .images(let store, let indices): return store.tensor(indices ?? Array(0..<store.count))
            }
        }
        set { storage = .dense(newValue) }
    }

    /// The image store behind this set, `nil` for dense data.
    public var imageStore: ImageStore? {
        if case .images(let s, _) = storage { return s }
        return nil
    }

    /// The samples of ``imageStore`` this set consists of, in order (`nil` for dense data).
    public var imageRows: [Int]? {
        guard case .images(let s, let indices) = storage else { return nil }
        return indices ?? Array(0..<s.count)
    }

    /// The number of samples.
    public var count: Int { y.count }
    /// The shape of one sample.
    public var sampleShape: [Int] {
        switch storage {
        case .dense(let t): return Array(t.shape.dropFirst())
        case .images(let s, _): return s.sampleShape
        }
    }
    /// The number of model outputs this data needs: classes, or target width.
    public var outputs: Int {
        if let classes { return classes }
        if case .values(let v) = y { return v.count / max(v.shape[0], 1) }
        return 1
    }

    /// The store indices of samples `positions` of this set.
    private func storeIndices(_ indices: [Int]?, _ positions: some Collection<Int>) -> [Int] {
        guard let indices else { return Array(positions) }
        return positions.map { indices[$0] }
    }

    /// The inputs of samples `range`, `[range.count] + sampleShape` (never augmented). For
    /// dense data the whole range is the stored tensor itself, without a copy.
    public func inputs(_ range: Range<Int>) -> Tensor<Scalar> {
        switch storage {
        case .dense(let t): return range == 0..<count ? t : t.rows(range)
        case .images(let s, let indices): return s.tensor(storeIndices(indices, range))
        }
    }

    /// The samples at `indices`, in that order (never augmented).
    public func batch(_ indices: some Collection<Int>) -> (x: Tensor<Scalar>, y: Targets<Scalar>) {
        switch storage {
        case .dense(let t): return (t.gatherRows(indices), y.gather(indices))
        case .images(let s, let map): return (s.tensor(storeIndices(map, indices)), y.gather(indices))
        }
    }

    /// The samples at `indices` as the training step of `epoch` sees them: with
    /// ``augmentation`` applied (drawn from `(seed, epoch, sample)`, see
    /// ``ImageAugmentation``), or exactly ``batch(_:)`` when there is none.
    public func trainingBatch(_ indices: some Collection<Int>, seed: UInt64, epoch: Int) -> (x: Tensor<Scalar>, y: Targets<Scalar>) {
        guard let aug = augmentation, !aug.isIdentity, case .images(let s, let map) = storage else { return batch(indices) }
        return (s.tensor(storeIndices(map, indices), augmentation: (aug, seed, epoch)), y.gather(indices))
    }

    /// The samples at `positions` (positions in this set) as a data set of their own: a copy
    /// for dense data, an index list for image data.
    public func selecting(_ positions: [Int]) -> Dataset {
        switch storage {
        case .dense(let t):
            return Dataset(x: t.gatherRows(positions), y: y.gather(positions), classes: classes)
        case .images(let s, let map):
            return Dataset(images: s, indices: storeIndices(map, positions), y: y.gather(positions), classes: classes,
                           augmentation: augmentation)
        }
    }

    /// The first `n` samples (all when `n >= count`).
    public func prefix(_ n: Int) -> Dataset {
        let m = min(n, count)
        if case .dense(let t) = storage { return Dataset(x: t.rows(0..<m), y: y.slice(0..<m), classes: classes) }
        return selecting(Array(0..<m))
    }

    /// A fixed subset of `n` samples chosen by a seeded permutation (all when `n >= count`),
    /// kept in their original order.
    public func subset(_ n: Int, seed: UInt64) -> Dataset {
        guard n < count else { return self }
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "subset"))
        return selecting(rng.permutation(count).prefix(n).sorted())
    }

    /// Holds out `n` samples, chosen by a seeded permutation, as a validation set: returns
    /// (the rest, the held-out samples), both in their original order. `n` must be less than
    /// `count`. The held-out set carries no augmentation.
    public func holdOut(_ n: Int, seed: UInt64) -> (rest: Dataset, heldOut: Dataset) {
        precondition(n >= 0 && n < count, "holdOut: \(n) of \(count) samples")
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "hold-out"))
        let perm = rng.permutation(count)
        var held = selecting(perm.prefix(n).sorted())
        held.augmentation = nil
        return (selecting(perm.dropFirst(n).sorted()), held)
    }

    /// Splits into (train, test) with `testFraction` of the samples, chosen by a seeded
    /// permutation, in the test part (which carries no augmentation).
    public func split(testFraction: Double, seed: UInt64) -> (train: Dataset, test: Dataset) {
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "split"))
        let perm = rng.permutation(count)
        let testCount = Int((Double(count) * testFraction).rounded())
        var test = selecting(perm.prefix(testCount).sorted())
        test.augmentation = nil
        return (selecting(perm.dropFirst(testCount).sorted()), test)
    }

    /// The same samples in another precision. Image data shares its store and is normalized
    /// directly in the new precision (a Float set converted to Double gives the exact
    /// normalized values, not Float-rounded ones); dense data is converted element by element.
    public func converted<Other: TensorScalar>(to: Other.Type) -> Dataset<Other> {
        let targets: Targets<Other>
        switch y {
        case .classes(let c): targets = .classes(c)
        case .values(let v): targets = .values(Tensor(v))
        }
        switch storage {
        case .dense(let t): return Dataset<Other>(x: Tensor(t), y: targets, classes: classes)
        case .images(let s, let map):
            return Dataset<Other>(images: s, indices: map, y: targets, classes: classes, augmentation: augmentation)
        }
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
