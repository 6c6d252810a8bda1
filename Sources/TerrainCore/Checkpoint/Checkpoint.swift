import Foundation

/// A training checkpoint: a model's parameters and buffers under their PyTorch names, and
/// optionally the optimizer state (under `optimizer.<parameter>.<slot>`) and the step count,
/// in one safetensors file.
///
/// Loading the model part in Python:
/// ```python
/// from safetensors.numpy import load_file          # or the numpy-only reader in docs/checkpoints.md
/// state = {k: v for k, v in load_file("model.safetensors").items() if not k.startswith("optimizer.")}
/// model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
/// ```
public enum Checkpoint {
    /// The prefix of optimizer-state tensors.
    public static let optimizerPrefix = "optimizer."

    /// What a checkpoint holds besides tensors.
    public struct Info: Sendable, Equatable {
        /// Optimizer steps taken when it was written.
        public var step: Int
        /// Free-form metadata (`terrain.*` keys are Terrain's own).
        public var metadata: [String: String]
    }

    /// The tensors of a model (and optimizer) as safetensors entries.
    public static func tensors<Scalar: TensorScalar>(model: Model<Scalar>, optimizer: Optimizer<Scalar>? = nil) -> [String: StoredTensor] {
        var out = [String: StoredTensor]()
        for p in model.parameters { out[p.name] = StoredTensor(p.value) }
        for b in model.namedBuffers {
            if b.local == "num_batches_tracked" {
                out[b.name] = StoredTensor(int64: b.tensor.storage.map { Int64($0) }, shape: [])
            } else {
                out[b.name] = StoredTensor(b.tensor)
            }
        }
        if let optimizer {
            for s in optimizer.state { out[optimizerPrefix + s.name] = StoredTensor(s.tensor) }
        }
        return out
    }

    /// Writes `model` (and `optimizer`, if given) to `path`, with the step count and any
    /// extra metadata. The model spec is stored as JSON under `terrain.model`.
    public static func save<Scalar: TensorScalar>(
        model: Model<Scalar>, optimizer: Optimizer<Scalar>? = nil, step: Int, metadata: [String: String] = [:], to path: String
    ) throws {
        var meta = metadata
        meta["format"] = "pt"
        meta["terrain.step"] = String(step)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let json = try? encoder.encode(model.spec), let s = String(data: json, encoding: .utf8) {
            meta["terrain.model"] = s
        }
        try SafeTensors.write(tensors(model: model, optimizer: optimizer), metadata: meta, to: path)
    }

    /// Loads parameters and buffers into `model` (and optimizer state into `optimizer`).
    ///
    /// Every model parameter and buffer must be present with its exact shape; tensors the
    /// model does not have are an error (strict, like PyTorch's `load_state_dict`), except
    /// optimizer state when no optimizer is given. F32 data loads bit-exactly into a Float model.
    @discardableResult
    public static func load<Scalar: TensorScalar>(
        _ path: String, into model: Model<Scalar>, optimizer: Optimizer<Scalar>? = nil
    ) throws -> Info {
        let (stored, metadata) = try SafeTensors.read(contentsOf: path)
        try apply(stored, source: path, to: model, optimizer: optimizer)
        return Info(step: Int(metadata["terrain.step"] ?? "0") ?? 0, metadata: metadata)
    }

    /// Applies already-decoded tensors (see ``load(_:into:optimizer:)``).
    public static func apply<Scalar: TensorScalar>(
        _ stored: [String: StoredTensor], source: String, to model: Model<Scalar>, optimizer: Optimizer<Scalar>? = nil
    ) throws {
        func fail(_ m: String) -> TerrainError { .invalidCheckpoint("\(source): \(m)") }
        var expected = Set<String>()
        for p in model.parameters {
            expected.insert(p.name)
            guard let t = stored[p.name] else { throw fail("missing tensor \(p.name) (shape \(p.shape))") }
            guard t.shape == p.shape else { throw fail("tensor \(p.name) has shape \(t.shape), the model expects \(p.shape)") }
            p.value = try t.tensor(as: Scalar.self)
            p.applyMask()
        }
        for b in model.namedBuffers {
            expected.insert(b.name)
            guard let t = stored[b.name] else { throw fail("missing buffer \(b.name)") }
            try b.layer.setBuffer(b.local, try t.tensor(as: Scalar.self))
        }
        var optimizerState = [String: Tensor<Scalar>]()
        for (name, t) in stored where !expected.contains(name) {
            if name.hasPrefix(optimizerPrefix) {
                optimizerState[String(name.dropFirst(optimizerPrefix.count))] = try t.tensor(as: Scalar.self)
            } else {
                throw fail("unexpected tensor \(name): the model has no such parameter (different architecture?)")
            }
        }
        if let optimizer { try optimizer.loadState(optimizerState) }
    }
}
