import Foundation

/// The `data:` section of a spec: where the samples come from, how to split them, and, for
/// images, how to normalize and augment them.
///
/// Formats: `npz` (arrays `x_train`, `y_train`, and optionally `x_test`, `y_test`; key names
/// configurable; a 4-D `x` array is an image set, memory-mapped), `cifar10` and `cifar100`
/// (the binary batch files of the CIFAR distributions, memory-mapped), `idx` (MNIST's format:
/// `train_images`, `train_labels`, `test_images`, `test_labels` files) and `csv` (one sample
/// per row, the label in `label_column`). Relative paths are resolved against the directory
/// of the spec file. docs/spec.md describes every key.
public struct DataSpec: Codable, Sendable, Equatable {
    /// The file format.
    public enum Format: String, Codable, Sendable, CaseIterable { case npz, idx, csv, cifar10, cifar100 }

    /// Per-channel normalization of image inputs: `(raw · scale − mean[c]) / std[c]`.
    public struct Normalize: Codable, Sendable, Equatable {
        /// Per-channel means (one value: every channel).
        public var mean: [Double]
        /// Per-channel standard deviations (one value: every channel).
        public var std: [Double]

        /// Creates a normalization.
        public init(mean: [Double], std: [Double]) {
            self.mean = mean
            self.std = std
        }

        public init(from decoder: Decoder) throws {
            try SpecKeys.check(decoder, allowed: ["mean", "std"])
            let c = try decoder.container(keyedBy: SpecKeys.self)
            mean = try c.decodeIfPresent([Double].self, forKey: SpecKeys("mean")) ?? []
            std = try c.decodeIfPresent([Double].self, forKey: SpecKeys("std")) ?? []
        }
    }

    /// The format; inferred from `path`'s extension when omitted.
    public var format: Format?
    /// The `.npz` or `.csv` file, or the directory of the CIFAR batch files.
    public var path: String?
    /// IDX files.
    public var trainImages: String?, trainLabels: String?, testImages: String?, testLabels: String?
    /// CIFAR batch files (default: the distribution's names inside `path`).
    public var trainFiles: [String]?, testFiles: [String]?
    /// CIFAR-100: which label, `fine` (100 classes, the default) or `coarse` (20 superclasses).
    public var label: String?
    /// NPZ image arrays: `nchw` or `nhwc` (inferred when the channel axis is unambiguous).
    public var layout: ImageStore.Layout?
    /// Per-channel normalization of image inputs.
    public var normalize: Normalize?
    /// Training-time augmentation of image inputs.
    public var augment: ImageAugmentation?
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
    /// Multiply every input by this (e.g. `0.00392156862745098` = 1/255 for raw 0–255 pixels).
    public var scale: Double
    /// Fraction of training labels replaced by a wrong class (``LabelNoise``): exactly
    /// `round(p · N)` of the N training samples (after `train_subset`, before a run's
    /// validation hold-out), chosen by the spec's `seed`; test labels are never changed.
    /// `nil` (the default) is no noise and is omitted from the encoding.
    public var labelNoise: Double? = nil

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, path, trainImages = "train_images", trainLabels = "train_labels"
        case testImages = "test_images", testLabels = "test_labels"
        case trainFiles = "train_files", testFiles = "test_files", label, layout, normalize, augment
        case xTrainKey = "x_train_key", yTrainKey = "y_train_key", xTestKey = "x_test_key", yTestKey = "y_test_key"
        case labelColumn = "label_column", testFraction = "test_fraction", trainSubset = "train_subset"
        case testSubset = "test_subset", classes, targets, scale, labelNoise = "label_noise"
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
        trainFiles = try c.decodeIfPresent([String].self, forKey: .trainFiles)
        testFiles = try c.decodeIfPresent([String].self, forKey: .testFiles)
        label = try c.decodeIfPresent(String.self, forKey: .label)
        layout = try c.decodeIfPresent(ImageStore.Layout.self, forKey: .layout)
        normalize = try c.decodeIfPresent(Normalize.self, forKey: .normalize)
        augment = try c.decodeIfPresent(ImageAugmentation.self, forKey: .augment)
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
        labelNoise = try c.decodeIfPresent(Double.self, forKey: .labelNoise)
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

    /// Whether the format is one of the CIFAR binary formats.
    public var isCIFAR: Bool { resolvedFormat == .cifar10 || resolvedFormat == .cifar100 }

