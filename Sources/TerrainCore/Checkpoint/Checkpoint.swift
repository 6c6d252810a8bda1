import Foundation

/// A training checkpoint: a model's parameters and buffers under their PyTorch names in one
/// safetensors file — exactly a PyTorch `state_dict`, so the module of docs/checkpoints.md
/// loads it with `load_state_dict(…, strict=True)` — and, when an optimizer is saved, its
/// state and step count in a second file beside it (``optimizerStatePath(for:)``).
///
/// Loading the model in Python (numpy reader of docs/load_checkpoint.py, or `safetensors`):
/// ```python
/// tensors, _ = load("model.safetensors")
/// model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
/// ```
public enum Checkpoint {
    /// The prefix of optimizer-state tensors kept in the same set as the weights: in a sweep
    /// task's internal resume state (``tensors(model:optimizer:)``), and in `terrain train`
    /// checkpoints written before the state moved to its own file. Such files still load: the
    /// prefixed tensors are ignored when loading a model and used when resuming.
    public static let optimizerPrefix = "optimizer."
    /// The `terrain.kind` metadata of an optimizer-state file.
    public static let optimizerStateKind = "optimizer-state"

    /// What a checkpoint holds besides tensors.
    public struct Info: Sendable, Equatable {
        /// Optimizer steps taken when it was written.
        public var step: Int
        /// Free-form metadata (`terrain.*` keys are Terrain's own).
        public var metadata: [String: String]
    }

    /// Where the optimizer state of the checkpoint `path` is kept:
    /// `run.safetensors` → `run.optimizer.safetensors` (any other name gets `.optimizer.safetensors` appended).
    public static func optimizerStatePath(for path: String) -> String {
        let stem = path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path
        return stem + ".optimizer.safetensors"
    }

