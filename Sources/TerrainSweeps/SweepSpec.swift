import Foundation
import TerrainCore
import Yams

/// The `runtime:` section of a sweep spec: how the coordinator treats workers and tasks.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    /// Attempts before a task is quarantined as failed.
    public var maxAttempts: Int
    /// Heartbeat interval, milliseconds.
    public var heartbeatMs: Int
    /// Missed heartbeats before a peer is presumed dead.
    public var liveness: Int
    /// Per-task time limit in seconds (`nil`: none).
    public var taskTimeout: Double?
    /// Longest wait before accepted results are committed, milliseconds.
    public var commitIntervalMs: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts = "max_attempts", heartbeatMs = "heartbeat_ms", liveness, taskTimeout = "task_timeout"
        case commitIntervalMs = "commit_interval_ms"
    }

    /// The keys a `runtime:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a runtime section with the documented defaults.
    public init(maxAttempts: Int = 3, heartbeatMs: Int = 1000, liveness: Int = 5, taskTimeout: Double? = nil, commitIntervalMs: Int = 5) {
        self.maxAttempts = maxAttempts
        self.heartbeatMs = heartbeatMs
        self.liveness = liveness
        self.taskTimeout = taskTimeout
        self.commitIntervalMs = commitIntervalMs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(maxAttempts: try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 3,
                  heartbeatMs: try c.decodeIfPresent(Int.self, forKey: .heartbeatMs) ?? 1000,
                  liveness: try c.decodeIfPresent(Int.self, forKey: .liveness) ?? 5,
                  taskTimeout: try c.decodeIfPresent(Double.self, forKey: .taskTimeout),
                  commitIntervalMs: try c.decodeIfPresent(Int.self, forKey: .commitIntervalMs) ?? 5)
    }

    func validate(_ source: String) throws {
        func fail(_ m: String) throws -> Never { throw SpecError(file: source, message: m) }
        if maxAttempts < 1 { try fail("runtime.max_attempts must be ≥ 1, got \(maxAttempts)") }
        if heartbeatMs < 10 { try fail("runtime.heartbeat_ms must be ≥ 10, got \(heartbeatMs)") }
        if liveness < 2 { try fail("runtime.liveness must be ≥ 2 heartbeats, got \(liveness)") }
        if let t = taskTimeout, !(t > 0) { try fail("runtime.task_timeout must be positive seconds, got \(t)") }
        if commitIntervalMs < 0 { try fail("runtime.commit_interval_ms must be ≥ 0") }
    }
}

/// One task of an expanded sweep.
public struct ExpandedTask: Sendable, Equatable {
    /// 1-based id.
    public var id: UInt64
    /// The task kind.
    public var kind: String
    /// Ids of the tasks whose outputs it needs.
    public var dependencies: [UInt64]
    /// Kind-specific parameters (JSON).
    public var params: [UInt8]
    /// Fixed inputs stored once as artifacts (a centre checkpoint, directions): name → bytes.
    /// Tasks sharing the same bytes share one artifact.
    public var inputs: [StaticInput]

    /// Creates a task.
    public init(id: UInt64, kind: String, dependencies: [UInt64] = [], params: [UInt8], inputs: [StaticInput] = []) {
        self.id = id
        self.kind = kind
        self.dependencies = dependencies
        self.params = params
        self.inputs = inputs
    }
}

/// A named artifact a task receives regardless of dependencies. The bytes are shared (one
/// reference) between the tasks of a sweep that use them.
public final class StaticInput: Sendable, Equatable {
    /// The input's name as the task sees it (`centre`, `d1`, …).
    public let name: String
    /// The bytes.
    public let data: [UInt8]
    /// SHA-256 of the bytes.
    public let hash: [UInt8]

    /// Creates an input and hashes it.
    public init(name: String, data: [UInt8]) {
        self.name = name
        self.data = data
        self.hash = SHA256.hash(data)
    }

    public static func == (a: StaticInput, b: StaticInput) -> Bool { a.name == b.name && a.hash == b.hash }
}

/// A sweep: what the coordinator distributes (docs/spec.md, "Sweep specs"). The `kind`
/// names the task family; its section holds the family's options.
public struct SweepSpec: Sendable {
    /// A label.
    public var name: String
    /// The task family (`probe` today).
    public var kind: String
    /// Coordinator behaviour.
    public var runtime: RuntimeSpec
    /// The `probe:` section, for `kind: probe`.
    public var probe: ProbeSpec?
    /// The surface description, for `kind: surface`.
    public var surface: SurfaceSpec?
    /// The lottery-ticket rounds, for `kind: lottery`.
    public var lottery: LotterySpec? = nil
    /// The grid of training runs, for `kind: training`.
    public var trainingGrid: TrainingGridSpec? = nil
    /// The spec text as given.
    public var text: String
    /// SHA-256 (hex) of the spec's canonical JSON form: formatting and comments do not change it.
    public var hash: String
    /// Where the spec came from.
    public var source: String
    /// The spec file's directory.
    public var baseDirectory: String

