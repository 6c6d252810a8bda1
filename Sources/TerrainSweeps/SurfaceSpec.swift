import Foundation
import TerrainCore
import Yams

/// A loss-surface sweep (`kind: surface`): `L(θ* + α·d1 + β·d2)` over a grid, sharded into
/// tiles of grid points (docs/spec.md, "kind: surface").
///
/// ```yaml
/// kind: surface
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// surface:
///   checkpoint: ../out/mlp-mnist1d.safetensors   # θ*
///   x: "-1:1:51"
///   y: "-1:1:51"                                  # omit for a 1-D slice
///   directions: {kind: random, normalization: filter, one_dimensional: ignore, seed: 1}
///   sets: [train, test]
///   tile: 64
/// ```
public struct SurfaceSpec: Sendable {
    /// Where the directions come from.
    public enum DirectionKind: String, Codable, Sendable, CaseIterable {
        /// Gaussian directions, normalized (Li et al. 2018).
        case random
        /// d1 = θ_B − θ_A with θ_A the checkpoint and θ_B `directions.to` (1-D interpolation).
        case interpolation
        /// The plane through three checkpoints: centre θ_A, d1 = θ_B − θ_A, d2 = θ_C − θ_A
        /// (θ_B = `directions.to`, θ_C = `directions.third`), so (0,0), (1,0) and (0,1) are the
        /// three models (mode connectivity pictures, Garipov et al. 2018).
        case plane
        /// The leading principal directions of a training trajectory around the centre
        /// (`directions.trajectory`: the checkpoints of a run), with the explained variance
        /// recorded in the dataset.
        case pca
    }

    /// The network (must match the checkpoint).
    public var model: ModelSpec
    /// The data the loss is measured on.
    public var data: DataSpec
    /// The loss.
    public var loss: LossKind
    /// θ*, absolute path (nil when θ* is trained by the sweep itself, see ``training``).
    public var checkpoint: String?
    /// Train θ* as the sweep's first task instead of reading a checkpoint.
    public var training: TrainingSection? = nil

    /// How θ* is trained when the spec has `surface.train` instead of `surface.checkpoint`.
    public struct TrainingSection: Codable, Sendable, Equatable {
        public var optimizer: OptimizerSpec
        public var schedule: LearningRateSchedule
        public var batchSize: Int
        public var epochs: Int
        public var seed: UInt64
    }
    /// The α axis.
    public var x: GridAxis
    /// The β axis (nil: 1-D).
    public var y: GridAxis?
    /// Direction source.
    public var directionKind: DirectionKind
    /// Normalization of random directions.
    public var normalization: DirectionNormalization
    /// One-dimensional parameters under random directions.
    public var oneDimensional: OneDimensionalRule
    /// Seed of the random directions.
    public var seed: UInt64
    /// The second checkpoint for interpolation and planes, absolute path.
    public var target: String?
    /// The third checkpoint of a plane, absolute path.
    public var third: String? = nil
    /// The checkpoints of a training trajectory (PCA directions), absolute paths.
    public var trajectory: [String] = []
    /// Which data sets to evaluate: `train`, `test`.
    public var sets: [String]
    /// Grid points per task.
    public var tile: Int
    /// Seed of data subsets (from the spec's top-level `seed`).
    public var dataSeed: UInt64
    /// Hessian measures at the centre, if asked for.
    public var curvature: CurvatureSpec? = nil
    /// Re-estimate BatchNorm statistics at every point (batch size), instead of using θ*'s
    /// running statistics; `nil` = running statistics.
    public var recomputeBatchNorm: Int? = nil

    static let sectionKeys = ["checkpoint", "train", "x", "y", "directions", "sets", "tile", "batch_norm"]
    static let directionKeys = ["kind", "normalization", "one_dimensional", "seed", "to", "third", "trajectory"]

    /// Number of grid points.
    public var points: Int { x.count * (y?.count ?? 1) }

    /// The metric names in output order: `<set>_loss`, `<set>_acc` per set.
    public var metricNames: [String] { sets.flatMap { ["\($0)_loss", "\($0)_acc"] } }

