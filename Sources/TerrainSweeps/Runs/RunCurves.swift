import Foundation
import TerrainDataset
import TerrainExport

extension RunResults {
    /// λmax along training for one batch size of a training sweep.
    public struct SharpnessGroup: Sendable {
        public var batchSize: Int
        /// The epochs where λmax was measured (union over the series).
        public var epochs: [Double]
        /// One series per (variant, learning rate): the mean over seeds at each epoch (NaN
        /// where not measured) and the edge-of-stability threshold (2 + 2β)/η of its runs.
        public var series: [(label: String, values: [Double], threshold: Double)]
    }

    /// λmax along training of the completed runs, per batch size (ascending); series by
    /// optimizer, momentum, weight decay, then learning rate.
    public static func sharpnessAlongTraining(runs: [RunRow], curve: [CurvePointRow]) -> [SharpnessGroup] {
        struct Key: Hashable, Comparable {
            var batch: Int, optimizer: String, momentum: Double, decay: Double, lr: Double
            static func < (a: Key, b: Key) -> Bool {
                (a.batch, a.optimizer, a.momentum, a.decay, a.lr) < (b.batch, b.optimizer, b.momentum, b.decay, b.lr)
            }
        }
        let completed = Dictionary(uniqueKeysWithValues: runs.filter { $0.status == "completed" }.map { ($0.task, $0) })
        var lambdas = [Key: [Double: [Double]]]()
        var threshold = [Key: Double]()
        for c in curve {
            guard let r = completed[c.task], let lambda = c.lambdaMax else { continue }
            let key = Key(batch: r.batchSize, optimizer: r.optimizer, momentum: r.momentum, decay: r.weightDecay, lr: r.learningRate)
            lambdas[key, default: [:]][c.epoch, default: []].append(lambda)
            threshold[key] = EdgeOfStability.threshold(learningRate: r.effectiveLearningRate, momentum: r.momentum)
        }
        let keys = lambdas.keys.sorted()
        let variants = Set(keys.map { "\($0.optimizer)|\($0.momentum)|\($0.decay)" }).count
        return Array(Set(keys.map(\.batch))).sorted().map { batch in
            let group = keys.filter { $0.batch == batch }
            let epochs = Array(Set(group.flatMap { lambdas[$0]!.keys })).sorted()
            let series = group.map { k -> (label: String, values: [Double], threshold: Double) in
                var label = "lr = \(k.lr)"
                if variants > 1 { label += " (\(k.optimizer), momentum \(k.momentum), wd \(k.decay))" }
                return (label, epochs.map { lambdas[k]![$0].flatMap(mean) ?? .nan }, threshold[k]!)
            }
            return SharpnessGroup(batchSize: batch, epochs: epochs, series: series)
        }
    }

    /// Test accuracy along training of the main lottery chain: x = the steps every level
    /// recorded, one series per level (mean over seeds, in percent), labelled with the
    /// level's mean density.
    public static func lotteryCurves(runs: [RunRow], curve: [CurvePointRow]) -> (steps: [Double], series: [(label: String, values: [Double])]) {
        let main = Dictionary(uniqueKeysWithValues: runs.filter { $0.branch == "main" && $0.level != nil }.map { ($0.task, $0) })
        var accuracy = [Int: [Double: [Double]]]()
        var density = [Int: [Double]]()
        var counted = Set<Int64>()
        for c in curve {
            guard let r = main[c.task], let level = r.level, let acc = c.testAccuracy else { continue }
            accuracy[level, default: [:]][Double(c.step), default: []].append(acc)
            if let d = r.density, counted.insert(r.task).inserted { density[level, default: []].append(d) }
        }
        guard let first = accuracy.values.first else { return ([], []) }
        // The steps every level recorded (level 0 starts at 0, rewound levels at rewind_step).
        let steps = accuracy.values.reduce(Set(first.keys)) { $0.intersection($1.keys) }.sorted()
        let series = accuracy.keys.sorted().compactMap { level -> (label: String, values: [Double])? in
            guard let d = density[level].flatMap(mean) else { return nil }
            return (String(format: "level %d (%.1f%%)", level, 100 * d), steps.map { 100 * mean(accuracy[level]![$0]!)! })
        }
        return (steps, series)
    }
}
