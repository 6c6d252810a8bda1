import Foundation
import TerrainCore
import Yams

extension SurfaceSpec {
    static let sectionKeys = ["checkpoint", "train", "x", "y", "directions", "sets", "tile", "batch_norm", "convexity"]
    static let directionKeys = ["kind", "normalization", "one_dimensional", "seed", "to", "third", "trajectory", "states", "samples"]

    /// Parses the `model`, `data`, `loss`, `surface` and `curvature` sections of a sweep spec
    /// (no files are read: the checkpoints and data are checked when the sweep is expanded).
    public static func parse(_ root: Node, source: String, baseDirectory: String) throws -> SurfaceSpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        guard let s = root["surface"] else { throw fail("missing section 'surface:' for kind: surface") }
        try SpecYAML.checkKeys(s, allowed: sectionKeys, section: "surface", source: source)
        let network = try NetworkSpec.parse(root, kind: name, source: source, baseDirectory: baseDirectory)
        let checkpoint = s["checkpoint"]?.string
        let training = try s["train"].map { try parseTraining($0, source: source) }
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
        let d = try Directions(s["directions"], source: source, baseDirectory: baseDirectory)
        try d.check(twoDimensional: y != nil, trainedCentre: training != nil, source: source)
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
        // The grid and its tasks are counted before anything is expanded.
        let points = SweepLimits.product([x.count, y?.count ?? 1]) ?? Int.max
        if points > SweepLimits.gridPoints {
            throw fail("surface.\(y == nil ? "x" : "y"): the grid has \(x.count) × \(y?.count ?? 1) = \(points) points; the limit is \(SweepLimits.gridPoints) points")
        }
        var spec = SurfaceSpec(network: network, checkpoint: checkpoint.map { SpecPaths.absolute($0, in: baseDirectory) }, x: x, y: y,
                               directionKind: d.kind, normalization: d.normalization, oneDimensional: d.oneDimensional, seed: d.seed,
                               target: d.target, sets: sets, tile: tile)
        spec.third = d.third
        spec.trajectory = d.trajectory
        spec.training = training
        if let bn = try s["batch_norm"].flatMap({ try parseBatchNorm($0, source: source) }) {
            spec.recomputeBatchNorm = bn.batchSize
            spec.recomputeSamples = bn.samples
        }
        spec.states = d.states
        spec.hessianSamples = d.samples
        if d.states && spec.recomputeBatchNorm != nil {
            throw SpecError(file: source, message: "surface.directions.states moves the BatchNorm statistics along the directions; surface.batch_norm: recompute re-estimates them at every point — choose one")
        }
        spec.convexity = try s["convexity"].map { try ConvexityProbe.parse($0, source: source) }
        if let c = root["curvature"] { spec.curvature = try CurvatureSpec.parse(c, source: source) }
        let tiles = SweepLimits.stepsPerEpoch(samples: points, batchSize: tile)
        let probes = spec.curvature?.taskCount ?? 0
        try SweepLimits.checkTasks(SweepLimits.sum(tiles, probes).flatMap { SweepLimits.sum($0, training == nil ? 0 : 2) }, field: "surface.tile",
                                   how: "\(points) points in tiles of \(tile)\(probes > 0 ? " and \(probes) curvature probes" : "")", source: source)
        return spec
    }

    /// `surface.train`: how θ* is trained inside the sweep.
    private static func parseTraining(_ t: Node, source: String) throws -> TrainingSection {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
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
        try SweepLimits.check(batch, atMost: SweepLimits.batchSize, field: "surface.train.batch_size", what: "samples per step", source: source)
        try SweepLimits.check(epochs, atMost: SweepLimits.stepsPerRun, field: "surface.train.epochs", what: "steps per run", source: source)
        let seed = t["seed"]?.int ?? 0
        guard seed >= 0 else { throw fail("surface.train.seed: expected a non-negative integer") }
        do { try optimizer.validate(); try schedule.validate() } catch let e as TerrainError { throw fail(e.description) }
        return TrainingSection(optimizer: optimizer, schedule: schedule, batchSize: batch, epochs: epochs, seed: UInt64(seed))
    }

    /// `surface.batch_norm`: the batch size and sample count of per-point statistics, `nil`
    /// for running ones.
    private static func parseBatchNorm(_ bn: Node, source: String) throws -> (batchSize: Int, samples: Int?)? {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        if bn.string == "running" { return nil }
        if bn.string == "recompute" { return (128, nil) }
        guard bn.mapping != nil, let r = bn["recompute"] else {
            throw fail("surface.batch_norm: expected running, recompute, or {recompute: true, batch_size: N, samples: M}")
        }
        try SpecYAML.checkKeys(bn, allowed: ["recompute", "batch_size", "samples"], section: "surface.batch_norm", source: source)
        guard r.bool == true else { throw fail("surface.batch_norm.recompute: expected true") }
        let size = bn["batch_size"].map { $0.int } ?? 128
        guard let size, size >= 2 else { throw fail("surface.batch_norm.batch_size: expected an integer ≥ 2") }
        try SweepLimits.check(size, atMost: SweepLimits.batchSize, field: "surface.batch_norm.batch_size", what: "samples per batch", source: source)
        var samples: Int?
        if let m = bn["samples"] {
            guard let n = m.int, n >= 2 else { throw fail("surface.batch_norm.samples: expected an integer ≥ 2") }
            samples = n
        }
        return (size, samples)
    }

    /// `surface.directions`, with the defaults of a random-direction surface.
    private struct Directions {
        var kind = DirectionKind.random, normalization = DirectionNormalization.filter, oneDimensional = OneDimensionalRule.ignore
        var seed: UInt64 = 0
        var target: String?, third: String?
        var trajectory = [String]()
        var states = false
        var samples: Int?

        init(_ node: Node?, source: String, baseDirectory: String) throws {
            func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
            guard let d = node else { return }
            try SpecYAML.checkKeys(d, allowed: SurfaceSpec.directionKeys, section: "surface.directions", source: source)
            if let v = d["kind"] {
                guard let k = v.string.flatMap(DirectionKind.init) else { throw fail("surface.directions.kind: expected random, interpolation, plane, pca or hessian") }
                kind = k
                // Hessian eigenvectors are unit vectors unless a normalization is asked for.
                if k == .hessian && d["normalization"] == nil { normalization = .none }
            }
            if let v = d["samples"] {
                guard let n = v.int, n >= 1 else { throw fail("surface.directions.samples: expected a positive integer (training samples of the Hessian)") }
                samples = n
            }
            if let v = d["normalization"] {
                guard let n = v.string.flatMap(DirectionNormalization.init) else {
                    throw fail("surface.directions.normalization: expected one of \(DirectionNormalization.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                normalization = n
            }
            if let v = d["one_dimensional"] {
                guard let r = v.string.flatMap(OneDimensionalRule.init) else { throw fail("surface.directions.one_dimensional: expected ignore or copy") }
                oneDimensional = r
            }
            if let v = d["seed"] {
                guard let i = v.int, i >= 0 else { throw fail("surface.directions.seed: expected a non-negative integer") }
                seed = UInt64(i)
            }
            if let v = d["states"] {
                guard let b = v.bool else { throw fail("surface.directions.states: expected true or false") }
                states = b
            }
            target = d["to"]?.string.map { SpecPaths.absolute($0, in: baseDirectory) }
            third = d["third"]?.string.map { SpecPaths.absolute($0, in: baseDirectory) }
            if let t = d["trajectory"] {
                guard let list = t.sequence?.compactMap(\.string), list.count == t.sequence?.count else {
                    throw fail("surface.directions.trajectory: expected a list of checkpoint files")
                }
                trajectory = list.map { SpecPaths.absolute($0, in: baseDirectory) }
            }
        }

        /// What each direction kind needs.
        func check(twoDimensional: Bool, trainedCentre: Bool, source: String) throws {
            func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
            if kind == .pca && trajectory.count < 2 {
                throw fail("surface.directions.trajectory: kind pca needs at least 2 checkpoints of the training run")
            }
            if kind == .plane {
                guard target != nil, third != nil else {
                    throw fail("surface.directions: kind plane needs to (θ_B) and third (θ_C) checkpoints")
                }
                guard twoDimensional else { throw fail("surface.y: a plane is 2-D; give y") }
            }
            if kind == .interpolation {
                guard target != nil else { throw fail("surface.directions.to: required for kind: interpolation (θ_B, a safetensors file)") }
                guard !twoDimensional else { throw fail("surface.y: interpolation is 1-D; remove y") }
            }
            if trainedCentre && kind != .random && kind != .hessian {
                throw fail("surface.directions.kind: a centre trained in the sweep supports random and hessian directions only")
            }
            if kind == .hessian && states {
                throw fail("surface.directions.states: Hessian directions live in parameter space; remove states or choose another kind")
            }
            if samples != nil && kind != .hessian {
                throw fail("surface.directions.samples: only Hessian directions take a sample count")
            }
        }
    }
}
