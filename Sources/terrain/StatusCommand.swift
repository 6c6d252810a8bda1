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
        let sweep: StoredSweep
        do { sweep = try StoredSweep(path: dataset) } catch let e as ResultsError { throw CLI.Failure(message: e.message) }
        let ds = sweep.dataset
        let p = try ds.readProgress()
        let age = Date().timeIntervalSince1970 - p.updated
        var state = p.state
        if state == "running" && age > 10 { state = "not running (last update \(ClockText.format(age)) ago: coordinator stopped?)" }
        print("\(dataset): sweep \(sweep.kind) \(sweep.specHash.prefix(12)), \(state)")
        print(ProgressPrinter.line(p))
        do {
            for line in try sweep.sweepKind.statusLines(sweep) { print(line) }
        } catch let e as ResultsError {
            throw CLI.Failure(message: e.message)
        }
        for line in StatusWorkers.lines(try ds.workerRows(), running: state == "running" || state == "stopping") { print(line) }
        let failures = try ds.failedTasks()
        if !failures.isEmpty {
            print("failed tasks (`terrain retry \(dataset)` queues them again):")
            for f in failures.prefix(20) { print("  task \(f.task): \(f.error ?? "no error recorded")") }
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
                // One sample has no standard error (stored as "nan"): say so rather than print "± nan".
                let spread = (se as? String) == "nan" ? " (one sample: no standard error)" : " ± \(number(se))"
                parts.append("\(k) \(number(v))\(spread)")
            } else {
                parts.append("\(k) \(number(v))\(k == "sharpness" ? "%" : "")")
            }
        }
        return "\n    " + parts.joined(separator: "\n    ")
    }
}
