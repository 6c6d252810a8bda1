import Foundation

// What the run figures show, computed apart from drawing: checks of the inputs, means and
// spreads over seeds, and the edge-of-stability thresholds of a batch-size sweep.

/// A (batch size, learning rate) cell key; the learning rate by bit pattern.
struct GridKey: Hashable {
    var batchSize: Int
    var learningRateBits: UInt64
    init(_ batchSize: Int, _ learningRate: Double) {
        self.batchSize = batchSize
        self.learningRateBits = learningRate.bitPattern
    }
}

/// Runs of one (batch size, learning rate): counts and the mean of the metric.
struct GridCell {
    var runs = 0
    var diverged = 0
    /// Runs that contributed a value to `mean`.
    var values = 0
    var sum = 0.0
    var mean: Double? { values > 0 ? sum / Double(values) : nil }
    var allDiverged: Bool { runs > 0 && diverged == runs }
}

/// Runs grouped by (batch size, learning rate), summed in seed order, with the
/// edge-of-stability threshold of each cell.
struct GridSummary {
    var batchSizes: [Int]
    var learningRates: [Double]
    var cells: [GridKey: GridCell] = [:]
    /// (2 + 2β)/η per cell, η the rate actually used (batch-size scaling), β the momentum.
    var thresholds: [GridKey: Double] = [:]
    var hasValues: Bool { cells.values.contains { $0.mean != nil } }
    /// The number of seeds behind each cell's mean, over the cells that have one.
    var seedCounts: [Int] { cells.values.filter { $0.mean != nil }.map(\.values) }

    init(_ runs: [GridRun], metric: GridMetric) {
        batchSizes = Array(Set(runs.map(\.batchSize))).sorted()
        learningRates = Array(Set(runs.map(\.learningRate))).sorted()
        let ordered = runs.sorted {
            ($0.batchSize, $0.learningRate, $0.seed) < ($1.batchSize, $1.learningRate, $1.seed)
        }
        for run in ordered {
            let key = GridKey(run.batchSize, run.learningRate)
            var cell = cells[key] ?? GridCell()
            cell.runs += 1
            if run.diverged {
                cell.diverged += 1
            } else if let v = metric == .testAccuracy ? run.testAccuracy : run.lambdaMax {
                cell.values += 1
                cell.sum += v
            }
            cells[key] = cell
        }
        // The last run of a cell (input order) sets its rate and momentum, as runs of one cell share them.
        for r in runs {
            thresholds[GridKey(r.batchSize, r.learningRate)] = EdgeOfStability.threshold(learningRate: r.effectiveLearningRate ?? r.learningRate,
                                                                                         momentum: r.momentum)
        }
    }

    /// The edge-of-stability threshold of a cell (2/η when no run recorded one).
    func threshold(_ batchSize: Int, _ learningRate: Double) -> Double {
        thresholds[GridKey(batchSize, learningRate)] ?? EdgeOfStability.threshold(learningRate: learningRate)
    }
}

/// One level of one lottery branch; `mean` and `sd` in percent.
struct LotteryLevel {
    var level: Int
    var density: Double
    var mean: Double
    var sd: Double
    var seeds: Int
}

/// A lottery branch's levels in level order, with its palette position.
struct LotterySeries {
    var name: String
    var colourIndex: Int
    var levels: [LotteryLevel]

