import Foundation
import TerrainCore
import Yams

/// Nonlinear mode connectivity (`kind: connectivity`; Garipov et al. 2018, Draxler et al.
/// 2018): for each pair of end points — trained in the sweep from two seeds, or two
/// checkpoint files — train a quadratic Bezier curve and/or a one-bend polygonal chain
/// between them, then evaluate the train and test loss and accuracy at evenly spaced t along
/// each curve and along the straight line, with BatchNorm statistics re-estimated at every t.
///
/// ```yaml
/// kind: connectivity
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// training:                 # how end points train from their seeds
///   optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
///   batch_size: 128
///   epochs: 30
/// curve_training:           # how each curve's bend trains (same keys)
///   optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
///   batch_size: 128
///   epochs: 20
/// connectivity:
///   pairs: [[0, 1], [2, 3]]                  # seed pairs, end points trained in the sweep
///   checkpoints: [[a.safetensors, b.safetensors]]   # and/or checkpoint pairs
///   curves: [bezier, chain]
///   points: 61
///   seed: 0                                  # t draws and data order of curve training
///   batch_norm: {batch_size: 128, samples: 2000}
/// ```
///
/// Tasks: one `mode_run` per distinct seed; per pair a `path` along the line (needs both end
/// points) and per curve a `bend` (needs both end points) and its `path` (needs the bend too).
public struct ConnectivitySpec: NetworkSweepKind {
    public static let name = "connectivity"
    public static let sections = ["model", "data", "loss", "training", "curve_training", "connectivity"]

    /// The network, its data, loss and data seed.
    public var network: NetworkSpec
    /// How end points train (required with `pairs`).
    public var training: RunTraining?
    /// How a curve's bend trains.
    public var curveTraining: RunTraining
    /// Seed pairs.
    public var pairs: [[UInt64]]
    /// Checkpoint pairs, absolute paths.
    public var checkpoints: [[String]]
    /// Curve shapes (`bezier`, `chain`).
    public var curves: [PathShape]
    /// Points per path.
    public var points: Int
    /// Seed of curve training.
    public var seed: UInt64
    /// BatchNorm re-estimation at each t.
    public var batchNorm: PathBatchNorm
    /// SHA-256 (hex) of the data file.
    public var dataSHA256: String

    static let sectionKeys = ["pairs", "checkpoints", "curves", "points", "seed", "batch_norm"]