    /// Parses the `model`, `data`, `training.loss`-like `loss` and `surface` sections of a sweep spec.
    static func parse(_ root: Node, source: String, baseDirectory: String) throws -> SurfaceSpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        guard let s = root["surface"] else { throw fail("missing section 'surface:' for kind: surface") }
        try SpecYAML.checkKeys(s, allowed: sectionKeys, section: "surface", source: source)
        let (model, data, loss, dataSeed) = try SweepSpec.parseModelAndData(root, kind: "surface", source: source, baseDirectory: baseDirectory)
        func absolute(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardizedFileURL.path
        }
        let checkpoint = s["checkpoint"]?.string
        var training: TrainingSection? = nil
        if let t = s["train"] {
            try SpecYAML.checkKeys(t, allowed: ["optimizer", "schedule", "batch_size", "epochs", "seed"], section: "surface.train", source: source)
            guard let o = t["optimizer"] else { throw fail("surface.train.optimizer: required") }
            try SpecYAML.checkKeys(o, allowed: OptimizerSpec.allowedKeys, section: "surface.train.optimizer", source: source)
            let optimizer: OptimizerSpec = try SpecYAML.decode(o, section: "surface.train.optimizer", source: source)
            var schedule = LearningRateSchedule()
            if let sc = t["schedule"] {
                try SpecYAML.checkKeys(sc, allowed: LearningRateSchedule.allowedKeys, section: "surface.train.schedule", source: source)
                schedule = try SpecYAML.decode(sc, section: "surface.train.schedule", source: source)
            }
            guard let batch = t["batch_size"]?.int, batch > 0 else { throw fail("surface.train.batch_size: required, a positive integer") }
            guard let epochs = t["epochs"]?.int, epochs >= 0 else { throw fail("surface.train.epochs: required, a non-negative integer") }
            let seed = t["seed"]?.int ?? 0
            guard seed >= 0 else { throw fail("surface.train.seed: expected a non-negative integer") }
            do { try optimizer.validate(); try schedule.validate() } catch let e as TerrainError { throw fail(e.description) }
            training = TrainingSection(optimizer: optimizer, schedule: schedule, batchSize: batch, epochs: epochs, seed: UInt64(seed))
        }
        guard (checkpoint == nil) != (training == nil) else {
            throw fail("surface: give exactly one of checkpoint (θ*, a safetensors file) or train (train θ* in the sweep)")
        }
        func axis(_ key: String) throws -> GridAxis? {
            guard let node = s[key] else { return nil }
            guard let text = node.string else { throw fail("surface.\(key): expected \"min:max:count\"") }
            do { return try GridAxis(parsing: text) } catch let e as TerrainError { throw fail("surface.\(key): \(e.description)") }
        }
        guard let x = try axis("x") else { throw fail("surface.x: required, e.g. \"-1:1:51\"") }
        let y = try axis("y")
        var kind = DirectionKind.random, normalization = DirectionNormalization.filter, oneD = OneDimensionalRule.ignore
        var seed: UInt64 = 0
        var target: String? = nil
        var thirdPath: String? = nil
        var trajectoryPaths = [String]()
        if let d = s["directions"] {
            try SpecYAML.checkKeys(d, allowed: directionKeys, section: "surface.directions", source: source)
            if let v = d["kind"] {
                guard let k = v.string.flatMap(DirectionKind.init) else { throw fail("surface.directions.kind: expected random, interpolation, plane or pca") }
                kind = k
            }
            if let v = d["normalization"] {
                guard let n = v.string.flatMap(DirectionNormalization.init) else {
                    throw fail("surface.directions.normalization: expected one of \(DirectionNormalization.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                normalization = n
            }
            if let v = d["one_dimensional"] {
                guard let r = v.string.flatMap(OneDimensionalRule.init) else { throw fail("surface.directions.one_dimensional: expected ignore or copy") }
                oneD = r
            }
            if let v = d["seed"] {
                guard let i = v.int, i >= 0 else { throw fail("surface.directions.seed: expected a non-negative integer") }
                seed = UInt64(i)
            }
            target = d["to"]?.string.map(absolute)
            thirdPath = d["third"]?.string.map(absolute)
            if let t = d["trajectory"] {
                guard let list = t.sequence?.compactMap(\.string), list.count == t.sequence?.count else {
                    throw fail("surface.directions.trajectory: expected a list of checkpoint files")
                }
                trajectoryPaths = list.map(absolute)
            }
        }
        if kind == .pca && trajectoryPaths.count < 2 {
            throw fail("surface.directions.trajectory: kind pca needs at least 2 checkpoints of the training run")
        }
        if kind == .plane {
            guard target != nil, thirdPath != nil else {
                throw fail("surface.directions: kind plane needs to (θ_B) and third (θ_C) checkpoints")
            }
            guard y != nil else { throw fail("surface.y: a plane is 2-D; give y") }
        }
        if kind == .interpolation {
            guard target != nil else { throw fail("surface.directions.to: required for kind: interpolation (θ_B, a safetensors file)") }
            guard y == nil else { throw fail("surface.y: interpolation is 1-D; remove y") }
        }
        var sets = ["train", "test"]
        if let v = s["sets"] {
            guard let list = v.sequence?.compactMap(\.string), !list.isEmpty, list.allSatisfy({ $0 == "train" || $0 == "test" }) else {
                throw fail("surface.sets: expected a list of train and/or test")
            }
            sets = list
        }
        var tile = 64
        if let v = s["tile"] {
            guard let t = v.int, t >= 1 else { throw fail("surface.tile: expected a positive number of grid points per task") }
            tile = t
        }
        if training != nil && kind != .random {
            throw fail("surface.directions.kind: a centre trained in the sweep supports random directions only")
        }
        var spec = SurfaceSpec(model: model, data: data, loss: loss, checkpoint: checkpoint.map(absolute), x: x, y: y, directionKind: kind,
                               normalization: normalization, oneDimensional: oneD, seed: seed, target: target, sets: sets, tile: tile,
                               dataSeed: dataSeed)
        spec.third = thirdPath
        spec.training = training
        if let bn = s["batch_norm"] {
            if bn.string == "running" {
                spec.recomputeBatchNorm = nil
            } else if bn.string == "recompute" {
                spec.recomputeBatchNorm = 128
            } else if bn.mapping != nil, let r = bn["recompute"] {
                try SpecYAML.checkKeys(bn, allowed: ["recompute", "batch_size"], section: "surface.batch_norm", source: source)
                guard r.bool == true else { throw fail("surface.batch_norm.recompute: expected true") }
                let size = bn["batch_size"].map { $0.int } ?? 128
                guard let size, size >= 2 else { throw fail("surface.batch_norm.batch_size: expected an integer ≥ 2") }
                spec.recomputeBatchNorm = size
            } else {
                throw fail("surface.batch_norm: expected running, recompute, or {recompute: true, batch_size: N}")
            }
        }
        spec.trajectory = trajectoryPaths
        if let c = root["curvature"] { spec.curvature = try CurvatureSpec.parse(c, source: source) }
        return spec
    }

    /// The parameters of one surface task.
    public struct Params: Codable, Sendable, Equatable {
        public var model: ModelSpec
        public var data: DataSpec
        public var dataSHA256: String
        public var dataSeed: UInt64
        public var loss: LossKind
        public var x: [Double]
        public var y: [Double]?
        public var start: Int
        public var end: Int
        public var sets: [String]
        /// Re-estimate BatchNorm statistics at each point with this batch size.
        public var recomputeBatchNorm: Int?
    }

    /// Everything the coordinator computes once when it creates the sweep.
    public struct Materialized {
        /// θ* flat.
        public var centre: [Float]
        /// The directions (d2 nil for 1-D).
        public var d1: [Float], d2: [Float]?
        /// The parameter layout.
        public var layout: [ParameterSlot]
        /// SHA-256 (hex) of the data file.
        public var dataSHA256: String
        /// PCA directions: the explained-variance ratio of each component.
        public var explainedVarianceRatio: [Double]?
    }

    /// What the `directions` task (or the coordinator) needs to compute the directions.
    public struct DirectionsParams: Codable, Sendable, Equatable {
        public var model: ModelSpec
        public var data: DataSpec
        public var dataSeed: UInt64
        public var kind: DirectionKind
        public var normalization: DirectionNormalization
        public var oneDimensional: OneDimensionalRule
        public var seed: UInt64
        public var target: String?
        public var third: String?
        public var trajectory: [String]
        public var twoDimensional: Bool
    }

    /// The parameters of the directions computation.
    public var directionsParams: DirectionsParams {
        DirectionsParams(model: model, data: data, dataSeed: dataSeed, kind: directionKind, normalization: normalization,
                         oneDimensional: oneDimensional, seed: seed, target: target, third: third, trajectory: trajectory,
                         twoDimensional: y != nil)
    }

    /// The directions around `centre` (flat, in `layout`), loading any other checkpoints the
    /// direction kind needs for a model of samples shaped `dataShape` with `outputs` outputs.
    public static func directions(_ p: DirectionsParams, centre: [Float], layout: [ParameterSlot], dataShape: [Int], outputs: Int) throws
        -> (d1: [Float], d2: [Float]?, explainedVarianceRatio: [Double]?)
    {
        switch p.kind {
        case .random:
            let d1 = Directions.random(layout: layout, center: centre, mask: nil, seed: TerrainRNG.derive(p.seed, 1),
                                       normalization: p.normalization, oneDimensional: p.oneDimensional)
            let d2 = p.twoDimensional ? Directions.random(layout: layout, center: centre, mask: nil, seed: TerrainRNG.derive(p.seed, 2),
                                                          normalization: p.normalization, oneDimensional: p.oneDimensional) : nil
            return (d1, d2, nil)
        case .interpolation, .plane, .pca:
            func load(_ path: String) throws -> [Float] {
                let other: Model<Float> = try ModelBuilder.build(p.model, dataShape: dataShape, outputs: outputs, seed: 0)
                try Checkpoint.load(path, into: other)
                return ParameterSpace(other).values()
            }
            if p.kind == .pca {
                let pca = try Directions.principalComponents(center: centre, trajectory: try p.trajectory.map(load), count: p.twoDimensional ? 2 : 1)
                return (pca.directions[0], p.twoDimensional ? pca.directions[1] : nil, pca.explainedVarianceRatio)
            }
            let d1 = Directions.difference(from: centre, to: try load(p.target!))
            let d2 = p.kind == .plane ? Directions.difference(from: centre, to: try load(p.third!)) : nil
            return (d1, d2, nil)
        }
    }

    /// Loads the data and checkpoint(s), checks they fit the model, and computes the
    /// directions. Needs `checkpoint` (a sweep that trains θ* computes them in a task).
    public func materialize(source: String) throws -> Materialized {
        do {
            guard let checkpoint else { throw TerrainError.invalidArgument("θ* is trained by the sweep; no checkpoint to read") }
            let (train, _): (Dataset<Float>, Dataset<Float>?)
            do { (train, _) = try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self) } catch let e as TerrainError {
                throw TerrainError.invalidData("data: \(e.description)")
            }
            let m: Model<Float> = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
            do { try Checkpoint.load(checkpoint, into: m) } catch let e as TerrainError {
                throw TerrainError.invalidCheckpoint("surface.checkpoint: \(e.description)")
            }
            let space = ParameterSpace(m)
            let centre = space.values()
            let d = try Self.directions(directionsParams, centre: centre, layout: space.layout, dataShape: train.sampleShape, outputs: train.outputs)
            return Materialized(centre: centre, d1: d.d1, d2: d.d2, layout: space.layout, dataSHA256: try dataSHA256(),
                                explainedVarianceRatio: d.explainedVarianceRatio)
        } catch let e as TerrainError {
            throw SpecError(file: source, message: e.description)
        }
    }

