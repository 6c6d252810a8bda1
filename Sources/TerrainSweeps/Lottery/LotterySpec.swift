import Foundation
import TerrainCore
import Yams

/// Lottery-ticket rounds (`kind: lottery`): iterative magnitude pruning with rewinding
/// (Frankle & Carbin 2019; Frankle et al. 2020), following open_lth's conventions, with the
/// `random_reinit` and `random_prune` controls at every level.
///
/// ```yaml
/// kind: lottery
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// training:
///   optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
///   batch_size: 128
///   epochs: 20
///   eval_every: 100
/// lottery:
///   levels: 8            # pruning levels after the dense level 0
///   fraction: 0.2        # of the remaining weights, per level
///   scope: global        # or layerwise
///   prune_output: true   # whether the output layer's weight is prunable
///   output_rate: 0.5     # layerwise: the output layer is pruned at fraction × output_rate
///   rewind_step: 0       # 0 = original initialization (Frankle & Carbin); k > 0 = rewinding
///   seeds: [0, 1]
///   controls: [random_reinit, random_prune]
/// ```
///
/// Tasks: per seed, level 0 (`main`, dense) and for each level L ≥ 1 a `main` task that
/// needs main L−1's trained weights and mask and level 0's rewind point; `random_reinit` L
/// needs main L−1 (it uses the mask main L computes from it, with a fresh initialization);
/// `random_prune` L needs main L−1 (for the per-layer counts), random_prune L−1 (its mask,
/// within which it prunes at random, so the random masks nest) and level 0 (the rewind point).
public struct LotterySpec: NetworkSweepKind {
    public static let name = "lottery"
    public static let sections = ["model", "data", "loss", "training", "lottery", "curvature"]

    /// The network, its data, loss and data seed.
    public var network: NetworkSpec
    /// How every level trains.
    public var training: RunTraining
    /// Pruning levels after the dense one.
    public var levels: Int
    /// How a level prunes.
    public var plan: Pruning.Plan
    /// The step survivors are rewound to.
    public var rewindStep: Int
    /// Replicate seeds.
    public var seeds: [UInt64]
    /// Control branches run beside the main chain.
    public var controls: [Branch]
    /// λmax measurement.
    public var curvature: RunCurvature?
    /// SHA-256 (hex) of the data file, checked by every task on its worker.
    public var dataSHA256: String

    /// A chain of levels.
    public enum Branch: String, Codable, Sendable, CaseIterable {
        /// Magnitude pruning, survivors rewound.
        case main
        /// The main chain's mask, a fresh random initialization.
        case randomReinit = "random_reinit"
        /// A random mask with the main chain's per-layer counts, rewound weights.
        case randomPrune = "random_prune"
    }

    static let sectionKeys = ["levels", "fraction", "scope", "prune_output", "output_rate", "rewind_step", "seeds", "controls"]

