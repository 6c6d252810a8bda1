import Foundation
import TerrainCore
import Yams

/// A batch-size / learning-rate sweep (`kind: training`): a grid of full training runs, one
/// `run` task each, recording curves, final metrics, the generalization gap, λmax and
/// steps-to-target (Keskar et al. 2017; Goyal et al. 2017; Shallue et al. 2019).
///
/// ```yaml
/// kind: training
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// training:
///   optimizer: {name: sgd, momentum: 0.9}
///   schedule: {kind: cosine, warmup_steps: 20, scaling: linear, reference_batch_size: 128}
///   epochs: 10
///   eval_every: 50
///   checkpoint_every: 2
///   target_accuracy: 0.6
/// grid:
///   batch_size: [32, 128, 512]
///   lr: [0.01, 0.1, 1.0]
///   seeds: [0, 1]
///   optimizer: [sgd, sam]        # optional; sam = the base optimizer wrapped in SAM
///   momentum: [0.0, 0.9]         # optional
///   weight_decay: [0, 0.0005]    # optional
///   width: [0.25, 0.5, 1, 2]     # optional: model.width multipliers (every family), or
///   hidden: [[8], [16], [32]]    #   optional, mlp only: hidden widths (not with width)
///   label_noise: [0, 0.1, 0.2]   # optional: data.label_noise fractions
/// curvature: {lambda_max: true, every_epochs: 1, samples: 1000, iterations: 20}
/// ```
public struct TrainingGridSpec: NetworkSweepKind {
    public static let name = "training"
    public static let sections = ["model", "data", "loss", "training", "grid", "curvature"]

    /// The network, its data, loss and data seed.
    public var network: NetworkSpec
    /// The base training section; the grid overrides its batch size, rate and options.
    public var training: RunTraining
    /// Batch sizes.
    public var batchSizes: [Int]
    /// Base learning rates (at the schedule's reference batch size).
    public var learningRates: [Double]
    /// Replicate seeds.
    public var seeds: [UInt64]
    /// Optimizer variants: `sgd`, `adam`, `adamw`, or `sam` (the base optimizer with SAM).
    public var optimizers: [String]
    /// SGD momenta (nil: the base optimizer's).
    public var momenta: [Double]?
    /// Weight decays (nil: the base optimizer's).
    public var weightDecays: [Double]?
    /// SAM's ρ for `sam` entries.
    public var samRho: Double
    /// λmax measurement.
    public var curvature: RunCurvature?
    /// Double descent: the model variants (width multipliers or MLP hidden widths) and
    /// label-noise fractions of the grid (``DoubleDescentAxes``); empty = the spec's own.
    public var axes = DoubleDescentAxes()
    /// SHA-256 (hex) of the data file, checked by every task on its worker.
    public var dataSHA256: String

    static let gridKeys = ["batch_size", "lr", "seeds", "optimizer", "momentum", "weight_decay", "sam_rho"] + DoubleDescentAxes.keys