    /// The tensors of a model (parameters and buffers) as safetensors entries: F32/F64 in
    /// the model's precision, `num_batches_tracked` as an I64 scalar, as PyTorch stores them.
    /// With an `optimizer`, its state is added under ``optimizerPrefix`` — a task's resume
    /// state, no longer a `state_dict`; files for users keep it apart (``save(model:optimizer:step:metadata:to:)``).
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
        for s in optimizer?.state ?? [] { out[optimizerPrefix + s.name] = StoredTensor(s.tensor) }
        return out
    }

    /// Writes `model`'s weights to `path` (a strict PyTorch `state_dict`) with the step count
    /// and any extra metadata; the model spec is stored as JSON under `terrain.model`. With
    /// an `optimizer`, its state goes to ``optimizerStatePath(for:)`` (tensors
    /// `<parameter>.<slot>`, PyTorch's slot names), tied to these weights by their SHA-256.
    ///
    /// Throws ``TerrainError/invalidArgument(_:)`` when a file cannot be written.
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
        let bytes = SafeTensors.encode(tensors(model: model), metadata: meta)
        try SafeTensors.write(bytes: bytes, to: path)
        guard let optimizer else { return }
        var state = [String: StoredTensor]()
        for s in optimizer.state { state[s.name] = StoredTensor(s.tensor) }
        let stateMeta = [
            "format": "pt", "terrain.kind": optimizerStateKind, "terrain.step": String(step),
            "terrain.optimizer": String(describing: type(of: optimizer)).components(separatedBy: "<")[0],
            "terrain.weights": URL(fileURLWithPath: path).lastPathComponent,
            "terrain.weights_sha256": SHA256.hex(SHA256.hash(bytes)),
        ]
        try SafeTensors.write(state, metadata: stateMeta, to: optimizerStatePath(for: path))
    }

    /// Loads parameters and buffers into `model`, and with an `optimizer` its state from the
    /// file beside the checkpoint (or, for older checkpoints, from the checkpoint itself).
    ///
    /// Loading is strict, as PyTorch's `load_state_dict`: every parameter and buffer must be
    /// present with its exact shape and no other tensor may be there; all mismatches are
    /// reported at once, naming the tensors and the file, and the model is left unchanged.
    /// F32 data loads bit-exactly into a Float model; other dtypes convert by value.
    /// Resuming fails when the optimizer-state file is missing or belongs to other weights.
    @discardableResult
    public static func load<Scalar: TensorScalar>(
        _ path: String, into model: Model<Scalar>, optimizer: Optimizer<Scalar>? = nil
    ) throws -> Info {
        let bytes = try SafeTensors.readBytes(path)
        let (stored, metadata) = try SafeTensors.decode(bytes, source: path)
        if metadata["terrain.kind"] == optimizerStateKind {
            throw TerrainError.invalidCheckpoint("\(path): this file holds optimizer state (written beside \(metadata["terrain.weights"] ?? "a checkpoint") by terrain train), not model weights")
        }
        let info = Info(step: Int(metadata["terrain.step"] ?? "0") ?? 0, metadata: metadata)
        guard let optimizer else {
            try apply(stored, source: path, to: model)
            return info
        }
        let embedded = stored.filter { $0.key.hasPrefix(optimizerPrefix) }
        let state: [String: StoredTensor]
        if !embedded.isEmpty {
            state = Dictionary(uniqueKeysWithValues: embedded.map { (String($0.key.dropFirst(optimizerPrefix.count)), $0.value) })
        } else {
            state = try optimizerState(for: path, weights: bytes, step: info.step)
        }
        try apply(stored, source: path, to: model)
        do {
            try optimizer.loadState(try state.mapValues { try $0.tensor(as: Scalar.self) })
        } catch let TerrainError.invalidCheckpoint(m) {
            throw TerrainError.invalidCheckpoint("\(optimizerStatePath(for: path)): \(m)")
        }
        return info
    }

    /// Reads and checks the optimizer-state file of the checkpoint at `path`.
    private static func optimizerState(for path: String, weights: [UInt8], step: Int) throws -> [String: StoredTensor] {
        let statePath = optimizerStatePath(for: path)
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw TerrainError.invalidCheckpoint("\(path): resuming needs the optimizer state that terrain train writes beside the checkpoint, \(statePath), which does not exist")
        }
        let (state, meta) = try SafeTensors.read(contentsOf: statePath)
        guard meta["terrain.kind"] == optimizerStateKind else {
            throw TerrainError.invalidCheckpoint("\(statePath): not an optimizer-state file (no terrain.kind: \(optimizerStateKind) in its metadata)")
        }
        guard meta["terrain.weights_sha256"] == SHA256.hex(SHA256.hash(weights)), meta["terrain.step"] == String(step) else {
            throw TerrainError.invalidCheckpoint("\(statePath): this optimizer state belongs to other weights than \(path) (step \(meta["terrain.step"] ?? "?") vs \(step), or the checkpoint was rewritten since); resume from a checkpoint and the state file written with it")
        }
        return state
    }

    /// Applies already-decoded tensors strictly (see ``load(_:into:optimizer:)``): checks
    /// every name and shape first and changes the model only when all match. Tensors named
    /// `optimizer.…` are ignored, or with an `optimizer` loaded into it (a task's resume state).
    public static func apply<Scalar: TensorScalar>(
        _ stored: [String: StoredTensor], source: String, to model: Model<Scalar>, optimizer: Optimizer<Scalar>? = nil
    ) throws {
        let mismatch = StateDictMismatch(stored: stored, model: model)
        if !mismatch.isEmpty { throw TerrainError.invalidCheckpoint("\(source): \(mismatch.description)") }
        var values = [Tensor<Scalar>]()
        var buffers = [Tensor<Scalar>]()
        do {
            values = try model.parameters.map { try stored[$0.name]!.tensor(as: Scalar.self) }
            buffers = try model.namedBuffers.map { try stored[$0.name]!.tensor(as: Scalar.self) }
        } catch let TerrainError.invalidCheckpoint(m) {
            throw TerrainError.invalidCheckpoint("\(source): \(m)")
        }
        for (p, v) in zip(model.parameters, values) {
            p.value = v
            p.applyMask()
        }
        for (b, v) in zip(model.namedBuffers, buffers) { try b.layer.setBuffer(b.local, v) }
        guard let optimizer else { return }
        var state = [String: Tensor<Scalar>]()
        for (name, t) in stored where name.hasPrefix(optimizerPrefix) {
            state[String(name.dropFirst(optimizerPrefix.count))] = try t.tensor(as: Scalar.self)
        }
        do { try optimizer.loadState(state) } catch let TerrainError.invalidCheckpoint(m) {
            throw TerrainError.invalidCheckpoint("\(source): \(m)")
        }
    }
}