    /// SHA-256 (hex) of the data files (``DataSpec/sha256()``).
    func dataSHA256() throws -> String { try data.sha256() }

    /// The parameters of the `train` task that produces θ*.
    public struct TrainParams: Codable, Sendable, Equatable {
        public var model: ModelSpec
        public var data: DataSpec
        public var dataSHA256: String
        public var dataSeed: UInt64
        public var loss: LossKind
        public var training: TrainingSection
    }

    /// Tiles of `tile` grid points (x fastest), each a task with the centre and directions as
    /// fixed inputs.
    func expand(source: String) throws -> [ExpandedTask] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var tasks = [ExpandedTask]()
        var id: UInt64 = 1
        var inputs = [StaticInput]()
        var dependencies = [UInt64]()
        var centreDependency = [UInt64]()
        let sha: String
        if let training {
            // θ* is trained by task 1; task 2 computes the directions from it; tiles need both.
            sha = try SweepSpec.checkModelAndData(model: model, data: data, dataSeed: dataSeed, source: source).sha256
            let t = TrainParams(model: model, data: data, dataSHA256: sha, dataSeed: dataSeed, loss: loss, training: training)
            tasks.append(ExpandedTask(id: 1, kind: "train", params: [UInt8](try encoder.encode(t))))
            tasks.append(ExpandedTask(id: 2, kind: "directions", dependencies: [1], params: [UInt8](try encoder.encode(directionsParams))))
            id = 3
            dependencies = [1, 2]
            centreDependency = [1]
        } else {
            let m = try materialize(source: source)
            sha = m.dataSHA256
            let centreBytes = try FileManager.default.contents(atPath: checkpoint!).map { [UInt8]($0) }
                ?? { throw SpecError(file: source, message: "\(checkpoint!): cannot read the checkpoint") }()
            inputs = [StaticInput(name: "centre", data: centreBytes), StaticInput(name: "d1", data: m.d1.withUnsafeBytes { Array($0) })]
            if let d2 = m.d2 { inputs.append(StaticInput(name: "d2", data: d2.withUnsafeBytes { Array($0) })) }
        }
        var start = 0
        while start < points {
            let end = min(start + tile, points)
            let p = Params(model: model, data: data, dataSHA256: sha, dataSeed: dataSeed, loss: loss,
                           x: x.coordinates, y: y?.coordinates, start: start, end: end, sets: sets,
                           recomputeBatchNorm: recomputeBatchNorm)
            tasks.append(ExpandedTask(id: id, kind: "surface", dependencies: dependencies, params: [UInt8](try encoder.encode(p)), inputs: inputs))
            id += 1
            start = end
        }
        if let c = curvature {
            let centre = inputs.isEmpty ? [] : [inputs[0]]
            func add(_ mode: CurvatureSpec.Mode, _ index: UInt64) throws {
                let p = CurvatureSpec.Params(mode: mode, index: index, eigenvalues: c.eigenvalues,
                                             steps: mode == .sharpness ? c.sharpnessSteps : c.lanczosSteps,
                                             epsilon: mode == .sharpness ? c.sharpnessEpsilon : nil, seed: c.seed,
                                             samples: c.samples, model: model, data: data, dataSHA256: sha,
                                             dataSeed: dataSeed, loss: loss)
                tasks.append(ExpandedTask(id: id, kind: "hessian", dependencies: centreDependency, params: [UInt8](try encoder.encode(p)), inputs: centre))
                id += 1
            }
            if c.eigenvalues > 0 { try add(.eigen, 0) }
            for i in 0..<c.hutchinson { try add(.hutchinson, UInt64(i)) }
            for i in 0..<c.lanczosRuns { try add(.lanczos, UInt64(i)) }
            if c.sharpnessEpsilon != nil { try add(.sharpness, 0) }
        }
        return tasks
    }

    /// Assembles task outputs into one array per metric (row-major, x fastest), NaN where a
    /// point has no result yet.
    public static func assemble(points: Int, metrics: Int, outputs: [(params: [UInt8], output: [UInt8])]) throws -> [[Double]] {
        var grid = [[Double]](repeating: [Double](repeating: .nan, count: points), count: metrics)
        let decoder = JSONDecoder()
        for (paramBytes, output) in outputs {
            // Other task kinds of the sweep (curvature) have other parameters: skip them.
            guard let p = try? decoder.decode(Params.self, from: Data(paramBytes)) else { continue }
            let values = decodeOutput(output)
            guard values.count == (p.end - p.start) * metrics else {
                throw TerrainError.invalidData("a surface result has \(values.count) values; expected \((p.end - p.start) * metrics)")
            }
            for k in 0..<(p.end - p.start) {
                for m in 0..<metrics { grid[m][p.start + k] = values[k * metrics + m] }
            }
        }
        return grid
    }

    /// Little-endian Float64 values of a surface task's output.
    public static func decodeOutput(_ bytes: [UInt8]) -> [Double] {
        stride(from: 0, to: bytes.count - bytes.count % 8, by: 8).map { i in
            var bits: UInt64 = 0
            for j in 0..<8 { bits |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
            return Double(bitPattern: bits)
        }
    }
}
