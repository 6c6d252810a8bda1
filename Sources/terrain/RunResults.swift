import Foundation
import TerrainCoordinator
import TerrainExport

/// Reads the `runs` and `curve_points` tables of a lottery or training sweep for export and
/// rendering.
enum RunResults {
    /// The sweep kinds whose results are training runs.
    static let kinds: Set<String> = ["lottery", "training"]

    /// The kind of sweep a dataset holds (`nil`: not a Terrain dataset).
    static func kind(of path: String) throws -> String? {
        let ds: SweepDataset
        do { ds = try SweepDataset(path: path, readOnly: true) } catch { throw CLI.Failure(message: "\(error)") }
        return try ds.meta("kind")
    }

    /// A table's rows as a ``RunTable``, each column typed by its declared SQL type (TEXT,
    /// REAL, INTEGER), so that a column with no values yet still exports with its type.
    static func table(_ ds: SweepDataset, _ name: String, orderBy: String) throws -> RunTable {
        var declared = [String: String]()
        for r in try ds.table("PRAGMA table_info(\(name))").rows {
            if case .text(let column) = r[1], case .text(let type) = r[2] { declared[column] = type.uppercased() }
        }
        let (names, rows) = try ds.table("SELECT * FROM \(name) ORDER BY \(orderBy)")
        var columns = [(name: String, values: RunTable.Column)]()
        for (i, name) in names.enumerated() {
            let cells = rows.map { $0[i] }
            if declared[name] == "TEXT" || cells.contains(where: { if case .text = $0 { return true } else { return false } }) {
                columns.append((name, .texts(cells.map { if case .text(let s) = $0 { return s } else { return nil } })))
            } else if declared[name] == "REAL" || cells.contains(where: { if case .real = $0 { return true } else { return false } }) {
                columns.append((name, .reals(cells.map {
                    switch $0 {
                    case .real(let v): return v
                    case .integer(let v): return Double(v)
                    default: return nil
                    }
                })))
            } else {
                columns.append((name, .integers(cells.map { if case .integer(let v) = $0 { return v } else { return nil } })))
            }
        }
        return RunTable(columns: columns)
    }

    /// The `runs` and `curve_points` tables and descriptive attributes.
    static func load(_ path: String) throws -> (runs: RunTable, curves: RunTable, attributes: [String: String], kind: String, name: String) {
        let ds = try SweepDataset(path: path, readOnly: true)
        let kind = try ds.meta("kind") ?? "?"
        let runs = try table(ds, "runs", orderBy: "task")
        let curves = try table(ds, "curve_points", orderBy: "task, step")
        let progress = try ds.readProgress()
        let attributes = ["kind": kind, "spec_hash": try ds.meta("spec_hash") ?? "", "tasks": String(progress.total),
                          "runs_done": String(runs.rowCount), "state": progress.state]
        var name = (path as NSString).lastPathComponent
        if let spec = try ds.meta("spec"), let line = spec.split(separator: "\n").first(where: { $0.hasPrefix("name:") }) {
            name = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
        }
        return (runs, curves, attributes, kind, name)
    }

    /// Lottery points (branch, seed, level, density, final test accuracy) of completed levels.
    static func lotteryPoints(_ runs: RunTable) -> [LotteryPoint] {
        let n = runs.rowCount
        guard case .texts(let branch)? = runs.column("branch"), case .integers(let seed)? = runs.column("seed"),
              case .integers(let level)? = runs.column("level"), let density = reals(runs.column("density")),
              let acc = reals(runs.column("test_acc")) else { return [] }
        return (0..<n).compactMap { i in
            guard let b = branch[i], let s = seed[i], let l = level[i], let d = density[i], let a = acc[i] else { return nil }
            return LotteryPoint(branch: b, seed: UInt64(bitPattern: s), level: Int(l), density: d, testAccuracy: a)
        }
    }

