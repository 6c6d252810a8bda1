import ArgumentParser
import Foundation
import TerrainDataset
import TerrainSweeps

/// `terrain status DATASET`.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the progress of a running or finished sweep from its dataset.")

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    func run() throws {
        let ds: SweepDataset
        do { ds = try SweepDataset(path: dataset, readOnly: true) } catch { throw CLI.Failure(message: "\(error)") }
        guard let hash = try ds.specHash() else { throw CLI.Failure(message: "\(dataset): not a Terrain sweep dataset") }
        let p = try ds.readProgress()
        let age = Date().timeIntervalSince1970 - p.updated
        var state = p.state
        if state == "running" && age > 10 { state = "not running (last update \(ProgressPrinter.duration(age)) ago: coordinator stopped?)" }
        print("\(dataset): sweep \(try ds.meta("kind") ?? "?") \(hash.prefix(12)), \(state)")
        print(ProgressPrinter.line(p))
        if try ds.meta("kind") == "surface" {
            // Grid points rather than tasks: a tile task holds many points.
            var done = 0
            for o in try ds.completedOutputs() where o.kind == "surface" {
                if let params = try? JSONDecoder().decode(SurfaceSpec.Params.self, from: Data(o.params)) { done += params.end - params.start }
            }
            var total = 0
            for t in try ds.loadTasks() where t.kind == "surface" {
                if let p = try? JSONDecoder().decode(SurfaceSpec.Params.self, from: Data(t.params)) { total += p.end - p.start }
            }
            let eta = p.rate > 0 && p.done < p.total ? "  ETA \(ProgressPrinter.duration(Double(p.total - p.done - p.failed) / p.rate))" : ""
            print("grid points: \(done)/\(total)\(eta)")
        }
        let kind = try ds.meta("kind")
        if kind == "lottery" {
            // Mean final test accuracy per branch and level, over the seeds done so far.
            let levels = RunResults.levels(try ds.runs())
            if !levels.isEmpty { print("level  branch          density  mean test acc  seeds") }
            for l in levels {
                let acc = l.testAccuracy.map { String(format: "%11.2f%%", 100 * $0) } ?? "          –"
                let diverged = l.diverged == 0 ? "" : "  (\(l.diverged) diverged)"
                let name = l.branch.padding(toLength: max(14, l.branch.count), withPad: " ", startingAt: 0)
                print(String(format: "%5d  ", l.level) + name + String(format: "  %7.4f  ", l.density) + "\(acc)  \(l.runs)\(diverged)")
            }
        } else if kind == "training" {
            let runs = try ds.runs()
            let text = RunResults.statusCounts(runs).map { "\($0.runs) \($0.status)" }
            if !text.isEmpty { print("runs: " + text.joined(separator: ", ")) }
            if let b = RunResults.best(runs) {
                print(String(format: "best: batch size %d, lr %g, %@, momentum %g, weight decay %g: mean test accuracy %.2f%% over %d seed(s)",
                             b.batchSize, b.learningRate, b.optimizer as NSString, b.momentum, b.weightDecay, 100 * b.testAccuracy, b.seeds))
            }
        }
        let failures = try ds.events(kind: "quarantined")
        if !failures.isEmpty {
            print("failed tasks:")
            for f in failures.prefix(20) { print("  task \(f.task.map(String.init) ?? "?"): \(f.detail)") }
            if failures.count > 20 { print("  … and \(failures.count - 20) more") }
        }
        for (key, value) in try ds.summaries().sorted(by: { $0.key < $1.key }) {
            print("\(key):\(StatusCommand.brief(value))")
        }
        let violations = try ds.events(kind: "determinism-violation")
        if !violations.isEmpty { print("determinism violations: \(violations.count) (see the events table)") }
    }

    /// A summary's JSON without the long arrays (density grids), for the terminal.
    static func brief(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return json }
        func number(_ v: Any) -> String {
            if let d = v as? Double { return String(format: "%.6g", d) }
            return "\(v)"
        }
        // Pair estimates with their standard errors and drop long arrays (densities).
        var parts = [String]()
        for k in object.keys.sorted() where !k.hasSuffix("StandardError") {
            let v = object[k]!
            if let a = v as? [Any] {
                if a.count > 8 { continue }
                parts.append("\(k) [\(a.map(number).joined(separator: ", "))]")
            } else if let se = object[k + "StandardError"] {
                parts.append("\(k) \(number(v)) ± \(number(se))")
            } else {
                parts.append("\(k) \(number(v))\(k == "sharpness" ? "%" : "")")
            }
        }
        return "\n    " + parts.joined(separator: "\n    ")
    }
}
