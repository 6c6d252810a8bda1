import Foundation
import TerrainCore
import Yams

/// The `model`, `data`, `loss` and `seed` entries shared by the sweep kinds that train or
/// evaluate a network. Data paths are absolute (resolved against the spec's directory).
public struct NetworkSpec: Sendable, Equatable {
    /// The network.
    public var model: ModelSpec
    /// The data.
    public var data: DataSpec
    /// The loss.
    public var loss: LossKind
    /// Seed of data subsets, derived from the spec's top-level `seed`.
    public var dataSeed: UInt64

    /// Parses the entries of a spec of kind `kind` (both sections required).
    static func parse(_ root: Node, kind: String, source: String, baseDirectory: String) throws -> NetworkSpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        for k in ["model", "data"] where root[k] == nil { throw fail("missing section '\(k):' for kind: \(kind)") }
        try SpecYAML.checkKeys(root["model"]!, allowed: ModelSpec.allowedKeys, section: "model", source: source)
        try SpecYAML.checkKeys(root["data"]!, allowed: DataSpec.allowedKeys, section: "data", source: source)
        let model: ModelSpec = try SpecYAML.decode(root["model"]!, section: "model", source: source)
        var data: DataSpec = try SpecYAML.decode(root["data"]!, section: "data", source: source)
        do { try model.validate(); try data.validate() } catch let e as TerrainError { throw fail(e.description) }
        data = data.resolvingPaths(against: baseDirectory)
        var loss = LossKind.crossEntropy
        if let l = root["loss"] {
            guard let v = l.string, let k = LossKind(rawValue: v) else {
                throw fail("loss: expected one of \(LossKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            loss = k
        }
        if loss == .crossEntropy && data.targets == "values" {
            throw fail("loss cross_entropy needs data.targets: classes (use loss: mse for real-valued targets)")
        }
        var seed: UInt64 = 0
        if let v = root["seed"] {
            guard let i = v.int, i >= 0 else { throw fail("seed: expected a non-negative integer") }
            seed = UInt64(i)
        }
        return NetworkSpec(model: model, data: data, loss: loss, dataSeed: TerrainRNG.derive(seed, "data"))
    }

    /// Checks the data and model once, when the spec is read, so that a spec whose files are
    /// missing or whose model does not fit its data fails at `terrain run`/`validate` time,
    /// not on a worker: every data file must exist (a missing one is named by its field), the
    /// data must load and the model must build for it, and `validationSamples` must leave
    /// training samples. Returns the data file's SHA-256 (hex), which tasks check on the
    /// worker, and the number of training samples a run trains on.
    func check(validationSamples: Int? = nil, source: String) throws -> (sha256: String, trainingSamples: Int) {
        for (field, path) in data.files where !FileManager.default.fileExists(atPath: path) {
            throw SpecError(file: source, message: "\(field): \(path): no such file (relative paths are resolved against the spec's directory)")
        }
        do {
            let sha = try dataSHA256()
            let (train, _) = try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self)
            _ = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0, as: Float.self)
            if let v = validationSamples, v >= train.count {
                throw SpecError(file: source, message: "training.validation_samples: \(v) is not less than the \(train.count) training samples")
            }
            return (sha, train.count - (validationSamples ?? 0))
        } catch let e as TerrainError {
            throw SpecError(file: source, message: e.description)
        }
    }

    /// SHA-256 (hex) of the data files (``DataSpec/sha256()``: every file the section names).
    func dataSHA256() throws -> String { try data.sha256() }

    /// The files the network's results depend on.
    var dataFiles: [String] { data.files.map(\.path) }

    /// The parameters every task of the network carries, with the data file's hash.
    func params(dataSHA256: String) -> NetworkParams {
        NetworkParams(model: model, data: data, dataSHA256: dataSHA256, dataSeed: dataSeed, loss: loss)
    }
}

/// A sweep kind that trains or evaluates one network (``NetworkSpec``): its model, data,
/// loss and data seed are the network's, and its results depend on the data files.
public protocol NetworkSweepKind: SweepKind {
    /// The network, its data, loss and data seed.
    var network: NetworkSpec { get }
}

extension NetworkSweepKind {
    /// The network.
    public var model: ModelSpec { network.model }
    /// The data.
    public var data: DataSpec { network.data }
    /// The loss.
    public var loss: LossKind { network.loss }
    /// Seed of data subsets (the spec's top-level `seed`).
    public var dataSeed: UInt64 { network.dataSeed }
    /// The data files.
    public var referencedFiles: [String] { network.dataFiles }
}

/// Paths in specs.
enum SpecPaths {
    /// `path` made absolute against `directory` (the spec's), standardized; absolute paths
    /// are kept as they are.
    static func absolute(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }
}

/// The model, data, data hash, data seed and loss that the tasks of every network kind carry.
public struct NetworkParams: Codable, Sendable, Equatable {
    public var model: ModelSpec
    public var data: DataSpec
    /// SHA-256 (hex) of the data file as the coordinator read it; workers check theirs.
    public var dataSHA256: String
    public var dataSeed: UInt64
    public var loss: LossKind

    /// Creates the shared parameters.
    public init(model: ModelSpec, data: DataSpec, dataSHA256: String, dataSeed: UInt64, loss: LossKind) {
        self.model = model
        self.data = data
        self.dataSHA256 = dataSHA256
        self.dataSeed = dataSeed
        self.loss = loss
    }

    /// Loads the data after checking the worker's files are the coordinator's (by SHA-256).
    /// Data files the coordinator served (``DataFiles/local``) are read from the worker's copies.
    public func loadData() throws -> (train: Dataset<Float>, test: Dataset<Float>?) {
        let data = self.data.withLocalFiles
        let sha: String
        do { sha = try data.sha256() } catch let e as TerrainError {
            throw TaskError("cannot read the data on this worker: \(e.description)", retryable: false)
        }
        guard sha == dataSHA256 else {
            let path = data.files.map(\.path).joined(separator: ", ")
            throw TaskError("the data file \(path) on this worker differs from the coordinator's (sha256 \(sha.prefix(12))… vs \(dataSHA256.prefix(12))…)", retryable: false)
        }
        return try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self)
    }
}

/// A kind's own parameters composed with the ``NetworkParams`` every network task carries.
/// Both are encoded side by side in one JSON object (so the bytes are those of one flat
/// struct), and both are readable as properties: `p.model`, `p.level`.
@dynamicMemberLookup
public struct Networked<Own: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var network: NetworkParams
    public var own: Own

    /// Composes the two.
    public init(_ network: NetworkParams, _ own: Own) {
        self.network = network
        self.own = own
    }

    public init(from decoder: Decoder) throws {
        network = try NetworkParams(from: decoder)
        own = try Own(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try network.encode(to: encoder)
        try own.encode(to: encoder)
    }

    public subscript<T>(dynamicMember path: KeyPath<NetworkParams, T>) -> T { network[keyPath: path] }
    public subscript<T>(dynamicMember path: WritableKeyPath<Own, T>) -> T {
        get { own[keyPath: path] }
        set { own[keyPath: path] = newValue }
    }
}
