import TerrainCore
import Yams

/// YAML helpers shared by the spec types: parsing to a mapping, unknown-key checks and
/// decoding a section with errors that name the field.
public enum SpecYAML {
    /// Parses `text` and returns its top-level mapping.
    public static func mapping(_ text: String, source: String) throws -> Node {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw SpecError(file: source, message: "not valid YAML: \(error)")
        }
        guard let node, node.mapping != nil else {
            throw SpecError(file: source, message: "expected a YAML mapping at the top level")
        }
        return node
    }

    /// Fails on keys outside `allowed`, suggesting the closest allowed key.
    public static func checkKeys(_ node: Node, allowed: [String], section: String?, source: String) throws {
        let place = section.map { "\($0)." } ?? ""
        guard let mapping = node.mapping else {
            throw SpecError(file: source, message: "\(section ?? "top level"): expected a mapping")
        }
        for (key, _) in mapping {
            guard let k = key.string else { throw SpecError(file: source, message: "\(place)<non-string key>") }
            if !allowed.contains(k) {
                let guess = allowed.min { distance($0, k) < distance($1, k) }
                let hint = guess.map { distance($0, k) <= 3 ? " (did you mean '\(place)\($0)'?)" : "" } ?? ""
                throw SpecError(file: source, message: "unknown key '\(place)\(k)'\(hint); allowed: \(allowed.joined(separator: ", "))")
            }
        }
    }

    /// Decodes a section, turning decoding errors into messages with the field path.
    public static func decode<T: Decodable>(_ node: Node, section: String, source: String) throws -> T {
        do {
            return try YAMLDecoder().decode(T.self, from: node)
        } catch let DecodingError.keyNotFound(key, _) {
            throw SpecError(file: source, message: "\(section).\(key.stringValue): required")
        } catch let DecodingError.typeMismatch(type, ctx) {
            throw SpecError(file: source, message: "\(path(section, ctx)): expected \(describe(type))")
        } catch let DecodingError.valueNotFound(type, ctx) {
            throw SpecError(file: source, message: "\(path(section, ctx)): expected \(describe(type))")
        } catch let DecodingError.dataCorrupted(ctx) {
            let field = path(section, ctx)
            if let allowed = allowedValues[field] {
                throw SpecError(file: source, message: "\(field): expected one of \(allowed.joined(separator: ", "))")
            }
            throw SpecError(file: source, message: "\(field): \(ctx.debugDescription)")
        }
    }

    /// The values of the spec fields that are enumerations, for error messages.
    static let allowedValues: [String: [String]] = {
        var m = [String: [String]]()
        for prefix in ["model", "surface.model"] {
            m["\(prefix).kind"] = ModelSpec.Kind.allCases.map(\.rawValue)
            m["\(prefix).activation"] = ModelSpec.Activation.allCases.map(\.rawValue)
            m["\(prefix).init"] = Initializer.allCases.map(\.rawValue)
        }
        for prefix in ["optimizer", "surface.train.optimizer"] { m["\(prefix).name"] = OptimizerSpec.Name.allCases.map(\.rawValue) }
        for prefix in ["schedule", "surface.train.schedule"] {
            m["\(prefix).kind"] = LearningRateSchedule.Kind.allCases.map(\.rawValue)
            m["\(prefix).scaling"] = LearningRateSchedule.Scaling.allCases.map(\.rawValue)
        }
        m["data.format"] = DataSpec.Format.allCases.map(\.rawValue)
        return m
    }()

    private static func path(_ section: String, _ ctx: DecodingError.Context) -> String {
        ([section] + ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }).joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is [Int].Type: return "a list of integers"
        default: return "a value of type \(type)"
        }
    }

    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where i <= a.count {
            var prev = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where j <= b.count {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
}
