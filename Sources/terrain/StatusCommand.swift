import ArgumentParser
import Foundation
import TerrainCoordinator
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
            for (d, params) in try ds.loadTasks() where d.kind == "surface" {
                if let p = try? JSONDecoder().decode(SurfaceSpec.Params.self, from: Data(params)) { total += p.end - p.start }
            }
            let eta = p.rate > 0 && p.done < p.total ? "  ETA \(ProgressPrinter.duration(Double(p.total - p.done - p.failed) / p.rate))" : ""
            print("grid points: \(done)/\(total)\(eta)")
        }
        let kind = try ds.meta("kind")
        if kind == "lottery" {
            // Mean final test accuracy per branch and level, over the seeds done so far.
            let rows = try ds.table("""
                SELECT level, branch, AVG(density), AVG(test_acc), COUNT(*), SUM(status = 'diverged')
                FROM runs GROUP BY level, branch ORDER BY level, branch
                """).rows
            if !rows.isEmpty { print("level  branch          density  mean test acc  seeds") }
            for r in rows {
                guard case .integer(let level) = r[0], case .text(let branch) = r[1], case .real(let density) = r[2],
                      case .integer(let n) = r[4] else { continue }
                let acc: String
                if case .real(let a) = r[3] { acc = String(format: "%11.2f%%", 100 * a) } else { acc = "          –" }
                let diverged = (r[5] == .integer(0) || r[5] == .null) ? "" : "  (\(r[5]) diverged)"
                let name = branch.padding(toLength: max(14, branch.count), withPad: " ", startingAt: 0)
                print(String(format: "%5d  ", Int(level)) + name + String(format: "  %7.4f  ", density) + "\(acc)  \(n)\(diverged)")
            }
        } else if kind == "training" {
            let counts = try ds.table("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status").rows
            let text = counts.compactMap { r -> String? in
                guard case .text(let s) = r[0], case .integer(let n) = r[1] else { return nil }
                return "\(n) \(s)"
            }
            if !text.isEmpty { print("runs: " + text.joined(separator: ", ")) }
            let best = try ds.table("""
                SELECT batch_size, lr, optimizer, momentum, weight_decay, AVG(test_acc) AS acc, COUNT(*) FROM runs
                WHERE status = 'completed' GROUP BY batch_size, lr, optimizer, momentum, weight_decay ORDER BY acc DESC LIMIT 1
                """).rows
            if let b = best.first, case .integer(let batch) = b[0], case .real(let lr) = b[1], case .text(let optimizer) = b[2],
               case .real(let momentum) = b[3], case .real(let decay) = b[4], case .real(let acc) = b[5], case .integer(let n) = b[6] {
                print(String(format: "best: batch size %d, lr %g, %@, momentum %g, weight decay %g: mean test accuracy %.2f%% over %d seed(s)",
                             Int(batch), lr, optimizer as NSString, momentum, decay, 100 * acc, Int(n)))
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
