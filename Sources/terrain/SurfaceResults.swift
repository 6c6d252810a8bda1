import Foundation
import TerrainDataset
import TerrainCore
import TerrainExport
import TerrainSweeps

/// Reads a surface sweep's dataset into an export table: coordinates, one array per metric
/// (NaN where a point has no result yet) and attributes saying what was computed.
enum SurfaceResults {
    static func load(_ path: String) throws -> (table: SurfaceTable, spec: SurfaceSpec, sweep: SweepSpec) {
        let ds: SweepDataset
        do { ds = try SweepDataset(path: path, readOnly: true) } catch { throw CLI.Failure(message: "\(error)") }
        guard let text = try ds.meta("spec") else { throw CLI.Failure(message: "\(path): not a Terrain sweep dataset") }
        let sweep: SweepSpec
        let base = try ds.meta("base_directory") ?? "/"
        do { sweep = try SweepSpec.parse(text, source: "\(path) (stored spec)", baseDirectory: base) } catch let e as SpecError {
            throw CLI.Failure(message: e.description)
        }
        guard let s = sweep.surface else {
            throw CLI.Failure(message: "\(path): a \(sweep.kind) sweep has no surface grid (export and render take surface sweeps)")
        }
        let outputs = try ds.completedOutputs().map { (params: $0.params, output: $0.output) }
        let grid = try SurfaceSpec.assemble(points: s.points, metrics: s.metricNames.count, outputs: outputs)
        var attributes: [String: String] = [
            "spec_hash": sweep.hash,
            "model": "\(s.model.kind.rawValue) hidden=\(s.model.hidden) channels=\(s.model.channels)",
            "checkpoint": s.checkpoint ?? "trained in the sweep (task 1)",
            "directions": s.directionKind.rawValue,
            "normalization": s.normalization.rawValue,
            "one_dimensional": s.oneDimensional.rawValue,
            "direction_seed": String(s.seed),
            "data": s.data.path ?? "",
            "train_subset": s.data.trainSubset.map(String.init) ?? "all",
            "test_subset": s.data.testSubset.map(String.init) ?? "all",
            "batch_norm": "running statistics (eval mode)",
            "points_done": String(grid.first?.filter { !$0.isNaN }.count ?? 0),
            "points_total": String(s.points),
        ]
        if let t = s.target { attributes["target"] = t }
        if let t = s.third { attributes["third"] = t }
        let table = SurfaceTable(x: s.x.coordinates, y: s.y?.coordinates,
                                 metrics: zip(s.metricNames, grid).map { (name: $0.0, values: $0.1) }, attributes: attributes)
        return (table, s, sweep)
    }

    /// Writes the sweep's directions (the `d1`/`d2` artifacts of its tasks) as safetensors with
    /// PyTorch parameter names, so that they can be used outside Terrain.
    static func writeDirections(dataset: String, spec: SurfaceSpec, to path: String) throws {
        let ds = try SweepDataset(path: dataset, readOnly: true)
        var inputs = try ds.staticInputs(of: 1)
        if spec.training != nil {
            // The directions are the outputs of task 2 (the directions task).
            inputs = [:]
            for o in try ds.outputs(of: 2) { inputs[o.name] = try ds.artifact(o.hash) }
            guard inputs["d1"] != nil else { throw CLI.Failure(message: "\(dataset): the directions task has not finished yet") }
        }
        let (train, _) = try DataLoader.load(spec.data, baseDirectory: "/", seed: spec.dataSeed, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(spec.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        let layout = ParameterSpace(model).layout
        var tensors = [String: StoredTensor]()
        for name in ["d1", "d2"] {
            guard let bytes = inputs[name] else { continue }
            let values: [Float] = bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            guard values.count == layout.last.map({ $0.offset + $0.count }) else {
                throw CLI.Failure(message: "\(dataset): direction \(name) does not match the model")
            }
            for slot in layout {
                tensors["\(name).\(slot.name)"] = StoredTensor(Tensor(shape: slot.shape, storage: Array(values[slot.range])))
            }
        }
        try SafeTensors.write(tensors, metadata: ["terrain.spec_hash": (try ds.specHash()) ?? ""], to: path)
        print("wrote \(path) (\(tensors.count) direction tensors)")
    }

    /// The centre's name for titles: the checkpoint file, or "θ* trained in the sweep".
    static func centreName(_ s: SurfaceSpec) -> String {
        s.checkpoint.map { ($0 as NSString).lastPathComponent } ?? "θ* trained in the sweep"
    }

    /// A one-line description of what was computed, for figure subtitles.
    static func describe(_ s: SurfaceSpec, metric: String = "train_loss") -> String {
        let dirs: String
        switch s.directionKind {
        case .random:
            dirs = "\(s.normalization.rawValue)-normalized random directions, seed \(s.seed)\(s.oneDimensional == .ignore ? "" : ", 1-D params copied")"
        case .interpolation:
            dirs = "θ(t) = θ_A + t·(θ_B − θ_A)"
        case .plane:
            dirs = "plane θ_A + α·(θ_B − θ_A) + β·(θ_C − θ_A)"
        case .pca:
            dirs = "PCA directions of \(s.trajectory.count) trajectory checkpoints"
        }
        let subset: String
        if metric.hasPrefix("test") {
            subset = s.data.testSubset.map { "\($0) test samples" } ?? "full test set"
        } else {
            subset = s.data.trainSubset.map { "\($0) training samples" } ?? "full train set"
        }
        return "\(dirs) · \(subset)"
    }
}