    /// Grid runs (batch size, lr, seed, diverged, test accuracy, λmax), split by the grid's
    /// other axes — optimizer, momentum, weight decay — into one group per variant (a figure
    /// each). `label` describes the variant; `slug` is safe in a file name; both are empty
    /// when the sweep has a single variant.
    static func gridVariants(_ runs: RunTable) -> [(label: String, slug: String, runs: [GridRun])] {
        guard case .integers(let batch)? = runs.column("batch_size"), let lr = reals(runs.column("lr")),
              case .integers(let seed)? = runs.column("seed"), case .texts(let status)? = runs.column("status"),
              case .texts(let optimizer)? = runs.column("optimizer") else { return [] }
        let n = runs.rowCount
        let acc = reals(runs.column("test_acc")) ?? Array(repeating: nil, count: n)
        let lambda = reals(runs.column("lambda_max")) ?? Array(repeating: nil, count: n)
        let effective = reals(runs.column("effective_lr")) ?? Array(repeating: nil, count: n)
        let momentum = reals(runs.column("momentum")) ?? Array(repeating: nil, count: n)
        let decay = reals(runs.column("weight_decay")) ?? Array(repeating: nil, count: n)
        var groups = [String: [GridRun]]()
        var order = [String]()
        var parts = [String: (optimizer: String, momentum: Double, decay: Double)]()
        for i in 0..<n {
            guard let b = batch[i], let r = lr[i], let s = seed[i] else { continue }
            let key = "\(optimizer[i] ?? "?")|\(momentum[i] ?? 0)|\(decay[i] ?? 0)"
            if groups[key] == nil {
                order.append(key)
                parts[key] = (optimizer[i] ?? "?", momentum[i] ?? 0, decay[i] ?? 0)
            }
            groups[key, default: []].append(GridRun(batchSize: Int(b), learningRate: r, seed: UInt64(bitPattern: s),
                                                    diverged: status[i] == "diverged", testAccuracy: acc[i], lambdaMax: lambda[i],
                                                    effectiveLearningRate: effective[i], momentum: momentum[i] ?? 0))
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

    /// λmax along training for each batch size of a training sweep: x = the epochs where it
    /// was measured, one series per (variant, learning rate) with the mean over seeds, and
    /// the edge-of-stability threshold (2 + 2β)/η of each series (η the batch-scaled rate).
    static func sharpnessAlongTraining(_ path: String) throws
        -> [(batchSize: Int, epochs: [Double], series: [(label: String, values: [Double], threshold: Double)])]
    {
        let ds = try SweepDataset(path: path, readOnly: true)
        let rows = try ds.table("""
            SELECT r.batch_size, r.optimizer, r.momentum, r.weight_decay, r.lr, r.effective_lr, c.epoch, AVG(c.lambda_max)
            FROM curve_points c JOIN runs r ON r.task = c.task
            WHERE c.lambda_max IS NOT NULL AND r.status = 'completed'
            GROUP BY r.batch_size, r.optimizer, r.momentum, r.weight_decay, r.lr, c.epoch
            ORDER BY r.batch_size, r.optimizer, r.momentum, r.weight_decay, r.lr, c.epoch
            """).rows
        struct Key: Hashable { var batch: Int64; var optimizer: String; var momentum: Double; var decay: Double; var lr: Double }
        var points = [Key: [(epoch: Double, lambda: Double)]]()
        var effective = [Key: Double]()
        var order = [Key]()
        for r in rows {
            guard case .integer(let b) = r[0], case .text(let o) = r[1], case .real(let m) = r[2], case .real(let wd) = r[3],
                  case .real(let lr) = r[4], case .real(let eff) = r[5], case .real(let epoch) = r[6], case .real(let lam) = r[7] else { continue }
            let key = Key(batch: b, optimizer: o, momentum: m, decay: wd, lr: lr)
            if points[key] == nil { order.append(key) }
            points[key, default: []].append((epoch, lam))
            effective[key] = eff
        }
        let variants = Set(order.map { "\($0.optimizer)|\($0.momentum)|\($0.decay)" }).count
        var out = [(batchSize: Int, epochs: [Double], series: [(label: String, values: [Double], threshold: Double)])]()
        for batch in Array(Set(order.map(\.batch))).sorted() {
            let keys = order.filter { $0.batch == batch }
            let epochs = Array(Set(keys.flatMap { points[$0]!.map(\.epoch) })).sorted()
            let series = keys.map { k -> (label: String, values: [Double], threshold: Double) in
                let byEpoch = Dictionary(points[k]!.map { ($0.epoch, $0.lambda) }, uniquingKeysWith: { a, _ in a })
                var label = "lr = \(k.lr)"
                if variants > 1 { label += " (\(k.optimizer), momentum \(k.momentum), wd \(k.decay))" }
                return (label, epochs.map { byEpoch[$0] ?? .nan }, (2 + 2 * k.momentum) / effective[k]!)
            }
            out.append((Int(batch), epochs, series))
        }
        return out
    }

    /// Test accuracy along training of the main lottery chain: x = the steps every level
    /// recorded, one series per level (mean over seeds).
    static func lotteryCurves(_ path: String) throws -> (steps: [Double], series: [(label: String, values: [Double])]) {
        let ds = try SweepDataset(path: path, readOnly: true)
        let rows = try ds.table("""
            SELECT r.level, AVG(r.density), c.step, AVG(c.test_acc) FROM curve_points c JOIN runs r ON r.task = c.task
            WHERE r.branch = 'main' AND c.test_acc IS NOT NULL GROUP BY r.level, c.step ORDER BY r.level, c.step
            """).rows
        var byLevel = [Int64: [Double: Double]]()
        var density = [Int64: Double]()
        for r in rows {
            guard case .integer(let level) = r[0], case .real(let d) = r[1], case .integer(let step) = r[2], case .real(let acc) = r[3] else { continue }
            byLevel[level, default: [:]][Double(step)] = acc
            density[level] = d
        }
        guard let first = byLevel.values.first else { return ([], []) }
        // The steps every level recorded (level 0 starts at 0, rewound levels at rewind_step).
        let steps = byLevel.values.reduce(Set(first.keys)) { $0.intersection($1.keys) }.sorted()
        let series = byLevel.keys.sorted().map { level in
            (label: String(format: "level %d (%.1f%%)", Int(level), 100 * density[level]!), values: steps.map { 100 * byLevel[level]![$0]! })
        }
        return (steps, series)
    }

    /// Writes every output artifact of the sweep's tasks into `directory`, named after the
    /// task and, for lottery levels, its seed, branch and level.
    static func writeArtifacts(dataset: String, runs: RunTable, to directory: String) throws {
        let ds = try SweepDataset(path: dataset, readOnly: true)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw CLI.Failure(message: "\(directory): cannot create the directory: \(error.localizedDescription)")
        }
        var labels = [Int64: String]()
        if case .integers(let task)? = runs.column("task"), case .integers(let seed)? = runs.column("seed") {
            let branch: [String?] = { if case .texts(let b)? = runs.column("branch") { return b } else { return [] } }()
            let level: [Int64?] = { if case .integers(let l)? = runs.column("level") { return l } else { return [] } }()
            for i in 0..<runs.rowCount {
                guard let t = task[i] else { continue }
                var label = "\(t)-s\(seed[i] ?? 0)"
                if i < branch.count, let b = branch[i], i < level.count, let l = level[i] { label += "-\(b)-L\(l)" }
                labels[t] = label
            }
        }
        var written = 0
        for row in try ds.table("SELECT task, name, hash FROM result_artifacts ORDER BY task, name").rows {
            guard case .integer(let task) = row[0], case .text(let name) = row[1], case .blob(let hash) = row[2],
                  let bytes = try ds.artifact(hash) else { continue }
            let path = "\(directory)/\(labels[task] ?? String(task))-\(name).safetensors"
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw CLI.Failure(message: "\(path): cannot write the file")
            }
            written += 1
        }
        print("wrote \(written) artifacts to \(directory)")
    }

    private static func reals(_ c: RunTable.Column?) -> [Double?]? {
        switch c {
        case .reals(let v)?: return v
        case .integers(let v)?: return v.map { $0.map(Double.init) }
        default: return nil
        }
    }
}