    /// Checks the fields without reading files.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw TerrainError.invalidData(m) }
        guard let format = resolvedFormat else {
            try fail("data: give path (an .npz or .csv file) or format: idx with train_images/train_labels, or format: cifar10/cifar100 with path (the batch files' directory); set data.format when the extension does not tell")
        }
        switch format {
        case .npz, .csv: if path == nil { try fail("data.path is required for format \(format.rawValue)") }
        case .idx: if trainImages == nil || trainLabels == nil { try fail("data.train_images and data.train_labels are required for format idx") }
        case .cifar10, .cifar100:
            if path == nil && trainFiles == nil {
                try fail("data.path (the directory of the batch files) or data.train_files is required for format \(format.rawValue)")
            }
            if trainFiles?.isEmpty == true { try fail("data.train_files must name at least one file") }
        }
        if !isCIFAR && (trainFiles != nil || testFiles != nil) { try fail("data.train_files and data.test_files are for format cifar10 or cifar100") }
        if let l = label {
            guard format == .cifar100 else { try fail("data.label is for format cifar100 (fine or coarse)") }
            guard l == "fine" || l == "coarse" else { try fail("data.label must be fine or coarse, got \(l)") }
        }
        if layout != nil && format != .npz { try fail("data.layout is for 4-D image arrays in npz files") }
        if let f = testFraction, !(f > 0 && f < 1) { try fail("data.test_fraction must be in (0, 1), got \(f)") }
        if let n = trainSubset, n <= 0 { try fail("data.train_subset must be positive, got \(n)") }
        if let n = testSubset, n <= 0 { try fail("data.test_subset must be positive, got \(n)") }
        if let k = classes, k <= 0 { try fail("data.classes must be positive, got \(k)") }
        if targets != "classes" && targets != "values" { try fail("data.targets must be classes or values, got \(targets)") }
        if !(scale.isFinite) || scale == 0 { try fail("data.scale must be a finite non-zero number") }
        if let p = labelNoise {
            if !(p >= 0 && p <= 1) { try fail("data.label_noise must be a fraction in [0, 1], got \(p)") }
            if targets != "classes" { try fail("data.label_noise needs class labels (data.targets: classes)") }
        }
        if let n = normalize {
            if n.mean.isEmpty && n.std.isEmpty { try fail("data.normalize: give mean and/or std (per channel)") }
            if !n.mean.allSatisfy(\.isFinite) { try fail("data.normalize.mean must be finite numbers") }
            if !n.std.allSatisfy({ $0.isFinite && $0 > 0 }) { try fail("data.normalize.std must be positive numbers, got \(n.std)") }
        }
        if let a = augment, !(0...64).contains(a.crop) { try fail("data.augment.crop must be a padding of 0 to 64 pixels, got \(a.crop)") }
    }

    /// The same spec with every relative path made absolute against `directory`.
    public func resolvingPaths(against directory: String) -> DataSpec {
        func absolute(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: directory).appendingPathComponent(p).standardizedFileURL.path
        }
        var s = self
        s.path = path.map(absolute)
        s.trainImages = trainImages.map(absolute)
        s.trainLabels = trainLabels.map(absolute)
        s.testImages = testImages.map(absolute)
        s.testLabels = testLabels.map(absolute)
        s.trainFiles = trainFiles.map { $0.map(absolute) }
        s.testFiles = testFiles.map { $0.map(absolute) }
        return s
    }

    /// The CIFAR batch files: `train_files`/`test_files` when given, else the distribution's
    /// names in `path` (`data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin` for
    /// CIFAR-10, `train.bin` and `test.bin` for CIFAR-100). Empty for other formats.
    public var cifarFiles: (train: [String], test: [String]) {
        guard isCIFAR else { return ([], []) }
        func inDirectory(_ names: [String]) -> [String] {
            guard let dir = path else { return [] }
            return names.map { (dir as NSString).appendingPathComponent($0) }
        }
        let ten = resolvedFormat == .cifar10
        let train = trainFiles ?? inDirectory(ten ? (1...5).map { "data_batch_\($0).bin" } : ["train.bin"])
        let test = testFiles ?? (trainFiles == nil ? inDirectory([ten ? "test_batch.bin" : "test.bin"]) : [])
        return (train, test)
    }

    /// Every file the spec reads, each with the field that names it (`data.path`,
    /// `data.train_files[2]`, …), in a fixed order.
    public var files: [(field: String, path: String)] {
        if isCIFAR {
            let f = cifarFiles
            let trainField = trainFiles == nil ? "data.path" : "data.train_files"
            let testField = testFiles == nil ? "data.path" : "data.test_files"
            return f.train.enumerated().map { ("\(trainField)[\($0.offset)]", $0.element) }
                + f.test.enumerated().map { ("\(testField)[\($0.offset)]", $0.element) }
        }
        return [("data.path", path), ("data.train_images", trainImages), ("data.train_labels", trainLabels),
                ("data.test_images", testImages), ("data.test_labels", testLabels)]
            .compactMap { field, p in p.map { (field, $0) } }
    }

    /// The SHA-256 (hex) that identifies the data a sweep uses: with one file, the SHA-256 of
    /// its bytes; with several (IDX image and label files, CIFAR batches), the SHA-256 of the
    /// concatenated 32-byte digests of every file in ``files`` order. Files are read through
    /// a map, never copied whole into memory. Resolve relative paths first.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming the field and file that cannot be read.
    public func sha256() throws -> String {
        let list = files
        guard !list.isEmpty else { throw TerrainError.invalidData("data: the spec names no file") }
        var digests = [[UInt8]]()
        for (field, path) in list {
            do { digests.append(try MappedFile.sha256(of: path)) } catch let e as TerrainError {
                throw TerrainError.invalidData("\(field): \(e.description)")
            }
        }
        if digests.count == 1 { return SHA256.hex(digests[0]) }
        return SHA256.hex(SHA256.hash(digests.flatMap { $0 }))
    }
}

/// Coding keys by name, for the nested `data:` mappings: checks that a mapping holds only
/// known keys (a typo must not silently fall back to a default).
struct SpecKeys: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    static func check(_ decoder: Decoder, allowed: [String]) throws {
        let c = try decoder.container(keyedBy: SpecKeys.self)
        for k in c.allKeys where !allowed.contains(k.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [k],
                                                    debugDescription: "unknown key (allowed: \(allowed.joined(separator: ", ")))"))
        }
    }
}
