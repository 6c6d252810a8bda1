import Foundation

/// Reads the data a ``DataSpec`` describes.
public enum DataLoader {
    /// One part (training or test) as read from the files, before subsets and splits.
    enum Part {
        case dense(x: [Double], shape: [Int], y: [Double], yShape: [Int])
        case images(ImageStore, y: [Double], yShape: [Int])

        var labels: [Double] {
            switch self {
            case .dense(_, _, let y, _), .images(_, let y, _): return y
            }
        }
    }

    /// Loads (train, test) data. `baseDirectory` resolves relative paths; `seed` fixes
    /// subsets and held-out splits. Image data (CIFAR files, 4-D NPZ arrays) stays in its
    /// files' element type, memory-mapped; a deflated NPZ image array is decompressed once
    /// into `cacheDirectory` (default ``defaultCacheDirectory``) and mapped from there.
    /// The training part carries the spec's augmentation; the test part never does.
    ///
    /// Throws ``TerrainError/invalidData(_:)`` naming the file and array at fault.
    public static func load<Scalar: TensorScalar>(
        _ spec: DataSpec, baseDirectory: String, seed: UInt64, cacheDirectory: String? = nil, as: Scalar.Type = Scalar.self
    ) throws -> (train: Dataset<Scalar>, test: Dataset<Scalar>?) {
        try spec.validate()
        let spec = spec.resolvingPaths(against: baseDirectory)
        let source = spec.path ?? spec.trainImages ?? spec.cifarFiles.train.first ?? "data"
        let train: Part, test: Part?
        switch spec.resolvedFormat! {
        case .npz: (train, test) = try npz(spec, cacheDirectory: cacheDirectory ?? defaultCacheDirectory)
        case .cifar10, .cifar100: (train, test) = try cifar(spec)
        case .idx:
            let xi = try IDX.read(contentsOf: spec.trainImages!)
            let yi = try IDX.read(contentsOf: spec.trainLabels!)
            train = .dense(x: xi.values, shape: xi.shape, y: yi.values, yShape: yi.shape)
            if let ti = spec.testImages, let tl = spec.testLabels {
                let xs = try IDX.read(contentsOf: ti), ys = try IDX.read(contentsOf: tl)
                test = .dense(x: xs.values, shape: xs.shape, y: ys.values, yShape: ys.shape)
            } else {
                test = nil
            }
        case .csv:
            train = try csv(spec)
            test = nil
        }
        if case .dense = train, spec.normalize != nil || spec.augment != nil || spec.layout != nil {
            throw TerrainError.invalidData("\(source): data.layout, data.normalize and data.augment need image data (format cifar10/cifar100, or a 4-D npz array [N, C, H, W] or [N, H, W, C]); these inputs have shape \(shape(train))")
        }
        let classes = try self.classes(spec, train.labels + (test?.labels ?? []), source: source)
        var trainSet: Dataset<Scalar> = try make(train, "training", spec: spec, classes: classes, source: source)
        var testSet: Dataset<Scalar>? = try test.map { try make($0, "test", spec: spec, classes: classes, source: source) }
        if testSet != nil, spec.testFraction != nil {
            throw TerrainError.invalidData("\(source): has a test set already; remove data.test_fraction")
        }
        if testSet == nil, let f = spec.testFraction {
            let parts = trainSet.split(testFraction: f, seed: seed)
            trainSet = parts.train
            testSet = parts.test
        }
        if let n = spec.trainSubset { trainSet = trainSet.subset(n, seed: TerrainRNG.derive(seed, 1)) }
        if let n = spec.testSubset { testSet = testSet?.subset(n, seed: TerrainRNG.derive(seed, 2)) }
        if let p = spec.labelNoise, p > 0 {
            guard (trainSet.classes ?? 0) >= 2 else {
                throw TerrainError.invalidData("\(source): data.label_noise needs at least two classes")
            }
            trainSet = trainSet.withLabelNoise(p, seed: seed).data
        }
        if let t = testSet, t.sampleShape != trainSet.sampleShape {
            throw TerrainError.invalidData("\(source): training samples have shape \(trainSet.sampleShape) but test samples \(t.sampleShape)")
        }
        if let a = spec.augment, !a.isIdentity { trainSet.augmentation = a }
        return (trainSet, testSet)
    }

    /// The directory for decompressed NPZ image arrays: `$TERRAIN_DATA_CACHE`, else
    /// `$XDG_CACHE_HOME/terrain/data`, else `~/.cache/terrain/data`.
    public static var defaultCacheDirectory: String { MappedNPZ.defaultCacheDirectory }

    private static func shape(_ p: Part) -> [Int] {
        switch p {
        case .dense(_, let s, _, _): return s
        case .images(let store, _, _): return [store.count] + store.sampleShape
        }
    }