    public static func parse(_ root: Node, source: String, baseDirectory: String) throws -> ConnectivitySpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        for k in ["model", "data", "curve_training", "connectivity"] where root[k] == nil {
            throw fail("missing section '\(k):' for kind: connectivity")
        }
        let network = try NetworkSpec.parse(root, kind: name, source: source, baseDirectory: baseDirectory)
        let c = root["connectivity"]!
        try SpecYAML.checkKeys(c, allowed: sectionKeys, section: "connectivity", source: source)
        var pairs = [[UInt64]]()
        if let n = c["pairs"] {
            guard let items = n.sequence, !items.isEmpty else { throw fail("connectivity.pairs: expected a list of seed pairs, e.g. [[0, 1], [2, 3]]") }
            for item in items {
                let seeds = (item.sequence ?? []).compactMap { $0.int.flatMap { $0 >= 0 ? UInt64($0) : nil } }
                guard seeds.count == 2, item.sequence?.count == 2, seeds[0] != seeds[1] else {
                    throw fail("connectivity.pairs: each entry is two distinct non-negative seeds, e.g. [0, 1]")
                }
                pairs.append(seeds)
            }
        }
        var checkpoints = [[String]]()
        if let n = c["checkpoints"] {
            guard let items = n.sequence, !items.isEmpty else { throw fail("connectivity.checkpoints: expected a list of checkpoint pairs, e.g. [[a.safetensors, b.safetensors]]") }
            for item in items {
                let files = (item.sequence ?? []).compactMap(\.string)
                guard files.count == 2, item.sequence?.count == 2 else {
                    throw fail("connectivity.checkpoints: each entry is two checkpoint files, e.g. [a.safetensors, b.safetensors]")
                }
                checkpoints.append(files.map { SpecPaths.absolute($0, in: baseDirectory) })
            }
        }
        guard !pairs.isEmpty || !checkpoints.isEmpty else { throw fail("connectivity: give pairs (seed pairs) and/or checkpoints (file pairs)") }
        var training: RunTraining? = nil
        if let t = root["training"] { training = try RunTraining.parse(t, section: "training", source: source) }
        if !pairs.isEmpty && training == nil { throw fail("missing section 'training:': connectivity.pairs trains the end points from their seeds") }
        if pairs.isEmpty && training != nil { throw fail("training: applies to end points trained from seeds (connectivity.pairs); the checkpoints are trained already") }
        let curveTraining = try RunTraining.parse(root["curve_training"]!, section: "curve_training", source: source)
        if curveTraining.optimizer.samRho != nil { throw fail("curve_training.optimizer.sam_rho: curve training does not use SAM") }
        var curves: [PathShape] = [.bezier, .chain]
        if let n = c["curves"] {
            let items = n.sequence ?? [n]
            let shapes = items.compactMap { $0.string.flatMap(PathShape.init).flatMap { $0.hasBend ? $0 : nil } }
            guard !shapes.isEmpty, shapes.count == items.count, Set(shapes).count == shapes.count else {
                throw fail("connectivity.curves: expected a list of bezier, chain (the line is always evaluated)")
            }
            curves = shapes
        }
        let points = try PathBatchNorm.points(c["points"], section: "connectivity", source: source)
        var seed: UInt64 = 0
        if let n = c["seed"] {
            guard let v = n.int, v >= 0 else { throw fail("connectivity.seed: expected a non-negative integer") }
            seed = UInt64(v)
        }
        let batchNorm = try PathBatchNorm.parse(c["batch_norm"], section: "connectivity", source: source)
        let perPair = 1 + 2 * curves.count
        try SweepLimits.checkTasks(SweepLimits.product([pairs.count + checkpoints.count, perPair]).flatMap { SweepLimits.sum($0, 2 * pairs.count) },
                                   field: "connectivity", how: "\(pairs.count + checkpoints.count) pairs × \(perPair) tasks", source: source)
        let sectionsTrained: [(String, RunTraining?)] = [("training", training), ("curve_training", curveTraining)]
        for (section, t) in sectionsTrained where t?.validationSamples != nil {
            throw fail("\(section).validation_samples: does not apply to kind: connectivity (paths are evaluated on the training and test sets)")
        }
        let checked = try network.check(source: source)
        if let training { _ = try training.checkRun(samples: checked.trainingSamples, batchSize: training.batchSize, section: "training", source: source) }
        _ = try curveTraining.checkRun(samples: checked.trainingSamples, batchSize: curveTraining.batchSize, section: "curve_training", source: source)
        let spec = ConnectivitySpec(network: network, training: training, curveTraining: curveTraining, pairs: pairs, checkpoints: checkpoints,
                                    curves: curves, points: points, seed: seed, batchNorm: batchNorm, dataSHA256: checked.sha256)
        for (i, pair) in checkpoints.enumerated() { for (j, file) in pair.enumerated() { _ = try spec.checkpointInput(file, field: "connectivity.checkpoints[\(i)][\(j)]", source: source) } }
        return spec
    }

    /// The files the results depend on: the data and the checkpoints.
    public var referencedFiles: [String] { network.dataFiles + checkpoints.flatMap { $0 } }

    /// Reads a checkpoint and checks that it fits the model (every name and shape).
    func checkpointInput(_ path: String, field: String, source: String) throws -> [UInt8] {
        do {
            let bytes = try SafeTensors.readBytes(path)
            let (train, _) = try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self)
            let m: Model<Float> = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
            try Checkpoint.apply(try SafeTensors.decode(bytes, source: path).tensors, source: path, to: m)
            return bytes
        } catch let e as TerrainError {
            throw SpecError(file: source, message: "\(field): \(e.description)")
        }
    }

    public func expand(source: String) throws -> [ExpandedTask] {
        var tasks = [ExpandedTask]()
        let base = network.params(dataSHA256: dataSHA256)
        var endpoint = [UInt64: UInt64]()
        if let training {
            for seed in pairs.flatMap({ $0 }) where endpoint[seed] == nil {
                let id = UInt64(tasks.count + 1)
                let run = ModeRunKind.Run(training: training, seed: seed, dataOrder: TerrainRNG.derive(seed, "data"), role: "endpoint",
                                          parent: nil, branchStep: 0, captureSteps: [])
                tasks.append(ExpandedTask(id: id, kind: ModeRunKind.name, params: try ModeRunKind.encode(Networked(base, run))))
                endpoint[seed] = id
            }
        }
        typealias End = (source: PathSource, deps: [UInt64], inputs: [StaticInput], label: String, seeds: (UInt64?, UInt64?))
        var ends = [End]()
        for pair in pairs {
            let a = endpoint[pair[0]]!, b = endpoint[pair[1]]!
            ends.append((PathSource(task: a, name: "weights"), [a, b], [], "seeds \(pair[0])-\(pair[1])", (pair[0], pair[1])))
        }
        var bSources = pairs.map { PathSource(task: endpoint[$0[1]]!, name: "weights") }
        for (i, pair) in checkpoints.enumerated() {
            let inputs = [StaticInput(name: "a\(i)", data: try checkpointInput(pair[0], field: "connectivity.checkpoints[\(i)][0]", source: source)),
                          StaticInput(name: "b\(i)", data: try checkpointInput(pair[1], field: "connectivity.checkpoints[\(i)][1]", source: source))]
            ends.append((PathSource(task: 0, name: "a\(i)"), [], inputs, "checkpoints \(i)", (nil, nil)))
            bSources.append(PathSource(task: 0, name: "b\(i)"))
        }
        for (end, b) in zip(ends, bSources) {
            func path(_ shape: PathShape, bend: PathSource?, deps: [UInt64]) throws -> ExpandedTask {
                let p = PathKind.Path(shape: shape, points: points, a: end.source, b: b, bend: bend, pair: end.label, seed: end.seeds.0,
                                      seedB: end.seeds.1, branchStep: nil, batchNormBatch: batchNorm.batchSize,
                                      batchNormSamples: batchNorm.samples, evalSamples: curveTraining.evalSamples)
                return ExpandedTask(id: UInt64(tasks.count + 1), kind: PathKind.name, dependencies: deps,
                                    params: try PathKind.encode(Networked(base, p)), inputs: end.inputs)
            }
            tasks.append(try path(.line, bend: nil, deps: end.deps))
            for shape in curves {
                let bendID = UInt64(tasks.count + 1)
                let bend = BendKind.Bend(training: curveTraining, shape: shape, seed: TerrainRNG.derive(seed, "\(end.label) \(shape.rawValue)"),
                                         a: end.source, b: b)
                tasks.append(ExpandedTask(id: bendID, kind: BendKind.name, dependencies: end.deps,
                                          params: try BendKind.encode(Networked(base, bend)), inputs: end.inputs))
                tasks.append(try path(shape, bend: PathSource(task: bendID, name: "bend"), deps: end.deps + [bendID]))
            }
        }
        return tasks
    }
}

extension SweepSpec {
    /// The mode-connectivity sweep, for `kind: connectivity`.
    public var connectivity: ConnectivitySpec? { family as? ConnectivitySpec }
}