    public static func parse(_ root: Node, source: String, baseDirectory: String) throws -> LotterySpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        for k in ["model", "data", "training", "lottery"] where root[k] == nil { throw fail("missing section '\(k):' for kind: lottery") }
        let network = try NetworkSpec.parse(root, kind: name, source: source, baseDirectory: baseDirectory)
        let training = try RunTraining.parse(root["training"]!, section: "training", source: source)
        if training.swa != nil { throw fail("training.swa: stochastic weight averaging is an option of kind: training sweeps, not of lottery levels") }
        let l = root["lottery"]!
        try SpecYAML.checkKeys(l, allowed: sectionKeys, section: "lottery", source: source)
        guard let levelsNode = l["levels"] else {
            throw fail("lottery.levels: required, the number of pruning levels after the dense one (1…60)")
        }
        guard let levels = levelsNode.int, levels >= 1, levels <= 60 else {
            throw fail("lottery.levels: expected an integer from 1 to 60 (pruning levels after the dense one), got \(levelsNode.string ?? "?")")
        }
        var plan = Pruning.Plan()
        if let f = l["fraction"] {
            guard let v = f.float, v > 0, v < 1 else { throw fail("lottery.fraction: expected a fraction in (0, 1), e.g. 0.2") }
            plan.fraction = v
        }
        if let s = l["scope"] {
            guard let v = s.string.flatMap(Pruning.Scope.init) else {
                throw fail("lottery.scope: expected one of \(Pruning.Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            plan.scope = v
        }
        if let p = l["prune_output"] {
            guard let v = p.bool else { throw fail("lottery.prune_output: expected true or false") }
            plan.pruneOutputLayer = v
        }
        if let r = l["output_rate"] {
            guard let v = r.float, v > 0, v <= 1 else { throw fail("lottery.output_rate: expected a factor in (0, 1], e.g. 0.5") }
            guard plan.scope == .layerwise else { throw fail("lottery.output_rate: applies to scope: layerwise only") }
            guard plan.pruneOutputLayer else { throw fail("lottery.output_rate: the output layer is not pruned (prune_output: false)") }
            plan.outputRateFactor = v
        }
        var rewind = 0
        if let r = l["rewind_step"] {
            guard let v = r.int, v >= 0 else { throw fail("lottery.rewind_step: expected a non-negative step") }
            rewind = v
        }
        var seeds: [UInt64] = [0]
        if let s = l["seeds"] {
            guard s.sequence != nil else { throw fail("lottery.seeds: expected a list of seeds, e.g. [0, 1, 2] (a single number is ambiguous)") }
            let items = s.sequence ?? [s]
            let values = items.compactMap { $0.int.flatMap { $0 >= 0 ? UInt64($0) : nil } }
            guard !values.isEmpty, values.count == items.count, Set(values).count == values.count else {
                throw fail("lottery.seeds: expected a list of distinct non-negative integers")
            }
            seeds = values
        }
        var controls = [Branch]()
        if let c = l["controls"] {
            let items = c.sequence ?? [c]
            for item in items {
                guard let v = item.string.flatMap(Branch.init), v != .main else {
                    throw fail("lottery.controls: expected a list of random_reinit, random_prune")
                }
                if !controls.contains(v) { controls.append(v) }
            }
        }
        // Levels × seeds × branches (the dense level has no controls), before anything is expanded.
        let perSeed = SweepLimits.product([levels, 1 + controls.count]).flatMap { SweepLimits.sum($0, 1) }
        try SweepLimits.checkTasks(perSeed.flatMap { SweepLimits.product([$0, seeds.count]) }, field: "lottery",
                                   how: "\(levels + 1) levels × \(seeds.count) seeds × \(1 + controls.count) branches", source: source)
        var curvature: RunCurvature? = nil
        if let c = root["curvature"] { curvature = try RunCurvature.parse(c, source: source) }
        let checked = try network.check(validationSamples: training.validationSamples, source: source)
        let spec = LotterySpec(network: network, training: training, levels: levels, plan: plan, rewindStep: rewind,
                               seeds: seeds, controls: controls, curvature: curvature, dataSHA256: checked.sha256)
        let steps = try training.checkRun(samples: checked.trainingSamples, batchSize: training.batchSize, section: "training", source: source)
        guard rewind < steps else {
            throw fail("lottery.rewind_step: \(rewind) is not before the end of training (\(steps) steps)")
        }
        return spec
    }

    /// The tasks: for each level (slowest), each seed, the main chain then the controls.
    public func expand(source: String) throws -> [ExpandedTask] {
        var tasks = [ExpandedTask]()
        var ids = [String: UInt64]()
        func key(_ seed: UInt64, _ branch: Branch, _ level: Int) -> String { "\(seed)/\(branch.rawValue)/\(level)" }
        let base = network.params(dataSHA256: dataSHA256)
        for level in 0...levels {
            for seed in seeds {
                for branch in [Branch.main] + (level == 0 ? [] : controls) {
                    let id = UInt64(tasks.count + 1)
                    let previousMain = level > 0 ? ids[key(seed, .main, level - 1)] : nil
                    let previousBranch = branch == .randomPrune && level > 1 ? ids[key(seed, branch, level - 1)] : nil
                    let dense = level > 0 && branch != .randomReinit ? ids[key(seed, .main, 0)] : nil
                    var deps = [UInt64]()
                    for d in [previousMain, previousBranch, dense].compactMap({ $0 }) where !deps.contains(d) { deps.append(d) }
                    let p = LotteryKind.Level(training: training, seed: seed, branch: branch, level: level, plan: plan, rewindStep: rewindStep,
                                              previousMain: previousMain, previousBranch: previousBranch, dense: dense, curvature: curvature)
                    tasks.append(ExpandedTask(id: id, kind: LotteryKind.name, dependencies: deps, params: try LotteryKind.encode(Networked(base, p))))
                    ids[key(seed, branch, level)] = id
                }
            }
        }
        return tasks
    }
}

extension SweepSpec {
    /// The lottery-ticket rounds, for `kind: lottery`.
    public var lottery: LotterySpec? { family as? LotterySpec }
}