    static func npz(_ spec: DataSpec, cacheDirectory: String) throws -> (Part, Part?) {
        let path = spec.path!
        let archive = try MappedNPZ(path: path)
        func part(_ xKey: String, _ yKey: String) throws -> Part {
            var x = try archive.member(xKey, cacheDirectory: cacheDirectory)
            let header = try x.header()
            let y = try archive.member(yKey, cacheDirectory: nil).array()
            guard header.shape.count == 4 else {
                let a = try x.array()
                return .dense(x: try a.asDoubles(), shape: a.shape, y: try y.asDoubles(), yShape: y.shape)
            }
            if case .bytes(let b, _) = x { x = try archive.cache(xKey, bytes: b, directory: cacheDirectory) }
            let store = try ImageStore.npy(x, layout: spec.layout, scale: spec.scale, normalize: spec.normalize,
                                           source: "\(path): array \(xKey)")
            return .images(store, y: try y.asDoubles(), yShape: y.shape)
        }
        let train = try part(spec.xTrainKey, spec.yTrainKey)
        let test = archive.has(spec.xTestKey) ? try part(spec.xTestKey, spec.yTestKey) : nil
        if case .images = train, let test, case .dense = test {
            throw TerrainError.invalidData("\(path): \(spec.xTrainKey) is a 4-D image array but \(spec.xTestKey) is not")
        }
        return (train, test)
    }

    static func cifar(_ spec: DataSpec) throws -> (Part, Part?) {
        let variant: CIFAR.Variant = spec.resolvedFormat == .cifar10 ? .cifar10 : .cifar100
        let normalization = try ImageNormalization(scale: spec.scale, mean: spec.normalize?.mean ?? [],
                                                   std: spec.normalize?.std ?? [], channels: 3)
        let files = spec.cifarFiles
        func part(_ list: [String]) throws -> Part {
            let (store, labels) = try CIFAR.load(files: list, variant: variant, coarse: spec.label == "coarse",
                                                 normalization: normalization)
            return .images(store, y: labels.map(Double.init), yShape: [labels.count])
        }
        return (try part(files.train), files.test.isEmpty ? nil : try part(files.test))
    }

    static func csv(_ spec: DataSpec) throws -> Part {
        let path = spec.path!
        let table = try CSVTable.read(contentsOf: path)
        let column = spec.labelColumn < 0 ? table.columns + spec.labelColumn : spec.labelColumn
        guard column >= 0 && column < table.columns else {
            throw TerrainError.invalidData("\(path): data.label_column \(spec.labelColumn) is outside its \(table.columns) columns")
        }
        var xs = [Double](), ys = [Double]()
        xs.reserveCapacity(table.rows * (table.columns - 1))
        for r in 0..<table.rows {
            for c in 0..<table.columns {
                let v = table.values[r * table.columns + c]
                if c == column { ys.append(v) } else { xs.append(v) }
            }
        }
        return .dense(x: xs, shape: [table.rows, table.columns - 1], y: ys, yShape: [table.rows])
    }

    /// The number of classes (nil for regression), with every label checked: `data.classes`,
    /// else the format's (10 for CIFAR-10, 100 or 20 for CIFAR-100), else the largest label + 1.
    static func classes(_ spec: DataSpec, _ labels: [Double], source: String) throws -> Int? {
        guard spec.targets == "classes" else { return nil }
        for v in labels where v < 0 || v != v.rounded() || !(v < 1e9) {
            throw TerrainError.invalidData("\(source): label \(v) is not a non-negative integer (use data.targets: values for regression)")
        }
        let inferred = Int(labels.max() ?? 0) + 1
        if let k = spec.classes, k < inferred {
            throw TerrainError.invalidData("\(source): labels go up to \(inferred - 1) but data.classes is \(k)")
        }
        let standard: Int?
        switch spec.resolvedFormat {
        case .cifar10?: standard = 10
        case .cifar100?: standard = spec.label == "coarse" ? 20 : 100
        default: standard = nil
        }
        return spec.classes ?? standard ?? inferred
    }

    static func make<Scalar: TensorScalar>(_ part: Part, _ name: String, spec: DataSpec, classes: Int?, source: String) throws -> Dataset<Scalar> {
        let (n, yValues, yShape): (Int?, [Double], [Int])
        switch part {
        case .dense(_, let s, let y, let ys): (n, yValues, yShape) = (s.first, y, ys)
        case .images(let store, let y, let ys): (n, yValues, yShape) = (store.count, y, ys)
        }
        guard let n, n == yShape.first else {
            throw TerrainError.invalidData("\(source): \(name) inputs have shape \(shape(part)) but targets \(yShape)")
        }
        let y: Targets<Scalar>
        if classes != nil {
            y = .classes(yValues.map { Int($0) })
        } else {
            let width = yValues.count / max(n, 1)
            y = .values(Tensor(shape: [n, width], storage: yValues.map { Scalar($0) }))
        }
        switch part {
        case .dense(let x, let s, _, _):
            let shape = s.count == 1 ? [n, 1] : s
            return Dataset(x: Tensor<Scalar>(shape: shape, storage: x.map { Scalar($0 * spec.scale) }), y: y, classes: classes)
        case .images(let store, _, _):
            return Dataset(images: store, y: y, classes: classes)
        }
    }
}
