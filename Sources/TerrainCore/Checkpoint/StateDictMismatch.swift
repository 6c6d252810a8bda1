/// How a set of stored tensors differs from what a model holds — the three lists PyTorch's
/// strict `load_state_dict` reports (missing keys, unexpected keys, size mismatches), with a
/// hint when the difference has a recognizable cause (a `module.` prefix left by
/// `nn.DataParallel`, or the names of another preset).
struct StateDictMismatch: CustomStringConvertible {
    /// Tensors the model needs that are not stored.
    var missing: [(name: String, shape: [Int])] = []
    /// Stored tensors the model does not have (optimizer state excepted).
    var unexpected: [(name: String, shape: [Int])] = []
    /// Tensors of both whose shapes differ.
    var misshaped: [(name: String, stored: [Int], model: [Int])] = []
    /// How many tensors the model holds.
    var expectedCount = 0
    /// A likely cause, if one is recognized.
    var hint: String?

    /// Compares `stored` against `model`'s parameters and buffers.
    init<Scalar: TensorScalar>(stored: [String: StoredTensor], model: Model<Scalar>) {
        var expected = [(name: String, shape: [Int])]()
        for p in model.parameters { expected.append((p.name, p.shape)) }
        for b in model.namedBuffers { expected.append((b.name, b.tensor.shape)) }
        expectedCount = expected.count
        let names = Set(expected.map(\.name))
        for (name, shape) in expected {
            guard let t = stored[name] else { missing.append((name, shape)); continue }
            // A scalar buffer (num_batches_tracked) may be stored as [] or [1].
            let fits = shape.isEmpty ? t.count == 1 && t.shape.count <= 1 : t.shape == shape
            if !fits { misshaped.append((name, t.shape, shape)) }
        }
        for (name, t) in stored.sorted(by: { $0.key < $1.key })
        where !names.contains(name) && !name.hasPrefix(Checkpoint.optimizerPrefix) {
            unexpected.append((name, t.shape))
        }
        if !isEmpty {
            let storedNames = Set(stored.keys.filter { !$0.hasPrefix(Checkpoint.optimizerPrefix) })
            hint = Self.hint(missing: missing.map(\.name), unexpected: unexpected.map(\.name), stored: storedNames, model: model)
        }
    }

    /// Whether the stored tensors fit the model exactly.
    var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && misshaped.isEmpty }

    var description: String {
        func list(_ items: [String]) -> String {
            let shown = items.prefix(6).joined(separator: ", ")
            return items.count > 6 ? shown + ", … (\(items.count - 6) more)" : shown
        }
        var parts = [String]()
        if !missing.isEmpty { parts.append("\(missing.count) missing: \(list(missing.map { "\($0.name) \($0.shape)" }))") }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected: \(list(unexpected.map { "\($0.name) \($0.shape)" }))") }
        if !misshaped.isEmpty {
            parts.append("\(misshaped.count) of another shape: \(list(misshaped.map { "\($0.name) has shape \($0.stored), the model expects \($0.model)" }))")
        }
        var text = "the tensors do not match the model's \(expectedCount) (strict loading, as PyTorch's load_state_dict): " + parts.joined(separator: "; ")
        if let hint { text += ". " + hint }
        return text
    }

    /// A likely cause of the mismatch, or nil.
    private static func hint<Scalar: TensorScalar>(missing: [String], unexpected: [String], stored: Set<String>,
                                                   model: Model<Scalar>) -> String? {
        if let prefix = commonPrefix(unexpected: unexpected, missing: missing) {
            return "The unexpected names are the missing ones with the prefix '\(prefix)' (nn.DataParallel saves 'module.'); convert with `python3 docs/pytorch_presets.py convert … --strip-prefix \(prefix)`"
        }
        let candidates = ModelSpec.Kind.presets.flatMap { kind in
            [ModelSpec(kind: kind)] + (kind.cifarResNet?.shortcuts == true ? [ModelSpec(kind: kind, shortcut: .zeroPad)] : [])
        }
        let matches = candidates.filter { spec in
            guard spec != model.spec,
                  let other = try? ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0, as: Float.self) else { return false }
            return Set(other.parameters.map(\.name) + other.namedBuffers.map(\.name)) == stored
        }
        if !matches.isEmpty {
            let settings = matches.map { "model: {kind: \($0.kind.rawValue)\($0.shortcut == nil ? "" : ", shortcut: zero_pad")}" }
            return "The stored names are those of " + settings.joined(separator: " or ")
                + (matches.count > 1 ? " (the same names; they differ in the blocks' shortcuts)" : "")
        }
        if unexpected.allSatisfy({ $0.hasPrefix("layers.") }) && model.namePrefix.isEmpty {
            return "The stored names are a family model's (layers.N…, kind mlp/cnn/resnet), the model is the \(model.spec.kind.rawValue) preset"
        }
        if !unexpected.contains(where: { $0.hasPrefix("layers.") }) && model.namePrefix == "layers" {
            return "The model is a family model (names layers.N…); a checkpoint with module names such as conv1.weight needs a preset kind (resnet20, resnet56, …, vgg9)"
        }
        return nil
    }

    /// The prefix `P` such that the unexpected names are exactly `P` + the missing names.
    private static func commonPrefix(unexpected: [String], missing: [String]) -> String? {
        guard !missing.isEmpty, unexpected.count >= missing.count, let m = missing.first else { return nil }
        for u in unexpected where u.hasSuffix("." + m) {
            let prefix = String(u.dropLast(m.count))
            let stripped = Set(unexpected.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
            if Set(missing).isSubset(of: stripped) { return prefix }
        }
        return nil
    }
}