    /// Series in legend order: known branches first, then the others sorted; per level the
    /// mean accuracy over seeds (percent) at the mean density, with the sample s.d. (n − 1).
    static func grouped(_ points: [LotteryPoint], knownBranches: [String]) -> [LotterySeries] {
        var grouped: [String: [Int: [LotteryPoint]]] = [:]
        for p in LotteryPoint.sorted(points) { grouped[p.branch, default: [:]][p.level, default: []].append(p) }
        let others = grouped.keys.filter { !knownBranches.contains($0) }.sorted()
        var named: [(name: String, colourIndex: Int)] = knownBranches.enumerated()
            .filter { grouped[$0.element] != nil }.map { (name: $0.element, colourIndex: $0.offset) }
        named += others.enumerated().map { (name: $0.element, colourIndex: knownBranches.count + $0.offset) }
        return named.map { name, colourIndex in
            let levels = grouped[name]!.keys.sorted().map { level -> LotteryLevel in
                let group = grouped[name]![level]!
                let n = Double(group.count)
                let density = group.reduce(0) { $0 + $1.density } / n
                let accuracies = group.map { $0.testAccuracy * 100 }
                let mean = accuracies.reduce(0, +) / n
                let sd = group.count > 1
                    ? (accuracies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
                    : 0
                return LotteryLevel(level: level, density: density, mean: mean, sd: sd, seeds: group.count)
            }
            return LotterySeries(name: name, colourIndex: colourIndex, levels: levels)
        }
    }
}

extension LotteryPoint {
    /// Points in (branch, level, seed) order, so that sums do not depend on the input order.
    static func sorted(_ points: [LotteryPoint]) -> [LotteryPoint] {
        points.sorted { ($0.branch, $0.level, $0.seed) < ($1.branch, $1.level, $1.seed) }
    }

    /// Throws for points a lottery figure cannot draw: an empty branch, a negative level, a
    /// density outside (0, 1], an accuracy outside [0, 1], a repeated (branch, seed, level).
    static func validate(_ points: [LotteryPoint]) throws(RunFigureError) {
        struct Key: Hashable { var branch: String, seed: UInt64, level: Int }
        var seen: [Key: Int] = [:]
        for (index, p) in points.enumerated() {
            if p.branch.isEmpty { throw .invalidPoint(index: index, reason: "has an empty branch name") }
            if p.level < 0 { throw .invalidPoint(index: index, reason: "has level \(p.level); levels start at 0 (dense)") }
            if !(p.density.isFinite && p.density > 0 && p.density <= 1) {
                throw .invalidPoint(index: index, reason: "has density \(p.density); pass the fraction of weights remaining, in (0, 1]")
            }
            if !(p.testAccuracy.isFinite && p.testAccuracy >= 0 && p.testAccuracy <= 1) {
                throw .invalidPoint(index: index, reason: "has test accuracy \(p.testAccuracy); pass a fraction in [0, 1] (0.871, not 87.1)")
            }
            let key = Key(branch: p.branch, seed: p.seed, level: p.level)
            if let previous = seen[key] {
                throw .duplicatePoint(index: index, previous: previous, branch: p.branch, seed: p.seed, level: p.level)
            }
            seen[key] = index
        }
    }
}

extension GridRun {
    /// Throws for runs a batch-size figure cannot draw: a non-positive batch size or rate, a
    /// run not marked diverged with an out-of-range metric, a repeated (batch size, lr, seed).
    static func validate(_ runs: [GridRun]) throws(RunFigureError) {
        struct Key: Hashable { var cell: GridKey, seed: UInt64 }
        var seen: [Key: Int] = [:]
        for (index, r) in runs.enumerated() {
            if r.batchSize <= 0 {
                throw .invalidRun(index: index, reason: "has batch size \(r.batchSize); batch sizes must be positive")
            }
            if !(r.learningRate.isFinite && r.learningRate > 0) {
                throw .invalidRun(index: index, reason: "has learning rate \(r.learningRate); learning rates must be finite and positive")
            }
            if !r.diverged {
                if let a = r.testAccuracy, !(a.isFinite && a >= 0 && a <= 1) {
                    throw .invalidRun(index: index,
                                      reason: "has test accuracy \(a) but is not marked diverged; pass a fraction in [0, 1] (0.871, not 87.1), or mark the run diverged")
                }
                if let l = r.lambdaMax, !l.isFinite {
                    throw .invalidRun(index: index, reason: "has λmax \(l) but is not marked diverged; mark the run diverged or pass nil")
                }
            }
            let key = Key(cell: GridKey(r.batchSize, r.learningRate), seed: r.seed)
            if let previous = seen[key] {
                throw .duplicateRun(index: index, previous: previous, batchSize: r.batchSize, learningRate: r.learningRate, seed: r.seed)
            }
            seen[key] = index
        }
    }
}