    static let topKeys = ["name", "kind", "runtime", "probe", "seed", "model", "data", "loss", "surface", "curvature", "training", "grid", "lottery"]

    /// Which kinds each kind-specific top-level section belongs to.
    static let sectionOwners: [String: [String]] = [
        "model": ["surface", "lottery", "training"], "data": ["surface", "lottery", "training"], "loss": ["surface", "lottery", "training"],
        "curvature": ["surface", "lottery", "training"], "surface": ["surface"], "training": ["lottery", "training"],
        "grid": ["training"], "lottery": ["lottery"], "probe": ["probe"],
    ]

    /// Reads and checks a spec file; throws ``SpecError``.
    public static func load(path: String) throws -> SweepSpec {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SpecError(file: path, message: "cannot read the file (missing, unreadable or not UTF-8)")
        }
        return try parse(text, source: path, baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Parses and checks spec text.
    public static func parse(_ text: String, source: String = "<string>", baseDirectory: String = ".") throws -> SweepSpec {
        let root = try SpecYAML.mapping(text, source: source)
        if root["kind"] == nil && (root["training"] != nil || root["optimizer"] != nil) {
            throw SpecError(file: source, message: "this is a training spec (it has no kind:); run it with `terrain train`")
        }
        try SpecYAML.checkKeys(root, allowed: topKeys, section: nil, source: source)
        guard let kind = root["kind"]?.string else {
            throw SpecError(file: source, message: "kind: required (one of: \(TaskKinds.sweepKinds.joined(separator: ", ")))")
        }
        guard TaskKinds.sweepKinds.contains(kind) else {
            throw SpecError(file: source, message: "kind: unknown sweep kind '\(kind)' (known: \(TaskKinds.sweepKinds.joined(separator: ", ")))")
        }
        var runtime = RuntimeSpec()
        if let r = root["runtime"] {
            try SpecYAML.checkKeys(r, allowed: RuntimeSpec.allowedKeys, section: "runtime", source: source)
            runtime = try SpecYAML.decode(r, section: "runtime", source: source)
        }
        try runtime.validate(source)
        var probe: ProbeSpec? = nil
        var surface: SurfaceSpec? = nil
        for (key, owners) in sectionOwners.sorted(by: { $0.key < $1.key }) where root[key] != nil && !owners.contains(kind) {
            throw SpecError(file: source, message: "'\(key):' belongs to kind: \(owners.joined(separator: " or ")), not kind: \(kind)")
        }
        var lottery: LotterySpec? = nil
        var grid: TrainingGridSpec? = nil
        if kind == "surface" {
            surface = try SurfaceSpec.parse(root, source: source, baseDirectory: baseDirectory)
        }
        if kind == "lottery" {
            lottery = try LotterySpec.parse(root, source: source, baseDirectory: baseDirectory)
        }
        if kind == "training" {
            grid = try TrainingGridSpec.parse(root, source: source, baseDirectory: baseDirectory)
        }
        if kind == "probe" {
            guard let p = root["probe"] else { throw SpecError(file: source, message: "missing section 'probe:' for kind: probe") }
            try SpecYAML.checkKeys(p, allowed: ProbeSpec.allowedKeys, section: "probe", source: source)
            probe = try SpecYAML.decode(p, section: "probe", source: source)
            try probe!.validate(source)
        }
        var spec = SweepSpec(name: root["name"]?.string ?? ((source as NSString).lastPathComponent as NSString).deletingPathExtension,
                             kind: kind, runtime: runtime, probe: probe, surface: surface, text: text,
                             hash: try canonicalHash(text, source: source), source: source, baseDirectory: baseDirectory)
        spec.lottery = lottery
        spec.trainingGrid = grid
        return spec
    }

    /// The tasks of this sweep, ids 1…n, with their dependencies and parameters.
    public func expand() throws -> [ExpandedTask] {
        switch kind {
        case "probe": return probe!.expand()
        case "surface": return try surface!.expand(source: source)
        case "lottery": return try lottery!.expand(source: source)
        case "training": return try trainingGrid!.expand(source: source)
        default: throw SpecError(file: source, message: "kind \(kind) cannot be expanded")
        }
    }

    /// SHA-256 (hex) over the contents of the files the spec refers to (checkpoints, data), so
    /// that a resumed sweep can tell when they changed under it; `nil` for kinds without files.
    public func inputsFingerprint() throws -> String? {
        let optional: [String?]
        if let s = surface {
            optional = [s.checkpoint, s.target, s.third] + s.trajectory.map { Optional($0) }
                + [s.data.path, s.data.trainImages, s.data.trainLabels, s.data.testImages, s.data.testLabels]
        } else if let d = lottery?.data ?? trainingGrid?.data {
            optional = [d.path, d.trainImages, d.trainLabels, d.testImages, d.testLabels]
        } else {
            return nil
        }
        var h = SHA256()
        for path in optional.compactMap({ $0 }) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SpecError(file: source, message: "\(path): cannot read the file")
            }
            h.update(Array(path.utf8))
            h.update(SHA256.hash([UInt8](data)))
        }
        return SHA256.hex(h.finalize())
    }

    /// SHA-256 of the spec's canonical JSON (keys sorted, no formatting).
    static func canonicalHash(_ text: String, source: String) throws -> String {
        let object: Any?
        do { object = try Yams.load(yaml: text) } catch { throw SpecError(file: source, message: "not valid YAML: \(error)") }
        func canonical(_ v: Any?) -> Any {
            switch v {
            case let d as [String: Any]: return d.mapValues { canonical($0) }
            case let d as [AnyHashable: Any]: return Dictionary(uniqueKeysWithValues: d.map { ("\($0.key)", canonical($0.value)) })
            case let a as [Any]: return a.map { canonical($0) }
            case nil: return NSNull()
            case let x?: return x
            }
        }
        let data = try JSONSerialization.data(withJSONObject: canonical(object), options: [.sortedKeys, .fragmentsAllowed])
        return SHA256.hex(SHA256.hash([UInt8](data)))
    }
}

