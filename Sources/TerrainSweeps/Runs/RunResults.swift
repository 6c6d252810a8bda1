import TerrainDataset
import TerrainExport

/// What the `runs` and `curve_points` tables of a lottery or training sweep say, computed
/// from the dataset's typed rows for `terrain status`, `export` and `render`.
public enum RunResults {
    /// The mean of `values` (`nil` when empty), summed in the given order.
    static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// One (level, branch) of a lottery sweep over the seeds finished so far.
    public struct LevelSummary: Sendable, Equatable {
        public var level: Int, branch: String
        /// Mean density and mean final test accuracy (`nil` when no run reports one).
        public var density: Double, testAccuracy: Double?
        /// Runs counted and how many of them diverged.
        public var runs: Int, diverged: Int
    }

    /// Lottery levels by level, then branch name.
    public static func levels(_ rows: [RunRow]) -> [LevelSummary] {
        var groups = [String: [RunRow]]()
        var keys = [(level: Int, branch: String)]()
        for r in rows {
            guard let level = r.level, let branch = r.branch, r.density != nil else { continue }
            let key = "\(level)|\(branch)"
            if groups[key] == nil { keys.append((level, branch)) }
            groups[key, default: []].append(r)
        }
        return keys.sorted { ($0.level, $0.branch) < ($1.level, $1.branch) }.map { k in
            let g = groups["\(k.level)|\(k.branch)"]!
            return LevelSummary(level: k.level, branch: k.branch, density: mean(g.compactMap(\.density))!,
                                testAccuracy: mean(g.compactMap(\.testAccuracy)), runs: g.count,
                                diverged: g.filter { $0.status == "diverged" }.count)
        }
    }

    /// Runs per status, statuses sorted.
    public static func statusCounts(_ rows: [RunRow]) -> [(status: String, runs: Int)] {
        Dictionary(grouping: rows, by: \.status).map { ($0.key, $0.value.count) }.sorted { $0.status < $1.status }
    }

    /// The completed grid cell (batch size, lr, optimizer, momentum, weight decay) with the
    /// best mean final test accuracy over its seeds.
    public struct BestCell: Sendable, Equatable {
        public var batchSize: Int, learningRate: Double, optimizer: String, momentum: Double, weightDecay: Double
        public var testAccuracy: Double, seeds: Int
    }

    /// The best cell, or `nil` while no completed run reports a test accuracy. Ties go to the
    /// first cell in (batch size, lr, optimizer, momentum, weight decay) order.
    public static func best(_ rows: [RunRow]) -> BestCell? {
        var groups = [BestCell]()
        var index = [String: Int]()
        var accuracies = [[Double]]()
        for r in rows where r.status == "completed" {
            let key = "\(r.batchSize)|\(r.learningRate)|\(r.optimizer)|\(r.momentum)|\(r.weightDecay)"
            if index[key] == nil {
                index[key] = groups.count
                groups.append(BestCell(batchSize: r.batchSize, learningRate: r.learningRate, optimizer: r.optimizer,
                                       momentum: r.momentum, weightDecay: r.weightDecay, testAccuracy: .nan, seeds: 0))
                accuracies.append([])
            }
            let i = index[key]!
            groups[i].seeds += 1
            if let a = r.testAccuracy { accuracies[i].append(a) }
        }
        let cells = groups.indices.compactMap { i -> BestCell? in
            guard let m = mean(accuracies[i]) else { return nil }
            var c = groups[i]
            c.testAccuracy = m
            return c
        }.sorted { a, b in
            (a.batchSize, a.learningRate, a.optimizer, a.momentum, a.weightDecay) < (b.batchSize, b.learningRate, b.optimizer, b.momentum, b.weightDecay)
        }
        return cells.reduce(nil) { best, c in best.map { c.testAccuracy > $0.testAccuracy } ?? true ? c : best }
    }

    /// A dataset table as an export table, column types as declared.
    public static func table(_ columns: [(name: String, values: DatasetColumnValues)]) -> RunTable {
        RunTable(columns: columns.map { c in
            switch c.values {
            case .integers(let v): return (c.name, .integers(v))
            case .reals(let v): return (c.name, .reals(v))
            case .texts(let v): return (c.name, .texts(v))
            }
        })
    }

    /// Lottery points (branch, seed, level, density, final test accuracy) of finished levels.
    public static func lotteryPoints(_ rows: [RunRow]) -> [LotteryPoint] {
        rows.compactMap { r in
            guard let b = r.branch, let l = r.level, let d = r.density, let a = r.testAccuracy else { return nil }
            return LotteryPoint(branch: b, seed: r.replicateSeed, level: l, density: d, testAccuracy: a)
        }
    }

    /// Grid runs split by the grid's other axes — optimizer, momentum, weight decay — into one
    /// group per variant (a figure each), in order of first appearance. `label` describes the
    /// variant and `slug` is safe in a file name; both are empty for a single variant.
    public static func gridVariants(_ rows: [RunRow]) -> [(label: String, slug: String, runs: [GridRun])] {
        var groups = [String: [GridRun]]()
        var order = [String]()
        var parts = [String: (optimizer: String, momentum: Double, decay: Double)]()
        for r in rows {
            let key = "\(r.optimizer)|\(r.momentum)|\(r.weightDecay)"
            if groups[key] == nil {
                order.append(key)
                parts[key] = (r.optimizer, r.momentum, r.weightDecay)
            }
            groups[key, default: []].append(GridRun(batchSize: r.batchSize, learningRate: r.learningRate, seed: r.replicateSeed,
                                                    diverged: r.status == "diverged", testAccuracy: r.testAccuracy, lambdaMax: r.lambdaMax,
                                                    effectiveLearningRate: r.effectiveLearningRate, momentum: r.momentum))
        }
        if order.count == 1 { return [("", "", groups[order[0]]!)] }
        // Name only the axes that vary.
        let values = order.map { parts[$0]! }
        let optimizers = Set(values.map(\.optimizer)).count > 1, momenta = Set(values.map(\.momentum)).count > 1
        let decays = Set(values.map(\.decay)).count > 1
        return order.map { key in
            let p = parts[key]!
            var label = [String](), slug = [String]()
            if optimizers { label.append(p.optimizer); slug.append(p.optimizer.replacingOccurrences(of: "+", with: "-")) }
            if momenta { label.append("momentum \(p.momentum)"); slug.append("m\(p.momentum)") }
            if decays { label.append("weight decay \(p.decay)"); slug.append("wd\(p.decay)") }
            return (label.joined(separator: ", "), slug.joined(separator: "-"), groups[key]!)
        }
    }
}