    public static func parse(_ root: Node, source: String, baseDirectory: String) throws -> TrainingGridSpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        for k in ["model", "data", "training", "grid"] where root[k] == nil { throw fail("missing section '\(k):' for kind: training") }
        let network = try NetworkSpec.parse(root, kind: name, source: source, baseDirectory: baseDirectory)
        let g = root["grid"]!
        try SpecYAML.checkKeys(g, allowed: gridKeys, section: "grid", source: source)
        var supplied = Set<String>()
        if g["batch_size"] != nil { supplied.insert("batch_size") }
        if g["lr"] != nil { supplied.insert("lr") }
        if g["optimizer"] != nil { supplied.insert("optimizer") }
        let training = try RunTraining.parse(root["training"]!, section: "training", source: source, gridSupplies: supplied)
        if let n = g["seeds"], n.sequence == nil {
            throw fail("grid.seeds: expected a list of seeds, e.g. [0, 1, 2] (a single number is ambiguous)")
        }
        func list<T>(_ key: String, _ convert: (Node) -> T?, what: String) throws -> [T]? {
            guard let n = g[key] else { return nil }
            let items = n.sequence ?? [n]
            guard !items.isEmpty else { throw fail("grid.\(key): expected a non-empty list of \(what)") }
            var values = [T]()
            for item in items {
                guard let v = convert(item) else {
                    throw fail("grid.\(key): '\(item.string ?? "\(item)")' is not one of the \(what) the list must hold")
                }
                values.append(v)
            }
            return values
        }
        let batches = try list("batch_size", { $0.int.flatMap { $0 > 0 && $0 <= SweepLimits.batchSize ? $0 : nil } },
                               what: "positive integers up to \(SweepLimits.batchSize)") ?? [training.batchSize]
        let rates = try list("lr", { $0.float.flatMap { $0 > 0 && $0.isFinite ? $0 : nil } }, what: "positive learning rates") ?? [training.optimizer.lr]
        let seeds = try list("seeds", { $0.int.flatMap { $0 >= 0 ? UInt64($0) : nil } }, what: "non-negative integer seeds") ?? [0]
        let optimizers = try list("optimizer", { n in n.string.flatMap { ["sgd", "adam", "adamw", "sam"].contains($0) ? $0 : nil } },
                                  what: "optimizer names (sgd, adam, adamw, sam)") ?? [training.optimizer.samRho == nil ? training.optimizer.name.rawValue : "sam"]
        let momenta = try list("momentum", { $0.float.flatMap { $0 >= 0 && $0 < 1 ? $0 : nil } }, what: "momenta in [0, 1)")
        let decays = try list("weight_decay", { $0.float.flatMap { $0 >= 0 ? $0 : nil } }, what: "non-negative weight decays")
        var rho = training.optimizer.samRho ?? 0.05
        if let r = g["sam_rho"] {
            guard let v = r.float, v > 0 else { throw fail("grid.sam_rho: expected a positive radius") }
            rho = v
        }
        for (key, values) in [("batch_size", batches.map(String.init)), ("lr", rates.map { "\($0)" }), ("seeds", seeds.map(String.init)),
                              ("optimizer", optimizers), ("momentum", (momenta ?? []).map { "\($0)" }),
                              ("weight_decay", (decays ?? []).map { "\($0)" })] where Set(values).count != values.count {
            throw fail("grid.\(key): lists a value twice")
        }
        let axes = try DoubleDescentAxes.parse(g, model: network.model, source: source)
        if axes.labelNoise != nil, network.data.targets != "classes" { throw fail("grid.label_noise needs class labels (data.targets: classes)") }
        // The grid's size before anything is enumerated (each list is as long as the YAML).
        var sizes = [batches.count, rates.count, seeds.count, optimizers.count, momenta?.count ?? 1, decays?.count ?? 1]
        if axes != DoubleDescentAxes() { sizes += [axes.models.count, axes.labelNoise?.count ?? 1] }
        try SweepLimits.checkTasks(SweepLimits.product(sizes), field: "grid",
                                   how: "the lists (\(sizes.map(String.init).joined(separator: " × ")))", source: source)
        var curvature: RunCurvature? = nil
        if let c = root["curvature"] { curvature = try RunCurvature.parse(c, source: source) }
        let checked = try network.check(validationSamples: training.validationSamples, source: source)
        let spec = TrainingGridSpec(network: network, training: training, batchSizes: batches, learningRates: rates,
                                    seeds: seeds, optimizers: optimizers, momenta: momenta, weightDecays: decays, samRho: rho,
                                    curvature: curvature, axes: axes, dataSHA256: checked.sha256)
        for b in batches {
            _ = try training.checkRun(samples: checked.trainingSamples, batchSize: b, section: "training", source: source)
        }
        // Every combination must be a valid optimizer (e.g. momentum with Adam is not).
        for p in spec.combinations() {
            do { try p.training.optimizer.validate() } catch let e as TerrainError {
                throw fail("grid: the combination batch_size \(p.training.batchSize), lr \(p.training.optimizer.lr), optimizer \(p.optimizerLabel): \(e.description)")
            }
        }
        return spec
    }

    /// Every run of the grid, label noise slowest, then model width, batch size, lr,
    /// optimizer, momentum, weight decay, seed (fastest).
    func combinations() -> [RunKind.Params] {
        var out = [RunKind.Params]()
        for base in axes.networks(network.params(dataSHA256: dataSHA256)) {
            out += combinations(base, capacity: axes == DoubleDescentAxes() ? nil : true)
        }
        return out
    }

    /// The runs of one network variant, batch size slowest, seed fastest.
    private func combinations(_ base: NetworkParams, capacity: Bool?) -> [RunKind.Params] {
        var out = [RunKind.Params]()
        for b in batchSizes {
            for lr in learningRates {
                for name in optimizers {
                    for m in momenta ?? [training.optimizer.momentum] {
                        for wd in weightDecays ?? [training.optimizer.weightDecay] {
                            for seed in seeds {
                                var t = training
                                t.batchSize = b
                                t.optimizer.lr = lr
                                t.optimizer.momentum = m
                                t.optimizer.weightDecay = wd
                                var label = name
                                if name == "sam" {
                                    t.optimizer.samRho = samRho
                                    label = t.optimizer.name.rawValue + "+sam"
                                } else {
                                    t.optimizer.name = OptimizerSpec.Name(rawValue: name)!
                                    t.optimizer.samRho = nil
                                    // Adam has no momentum option: the base SGD's momentum does not carry
                                    // over (a momentum listed in the grid does, and is refused).
                                    if t.optimizer.name != .sgd && momenta == nil {
                                        t.optimizer.momentum = 0
                                        t.optimizer.nesterov = false
                                    }
                                }
                                out.append(Networked(base, RunKind.Run(training: t, seed: seed, optimizerLabel: label, curvature: curvature,
                                                                       capacity: capacity)))
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// One `run` task per grid point (the data and model were checked when the spec was read).
    public func expand(source: String) throws -> [ExpandedTask] {
        try combinations().enumerated().map { i, p in
            ExpandedTask(id: UInt64(i + 1), kind: RunKind.name, params: try RunKind.encode(p))
        }
    }
}

extension SweepSpec {
    /// The grid of training runs, for `kind: training`.
    public var trainingGrid: TrainingGridSpec? { family as? TrainingGridSpec }
}