extension SweepSpec {
    /// Parses the `model`, `data`, `loss` and `seed` entries shared by the kinds that train
    /// or evaluate a network; data paths become absolute (relative to the spec's directory).
    /// Returns the seed of data subsets derived from `seed`.
    static func parseModelAndData(_ root: Node, kind: String, source: String, baseDirectory: String) throws
        -> (model: ModelSpec, data: DataSpec, loss: LossKind, dataSeed: UInt64)
    {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        for k in ["model", "data"] where root[k] == nil { throw fail("missing section '\(k):' for kind: \(kind)") }
        try SpecYAML.checkKeys(root["model"]!, allowed: ModelSpec.allowedKeys, section: "model", source: source)
        try SpecYAML.checkKeys(root["data"]!, allowed: DataSpec.allowedKeys, section: "data", source: source)
        let model: ModelSpec = try SpecYAML.decode(root["model"]!, section: "model", source: source)
        var data: DataSpec = try SpecYAML.decode(root["data"]!, section: "data", source: source)
        do { try model.validate(); try data.validate() } catch let e as TerrainError { throw fail(e.description) }
        func absolute(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardizedFileURL.path
        }
        data.path = data.path.map(absolute)
        data.trainImages = data.trainImages.map(absolute)
        data.trainLabels = data.trainLabels.map(absolute)
        data.testImages = data.testImages.map(absolute)
        data.testLabels = data.testLabels.map(absolute)
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
        return (model, data, loss, TerrainRNG.derive(seed, "data"))
    }

    /// Checks a spec's data and model once, when the spec is read, so that a spec whose files
    /// are missing or whose model does not fit its data fails at `terrain run`/`validate` time,
    /// not on a worker: every data file must exist (a missing one is named by its field), the
    /// data must load and the model must build for it, and `validationSamples` must leave
    /// training samples. Returns the data file's SHA-256 (hex), which tasks check on the
    /// worker, and the number of training samples a run trains on.
    static func checkModelAndData(model: ModelSpec, data: DataSpec, dataSeed: UInt64, validationSamples: Int? = nil, source: String) throws
        -> (sha256: String, trainingSamples: Int)
    {
        for (key, path) in [("data.path", data.path), ("data.train_images", data.trainImages), ("data.train_labels", data.trainLabels),
                            ("data.test_images", data.testImages), ("data.test_labels", data.testLabels)] {
            if let path, !FileManager.default.fileExists(atPath: path) {
                throw SpecError(file: source, message: "\(key): \(path): no such file (relative paths are resolved against the spec's directory)")
            }
        }
        do {
            guard let path = data.path ?? data.trainImages, let bytes = FileManager.default.contents(atPath: path) else {
                throw TerrainError.invalidData("data: \(data.path ?? data.trainImages ?? "?"): cannot read the data file")
            }
            let (train, _) = try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self)
            _ = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0, as: Float.self)
            if let v = validationSamples, v >= train.count {
                throw SpecError(file: source, message: "training.validation_samples: \(v) is not less than the \(train.count) training samples")
            }
            return (SHA256.hex(SHA256.hash([UInt8](bytes))), train.count - (validationSamples ?? 0))
        } catch let e as TerrainError {
            throw SpecError(file: source, message: e.description)
        }
    }
}

extension SweepSpec {
    /// The `name:` of a stored spec's text (as `terrain status`, `export` and `render` read it
    /// from a dataset without checking its files), or `fallback` when it has none or does not parse.
    public static func name(ofStoredSpec text: String, fallback: String) -> String {
        (try? SpecYAML.mapping(text, source: "stored spec"))?["name"]?.string ?? fallback
    }
}
