import Foundation
import TerrainCore
import Yams

/// Linear mode connectivity and instability (`kind: instability`; Frankle et al. 2020,
/// open_lth's branch experiment): from one initialization, train a parent run and keep its
/// state at every branch step k; from each, train two children to the end with different data
/// orders; evaluate the straight line between the two children at evenly spaced t. The
/// barrier between them (`paths.test_error_barrier`, …) against k says when training becomes
/// stable to SGD noise.
///
/// ```yaml
/// kind: instability
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// training:
///   optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
///   batch_size: 128
///   epochs: 30
/// instability:
///   branch_steps: [0, 32, 128, 480]   # k: steps of the parent the children start from
///   seeds: [0, 1]
///   points: 31
///   batch_norm: {batch_size: 128, samples: 2000}
/// ```
///
/// Tasks: per seed a `mode_run` parent (keeping `at_<k>` for every k); per seed and k two
/// `mode_run` children (needing the parent) and a `path` along the line between them
/// (needing both children).
public struct InstabilitySpec: NetworkSweepKind {
    public static let name = "instability"
    public static let sections = ["model", "data", "loss", "training", "instability"]

    /// The network, its data, loss and data seed.
    public var network: NetworkSpec
    /// How the parent and the children train (the children from step k to the end).
    public var training: RunTraining
    /// Branch steps k, increasing.
    public var branchSteps: [Int]
    /// Replicate seeds.
    public var seeds: [UInt64]
    /// Points on each line.
    public var points: Int
    /// BatchNorm re-estimation at each t.
    public var batchNorm: PathBatchNorm
    /// SHA-256 (hex) of the data file.
    public var dataSHA256: String
    /// Lottery subnetworks: the pruning level whose mask the children train under, and how
    /// the chain prunes (`instability.lottery`); nil for dense networks only.
    public var lotteryLevel: Int? = nil
    public var lotteryPlan = Pruning.Plan()

    static let sectionKeys = ["branch_steps", "seeds", "points", "batch_norm", "lottery"]

    public static func parse(_ root: Node, source: String, baseDirectory: String) throws -> InstabilitySpec {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        for k in ["model", "data", "training", "instability"] where root[k] == nil { throw fail("missing section '\(k):' for kind: instability") }
        let network = try NetworkSpec.parse(root, kind: name, source: source, baseDirectory: baseDirectory)
        let training = try RunTraining.parse(root["training"]!, section: "training", source: source)
        if training.validationSamples != nil {
            throw fail("training.validation_samples: does not apply to kind: instability (lines are evaluated on the training and test sets)")
        }
        let s = root["instability"]!
        try SpecYAML.checkKeys(s, allowed: sectionKeys, section: "instability", source: source)
        guard let kNode = s["branch_steps"], let items = kNode.sequence, !items.isEmpty else {
            throw fail("instability.branch_steps: required, a list of steps k to branch at, e.g. [0, 32, 128]")
        }
        let ks = items.compactMap { $0.int.flatMap { $0 >= 0 ? $0 : nil } }
        guard ks.count == items.count, Set(ks).count == ks.count, ks.count <= 64 else {
            throw fail("instability.branch_steps: expected up to 64 distinct non-negative steps")
        }
        var seeds: [UInt64] = [0]
        if let n = s["seeds"] {
            guard let list = n.sequence else { throw fail("instability.seeds: expected a list of seeds, e.g. [0, 1]") }
            let values = list.compactMap { $0.int.flatMap { $0 >= 0 ? UInt64($0) : nil } }
            guard !values.isEmpty, values.count == list.count, Set(values).count == values.count else {
                throw fail("instability.seeds: expected a list of distinct non-negative integers")
            }
            seeds = values
        }
        let points = try PathBatchNorm.points(s["points"], section: "instability", source: source, default: 31)
        var level: Int? = nil
        var plan = Pruning.Plan()
        if let l = s["lottery"] {
            try SpecYAML.checkKeys(l, allowed: ["level", "fraction", "scope", "prune_output"], section: "instability.lottery", source: source)
            guard let v = l["level"]?.int, (1...60).contains(v) else { throw fail("instability.lottery.level: required, the pruning level (1…60) whose subnetworks are tested") }
            level = v
            if let f = l["fraction"] {
                guard let v = f.float, v > 0, v < 1 else { throw fail("instability.lottery.fraction: expected a fraction in (0, 1), e.g. 0.2") }
                plan.fraction = v
            }
            if let sc = l["scope"] {
                guard let v = sc.string.flatMap(Pruning.Scope.init) else { throw fail("instability.lottery.scope: expected global or layerwise") }
                plan.scope = v
            }
            if let o = l["prune_output"] {
                guard let v = o.bool else { throw fail("instability.lottery.prune_output: expected true or false") }
                plan.pruneOutputLayer = v
            }
        }
        let batchNorm = try PathBatchNorm.parse(s["batch_norm"], section: "instability", source: source)
        try SweepLimits.checkTasks(SweepLimits.product([seeds.count, 1 + (3 + (level.map { $0 + 4 } ?? 0)) * ks.count]), field: "instability",
                                   how: "\(seeds.count) seeds × (1 + 3 × \(ks.count) branch steps)", source: source)
        let checked = try network.check(source: source)
        let steps = try training.checkRun(samples: checked.trainingSamples, batchSize: training.batchSize, section: "training", source: source)
        if let late = ks.first(where: { $0 >= steps }) {
            throw fail("instability.branch_steps: \(late) is not before the end of training (\(steps) steps)")
        }
        return InstabilitySpec(network: network, training: training, branchSteps: ks.sorted(), seeds: seeds, points: points,
                               batchNorm: batchNorm, dataSHA256: checked.sha256, lotteryLevel: level, lotteryPlan: plan)
    }

