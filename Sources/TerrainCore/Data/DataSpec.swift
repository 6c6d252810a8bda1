import Foundation

/// The `data:` section of a spec: where the samples come from and how to split them.
///
/// Formats: `npz` (arrays `x_train`, `y_train`, and optionally `x_test`, `y_test`; key names
/// configurable), `idx` (MNIST's format: `train_images`, `train_labels`, `test_images`,
/// `test_labels` files) and `csv` (one sample per row, the label in `label_column`).
/// Relative paths are resolved against the directory of the spec file.
public struct DataSpec: Codable, Sendable, Equatable {
    /// The file format.
    public enum Format: String, Codable, Sendable, CaseIterable { case npz, idx, csv }

    /// The format; inferred from `path`'s extension when omitted.
    public var format: Format?
    /// The `.npz` or `.csv` file.
    public var path: String?
    /// IDX files.
    public var trainImages: String?, trainLabels: String?, testImages: String?, testLabels: String?
    /// NPZ array names.
    public var xTrainKey: String, yTrainKey: String, xTestKey: String, yTestKey: String
    /// CSV: the label column (0-based; negative counts from the end). Default: the last.
    public var labelColumn: Int
    /// Fraction of samples held out as a test set when the file has none.
    public var testFraction: Double?
    /// Use only this many training samples (a fixed, seeded subset).
    public var trainSubset: Int?
    /// Use only this many test samples (a fixed, seeded subset).
    public var testSubset: Int?
    /// Number of classes; inferred as `max label + 1` when omitted.
    public var classes: Int?
    /// `classes` (integer labels, the default) or `values` (regression targets).
    public var targets: String
    /// Multiply every input by this (e.g. `0.00392156862745098` = 1/255 for raw MNIST pixels).
    public var scale: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, path, trainImages = "train_images", trainLabels = "train_labels"
        case testImages = "test_images", testLabels = "test_labels"
        case xTrainKey = "x_train_key", yTrainKey = "y_train_key", xTestKey = "x_test_key", yTestKey = "y_test_key"
        case labelColumn = "label_column", testFraction = "test_fraction", trainSubset = "train_subset"
        case testSubset = "test_subset", classes, targets, scale
    }

    /// The keys a `data:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a spec for an NPZ file with the standard key names.
    public init(path: String, trainSubset: Int? = nil, testSubset: Int? = nil) {
        self.format = nil
        self.path = path
        self.xTrainKey = "x_train"; self.yTrainKey = "y_train"; self.xTestKey = "x_test"; self.yTestKey = "y_test"
        self.labelColumn = -1
        self.testFraction = nil
        self.trainSubset = trainSubset
        self.testSubset = testSubset
        self.classes = nil
        self.targets = "classes"
        self.scale = 1
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decodeIfPresent(Format.self, forKey: .format)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        trainImages = try c.decodeIfPresent(String.self, forKey: .trainImages)
        trainLabels = try c.decodeIfPresent(String.self, forKey: .trainLabels)
        testImages = try c.decodeIfPresent(String.self, forKey: .testImages)
        testLabels = try c.decodeIfPresent(String.self, forKey: .testLabels)
        xTrainKey = try c.decodeIfPresent(String.self, forKey: .xTrainKey) ?? "x_train"
        yTrainKey = try c.decodeIfPresent(String.self, forKey: .yTrainKey) ?? "y_train"
        xTestKey = try c.decodeIfPresent(String.self, forKey: .xTestKey) ?? "x_test"
        yTestKey = try c.decodeIfPresent(String.self, forKey: .yTestKey) ?? "y_test"
        labelColumn = try c.decodeIfPresent(Int.self, forKey: .labelColumn) ?? -1
        testFraction = try c.decodeIfPresent(Double.self, forKey: .testFraction)
        trainSubset = try c.decodeIfPresent(Int.self, forKey: .trainSubset)
        testSubset = try c.decodeIfPresent(Int.self, forKey: .testSubset)
        classes = try c.decodeIfPresent(Int.self, forKey: .classes)
        targets = try c.decodeIfPresent(String.self, forKey: .targets) ?? "classes"
        scale = try c.decodeIfPresent(Double.self, forKey: .scale) ?? 1
    }

    /// The format, given or inferred.
    public var resolvedFormat: Format? {
        if let format { return format }
        if trainImages != nil { return .idx }
        guard let path else { return nil }
        switch (path as NSString).pathExtension.lowercased() {
        case "npz": return .npz
        case "csv", "txt": return .csv
        default: return nil
        }
    }

    /// Checks the fields without reading files.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw TerrainError.invalidData(m) }
        guard let format = resolvedFormat else {
            try fail("data: give path (an .npz or .csv file) or format: idx with train_images/train_labels; set data.format when the extension does not tell")
        }
        switch format {
        case .npz, .csv: if path == nil { try fail("data.path is required for format \(format.rawValue)") }
        case .idx: if trainImages == nil || trainLabels == nil { try fail("data.train_images and data.train_labels are required for format idx") }
        }
        if let f = testFraction, !(f > 0 && f < 1) { try fail("data.test_fraction must be in (0, 1), got \(f)") }
        if let n = trainSubset, n <= 0 { try fail("data.train_subset must be positive, got \(n)") }
        if let n = testSubset, n <= 0 { try fail("data.test_subset must be positive, got \(n)") }
        if let k = classes, k <= 0 { try fail("data.classes must be positive, got \(k)") }
        if targets != "classes" && targets != "values" { try fail("data.targets must be classes or values, got \(targets)") }
        if !(scale.isFinite) || scale == 0 { try fail("data.scale must be a finite non-zero number") }
    }
}

