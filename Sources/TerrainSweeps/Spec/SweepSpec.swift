import Foundation
import TerrainCore
import TerrainDataset
import Yams

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
/// names the sweep kind (``SweepKinds``); its sections are parsed by that kind into
/// ``family``.
public struct SweepSpec: Sendable {
    /// A label.
    public var name: String
    /// The sweep kind's name (`probe`, `surface`, `lottery`, `training`).
    public var kind: String
    /// Coordinator behaviour.
    public var runtime: RuntimeSpec
    /// The kind's parsed sections.
    public var family: any SweepKind
    /// The spec text as given.
    public var text: String
    /// SHA-256 (hex) of the spec's canonical JSON form: formatting and comments do not change it.
    public var hash: String
    /// Where the spec came from.
    public var source: String
    /// The spec file's directory.
    public var baseDirectory: String

    /// Top-level keys every kind accepts.
    static let commonKeys = ["name", "kind", "runtime", "seed"]

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
        let known = SweepKinds.names.joined(separator: ", ")
        try SpecYAML.checkKeys(root, allowed: commonKeys + allSections, section: nil, source: source)
        guard let kind = root["kind"]?.string else {
            throw SpecError(file: source, message: "kind: required (one of: \(known))")
        }
        guard let sweepKind = SweepKinds.named(kind) else {
            throw SpecError(file: source, message: "kind: unknown sweep kind '\(kind)' (known: \(known))")
        }
        var runtime = RuntimeSpec()
        if let r = root["runtime"] {
            try SpecYAML.checkKeys(r, allowed: RuntimeSpec.allowedKeys, section: "runtime", source: source)
            runtime = try SpecYAML.decode(r, section: "runtime", source: source)
        }
        try runtime.validate(source)
        for (key, owners) in sectionOwners.sorted(by: { $0.key < $1.key }) where root[key] != nil && !owners.contains(kind) {
            throw SpecError(file: source, message: "'\(key):' belongs to kind: \(owners.joined(separator: " or ")), not kind: \(kind)")
        }
        let family = try sweepKind.parse(root, source: source, baseDirectory: baseDirectory)
        return SweepSpec(name: root["name"]?.string ?? ((source as NSString).lastPathComponent as NSString).deletingPathExtension,
                         kind: kind, runtime: runtime, family: family, text: text,
                         hash: try canonicalHash(text, source: source), source: source, baseDirectory: baseDirectory)
    }

    /// Every kind's sections, in registry order.
    static var allSections: [String] {
        var out = [String]()
        for k in SweepKinds.all { for s in k.sections where !out.contains(s) { out.append(s) } }
        return out
    }

    /// Which kinds each kind-specific top-level section belongs to, in registry order.
    static var sectionOwners: [String: [String]] {
        var owners = [String: [String]]()
        for k in SweepKinds.all { for s in k.sections { owners[s, default: []].append(k.name) } }
        return owners
    }

    /// The tasks of this sweep, ids 1…n, with their dependencies and parameters.
    public func expand() throws -> [ExpandedTask] { try family.expand(source: source) }

    /// SHA-256 (hex) over the contents of the files the spec refers to (checkpoints, data), so
    /// that a resumed sweep can tell when they changed under it; `nil` for kinds without files.
    public func inputsFingerprint() throws -> String? {
        let paths = family.referencedFiles
        guard !paths.isEmpty else { return nil }
        var h = SHA256()
        for path in paths {
            let digest: [UInt8]
            do { digest = try MappedFile.sha256(of: path) } catch let e as TerrainError {
                throw SpecError(file: source, message: "\(path): cannot read the file (\(e.description))")
            }
            h.update(Array(path.utf8))
            h.update(digest)
        }
        return SHA256.hex(h.finalize())
    }

    /// Results derived from the finished sweep's outputs (the `summaries` table).
    public func summaries(of outputs: [SweepDataset.CompletedTask]) throws -> [String: String] {
        try family.summaries(of: outputs, source: source)
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
    /// The `name:` of a stored spec's text (as `terrain status`, `export` and `render` read it
    /// from a dataset without checking its files), or `fallback` when it has none or does not parse.
    public static func name(ofStoredSpec text: String, fallback: String) -> String {
        (try? SpecYAML.mapping(text, source: "stored spec"))?["name"]?.string ?? fallback
    }
}