    public func expand(source: String) throws -> [ExpandedTask] {
        var tasks = [ExpandedTask]()
        let base = network.params(dataSHA256: dataSHA256)
        func add(_ kind: String, _ params: [UInt8], _ deps: [UInt64]) -> UInt64 {
            let id = UInt64(tasks.count + 1)
            tasks.append(ExpandedTask(id: id, kind: kind, dependencies: deps, params: params))
            return id
        }
        var parents = [UInt64: UInt64]()
        for seed in seeds {
            let run = ModeRunKind.Run(training: training, seed: seed, dataOrder: TerrainRNG.derive(seed, "data"), role: "parent",
                                      parent: nil, branchStep: 0, captureSteps: branchSteps)
            parents[seed] = add(ModeRunKind.name, try ModeRunKind.encode(Networked(base, run)), [])
        }
        for seed in seeds {
            for k in branchSteps {
                let children = try (0..<2).map { i in
                    let run = ModeRunKind.Run(training: training, seed: seed, dataOrder: TerrainRNG.derive(seed, "child\(i)"), role: "child\(i)",
                                              parent: parents[seed]!, branchStep: k, captureSteps: [])
                    return add(ModeRunKind.name, try ModeRunKind.encode(Networked(base, run)), [parents[seed]!])
                }
                let p = PathKind.Path(shape: .line, points: points, a: PathSource(task: children[0], name: "weights"),
                                      b: PathSource(task: children[1], name: "weights"), bend: nil, pair: "seed \(seed), k \(k)",
                                      seed: seed, seedB: nil, branchStep: k, batchNormBatch: batchNorm.batchSize,
                                      batchNormSamples: batchNorm.samples, evalSamples: training.evalSamples)
                _ = add(PathKind.name, try PathKind.encode(Networked(base, p)), children)
            }
        }
        if let level = lotteryLevel {
            for seed in seeds {
                for k in branchSteps { try addSubnetwork(seed: seed, k: k, level: level, base: base, add: add) }
            }
        }
        return tasks
    }
}

extension InstabilitySpec {
    /// The lottery subnetwork of `seed` at `level`, rewound to step k: the main chain of levels
    /// 0…level with `rewind_step: k` (`lottery` tasks, open_lth's IMP with rewinding), then two
    /// children from level 0's `rewind` point under level `level`'s mask, and the line between them.
    func addSubnetwork(seed: UInt64, k: Int, level: Int, base: NetworkParams, add: (String, [UInt8], [UInt64]) -> UInt64) throws {
        var previous: UInt64? = nil, dense: UInt64? = nil
        for l in 0...level {
            let p = LotteryKind.Level(training: training, seed: seed, branch: .main, level: l, plan: lotteryPlan, rewindStep: k,
                                      previousMain: previous, previousBranch: nil, dense: dense, curvature: nil)
            let id = add(LotteryKind.name, try LotteryKind.encode(Networked(base, p)), [previous, dense].compactMap { $0 }.reduce(into: [UInt64]()) {
                if !$0.contains($1) { $0.append($1) }
            })
            if l == 0 { dense = id }
            previous = id
        }
        let children = try (0..<2).map { i in
            var run = ModeRunKind.Run(training: training, seed: seed, dataOrder: TerrainRNG.derive(seed, "child\(i)"), role: "child\(i)",
                                      parent: dense!, branchStep: k, captureSteps: [])
            run.start = PathSource(task: dense!, name: "rewind")
            run.mask = PathSource(task: previous!, name: "mask")
            return add(ModeRunKind.name, try ModeRunKind.encode(Networked(base, run)), [dense!, previous!])
        }
        var p = PathKind.Path(shape: .line, points: points, a: PathSource(task: children[0], name: "weights"),
                              b: PathSource(task: children[1], name: "weights"), bend: nil, pair: "seed \(seed), k \(k), level \(level)",
                              seed: seed, seedB: nil, branchStep: k, batchNormBatch: batchNorm.batchSize,
                              batchNormSamples: batchNorm.samples, evalSamples: training.evalSamples)
        p.level = level
        _ = add(PathKind.name, try PathKind.encode(Networked(base, p)), children)
    }
}

extension SweepSpec {
    /// The instability sweep, for `kind: instability`.
    public var instability: InstabilitySpec? { family as? InstabilitySpec }
}