/// Reads the data a ``DataSpec`` describes.
public enum DataLoader {
    /// Loads (train, test) data. `baseDirectory` resolves relative paths; `seed` fixes
    /// subsets and held-out splits. Throws ``TerrainError/invalidData(_:)`` naming the file
    /// and array at fault.
    public static func load<Scalar: TensorScalar>(
        _ spec: DataSpec, baseDirectory: String, seed: UInt64, as: Scalar.Type = Scalar.self
    ) throws -> (train: Dataset<Scalar>, test: Dataset<Scalar>?) {
        try spec.validate()
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardizedFileURL.path
        }
        var train: (x: [Double], shape: [Int], y: [Double], yShape: [Int])
        var test: (x: [Double], shape: [Int], y: [Double], yShape: [Int])? = nil
        switch spec.resolvedFormat! {
        case .npz:
            let path = resolve(spec.path!)
            let arrays = try NPZ.read(contentsOf: path)
            func array(_ key: String) throws -> NPYArray {
                guard let a = arrays[key] ?? arrays[key + ".npy"] else {
                    throw TerrainError.invalidData("\(path): no array '\(key)' (it has \(arrays.keys.sorted().joined(separator: ", ")))")
                }
                return a
            }
            let xt = try array(spec.xTrainKey), yt = try array(spec.yTrainKey)
            train = (try xt.asDoubles(), xt.shape, try yt.asDoubles(), yt.shape)
            if arrays[spec.xTestKey] != nil || arrays[spec.xTestKey + ".npy"] != nil {
                let xs = try array(spec.xTestKey), ys = try array(spec.yTestKey)
                test = (try xs.asDoubles(), xs.shape, try ys.asDoubles(), ys.shape)
            }
        case .idx:
            let xi = try IDX.read(contentsOf: resolve(spec.trainImages!))
            let yi = try IDX.read(contentsOf: resolve(spec.trainLabels!))
            train = (xi.values, xi.shape, yi.values, yi.shape)
            if let ti = spec.testImages, let tl = spec.testLabels {
                let xs = try IDX.read(contentsOf: resolve(ti)), ys = try IDX.read(contentsOf: resolve(tl))
                test = (xs.values, xs.shape, ys.values, ys.shape)
            }
        case .csv:
            let path = resolve(spec.path!)
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
            train = (xs, [table.rows, table.columns - 1], ys, [table.rows])
        }
        let source = spec.path ?? spec.trainImages ?? "data"
        let classes: Int?
        if spec.targets == "classes" {
            let all = train.y + (test?.y ?? [])
            for v in all where v < 0 || v != v.rounded() {
                throw TerrainError.invalidData("\(source): label \(v) is not a non-negative integer (use data.targets: values for regression)")
            }
            let inferred = Int(all.max() ?? 0) + 1
            if let k = spec.classes, k < inferred {
                throw TerrainError.invalidData("\(source): labels go up to \(inferred - 1) but data.classes is \(k)")
            }
            classes = spec.classes ?? inferred
        } else {
            classes = nil
        }
        func make(_ part: (x: [Double], shape: [Int], y: [Double], yShape: [Int]), _ name: String) throws -> Dataset<Scalar> {
            guard let n = part.shape.first, n == part.yShape.first, part.shape.count >= 2 || part.shape.count == 1 else {
                throw TerrainError.invalidData("\(source): \(name) inputs have shape \(part.shape) but targets \(part.yShape)")
            }
            let shape = part.shape.count == 1 ? [n, 1] : part.shape
            let x = Tensor<Scalar>(shape: shape, storage: part.x.map { Scalar($0 * spec.scale) })
            let y: Targets<Scalar>
            if classes != nil {
                y = .classes(part.y.map { Int($0) })
            } else {
                let width = part.y.count / max(n, 1)
                y = .values(Tensor(shape: [n, width], storage: part.y.map { Scalar($0) }))
            }
            return Dataset(x: x, y: y, classes: classes)
        }
        var trainSet = try make(train, "training")
        var testSet = try test.map { try make($0, "test") }
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
        if let t = testSet, t.sampleShape != trainSet.sampleShape {
            throw TerrainError.invalidData("\(source): training samples have shape \(trainSet.sampleShape) but test samples \(t.sampleShape)")
        }
        return (trainSet, testSet)
    }
}
