import Foundation
import TerrainDataset
import TerrainSweeps

/// The `workers` part of `terrain status`: who is connected and where it runs (SLURM job and
/// node, Kubernetes pod), from the dataset's `workers` table.
enum StatusWorkers {
    /// Lines for the connected workers while a coordinator runs, and a count of every worker
    /// the dataset has seen, with the placements among them.
    static func lines(_ rows: [SweepDataset.WorkerRow], running: Bool, now: Double = Date().timeIntervalSince1970) -> [String] {
        guard !rows.isEmpty else { return [] }
        var out = [String]()
        let connected = rows.filter { $0.left == nil }
        if running && !connected.isEmpty {
            out.append("workers connected (\(connected.count)):")
            for w in connected.suffix(40) {
                let place = w.placement.isEmpty ? "" : ", \(w.placement)"
                out.append("  \(w.worker): \(w.host) pid \(w.pid)\(place), joined \(ClockText.format(max(0, now - w.joined))) ago")
            }
            if connected.count > 40 { out.append("  … and \(connected.count - 40) more (the dataset's workers table)") }
        }
        let placements = Set(rows.map(\.placement).filter { !$0.isEmpty })
        var seen = "workers seen: \(rows.count) connection(s) from \(Set(rows.map { "\($0.host)/\($0.pid)" }).count) process(es)"
        if !placements.isEmpty {
            let jobs = Set(placements.compactMap(Self.job))
            seen += jobs.isEmpty ? ", \(placements.count) placement(s)" : ", batch jobs \(jobs.sorted().joined(separator: ", "))"
        }
        out.append(seen)
        return out
    }

    /// The job a placement names (`slurm job 812`, `kubernetes pod X`), for the summary.
    static func job(_ placement: String) -> String? {
        let words = placement.split(separator: " ")
        if words.count >= 3 && words[0] == "slurm" && words[1] == "job" { return "slurm \(words[2])" }
        if words.count >= 3 && words[0] == "kubernetes" && words[1] == "pod" { return "pod \(words[2])" }
        return nil
    }
}
