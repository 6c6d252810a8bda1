import Foundation
import TerrainCore
import TerrainDataset
import TerrainExport

/// How `terrain status`, `export` and `render` describe a stored surface sweep.
extension SurfaceSpec {
    /// The stored spec's surface section.
    static func stored(_ sweep: StoredSweep) throws -> SurfaceSpec {
        guard let s = try sweep.spec().surface else { throw ResultsError("\(sweep.path): the stored spec is not a surface sweep") }
        return s
    }

    /// Grid points rather than tasks: a tile task holds many points.
    public static func statusLines(_ sweep: StoredSweep) throws -> [String] {
        func points(_ params: [UInt8]) -> Int {
            (try? JSONDecoder().decode(SurfaceKind.Tile.self, from: Data(params))).map { $0.end - $0.start } ?? 0
        }
        let done = try sweep.dataset.completedOutputs().filter { $0.kind == SurfaceKind.name }.reduce(0) { $0 + points($1.params) }
        let total = try sweep.dataset.loadTasks().filter { $0.kind == SurfaceKind.name }.reduce(0) { $0 + points($1.params) }
        let p = try sweep.dataset.readProgress()
        let eta = p.rate > 0 && p.done < p.total ? "  ETA \(ClockText.format(Double(p.total - p.done - p.failed) / p.rate))" : ""
        return ["grid points: \(done)/\(total)\(eta)"]
    }

    public static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        let s = try stored(sweep)
        if options.artifacts != nil { throw ResultsError("--artifacts applies to lottery and training sweeps; a surface sweep exports --directions") }
        return SweepExport(.grid(try s.table(sweep))) {
            try options.directions.map { [try s.writeDirections(sweep, to: $0)] } ?? []
        }
    }

    /// The grid as an export table: coordinates, one array per metric (NaN where a point has
    /// no result yet; accuracies as fractions, marked as such) and attributes saying what was
    /// computed.
    func table(_ sweep: StoredSweep) throws -> SurfaceTable {
        let outputs = try sweep.dataset.completedOutputs().filter { $0.kind == SurfaceKind.name }.map { (params: $0.params, output: $0.output) }
        let grid = try Self.assemble(points: points, metrics: metricNames.count, outputs: outputs)
        var attributes: [String: String] = [
            "spec_hash": sweep.specHash,
            "model": "\(model.kind.rawValue) hidden=\(model.hidden) channels=\(model.channels)",
            "checkpoint": checkpoint ?? "trained in the sweep (task 1)",
            "directions": directionKind.rawValue,
            "normalization": normalization.rawValue,
            "one_dimensional": oneDimensional.rawValue,
            "direction_seed": String(seed),
            "data": data.path ?? "",
            "train_subset": data.trainSubset.map(String.init) ?? "all",
            "test_subset": data.testSubset.map(String.init) ?? "all",
            "batch_norm": "running statistics (eval mode)",
            "points_done": String(grid.first?.filter { !$0.isNaN }.count ?? 0),
            "points_total": String(points),
        ]
        if let t = target { attributes["target"] = t }
        if let t = third { attributes["third"] = t }
        // Accuracies are fractions; the HDF5 export writes them in percent, as loss-landscape does.
        return SurfaceTable(x: x.coordinates, y: y?.coordinates, metrics: zip(metricNames, grid).map { (name: $0.0, values: $0.1) },
                            attributes: attributes, fractions: Set(metricNames.filter { $0.hasSuffix("_acc") }))
    }

    /// Writes the sweep's directions (the `d1`/`d2` artifacts of its tasks) as safetensors with
    /// PyTorch parameter names, so that they can be used outside Terrain. Returns what it wrote.
    func writeDirections(_ sweep: StoredSweep, to path: String) throws -> String {
        let ds = sweep.dataset
        var inputs = try ds.staticInputs(of: 1)
        if training != nil {
            // The directions are the outputs of task 2 (the directions task).
            inputs = [:]
            for o in try ds.outputs(of: 2) { inputs[o.name] = try ds.artifact(o.hash) }
            guard inputs["d1"] != nil else { throw ResultsError("\(sweep.path): the directions task has not finished yet") }
        }
        let (train, _) = try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        let layout = directionsParams.space(of: model).layout
        var tensors = [String: StoredTensor]()
        for name in ["d1", "d2"] {
            guard let bytes = inputs[name] else { continue }
            let values: [Float] = bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            guard values.count == layout.last.map({ $0.offset + $0.count }) else {
                throw ResultsError("\(sweep.path): direction \(name) does not match the model")
            }
            for slot in layout {
                tensors["\(name).\(slot.name)"] = StoredTensor(Tensor(shape: slot.shape, storage: Array(values[slot.range])))
            }
        }
        try SafeTensors.write(tensors, metadata: ["terrain.spec_hash": sweep.specHash], to: path)
        return "wrote \(path) (\(tensors.count) direction tensors)"
    }

    /// The centre's name for titles: the checkpoint file, or "θ* trained in the sweep".
    var centreName: String { checkpoint.map { ($0 as NSString).lastPathComponent } ?? "θ* trained in the sweep" }

    /// A one-line description of what was computed, for figure subtitles.
    func describe(metric: String = "train_loss") -> String {
        let dirs: String
        switch directionKind {
        case .random:
            dirs = "\(normalization.rawValue)-normalized random directions, seed \(seed)\(oneDimensional == .ignore ? "" : ", 1-D params copied")"
        case .interpolation:
            dirs = "θ(t) = θ_A + t·(θ_B − θ_A)"
        case .plane:
            dirs = "plane θ_A + α·(θ_B − θ_A) + β·(θ_C − θ_A)"
        case .pca:
            dirs = "PCA directions of \(trajectory.count) trajectory checkpoints"
        case .hessian:
            dirs = "top-2 Hessian eigenvectors (\(normalization == .none ? "unit" : normalization.rawValue + "-normalized"), \(hessianSamples.map { "\($0) samples" } ?? "full train set"))"
        }
        if let c = convexity, metric == "eigen_ratio" || metric.hasPrefix("lambda_") {
            return "\(dirs) · Lanczos \(c.steps) steps per point on \(c.samples.map { "\($0)" } ?? "all") training samples"
        }
        let subset: String
        if metric.hasPrefix("test") {
            subset = data.testSubset.map { "\($0) test samples" } ?? "full test set"
        } else {
            subset = data.trainSubset.map { "\($0) training samples" } ?? "full train set"
        }
        return "\(dirs) · \(subset)"
    }
}
