import Foundation
import TerrainDataset
import TerrainExport
import TerrainSweeps

/// Reads the `runs` and `curve_points` tables of a lottery or training sweep for export and
/// rendering.
enum StoredRuns {
    /// The sweep kinds whose results are training runs.
    static let kinds: Set<String> = ["lottery", "training"]

    /// The kind of sweep a dataset holds (`nil`: not a Terrain dataset).
    static func kind(of path: String) throws -> String? {
        let ds: SweepDataset
        do { ds = try SweepDataset(path: path, readOnly: true) } catch { throw CLI.Failure(message: "\(error)") }
        return try ds.meta("kind")
    }

    /// The typed rows, the `runs` and `curve_points` tables for export, descriptive attributes
    /// and the sweep's name.
    static func load(_ path: String) throws
        -> (rows: [RunRow], curve: [CurvePointRow], runs: RunTable, curves: RunTable, attributes: [String: String], name: String)
    {
        let ds = try SweepDataset(path: path, readOnly: true)
        let kind = try ds.meta("kind") ?? "?"
        let runs = RunResults.table(try ds.columns(of: .runs))
        let curves = RunResults.table(try ds.columns(of: .curvePoints))
        let progress = try ds.readProgress()
        let attributes = ["kind": kind, "spec_hash": try ds.meta("spec_hash") ?? "", "tasks": String(progress.total),
                          "runs_done": String(runs.rowCount), "state": progress.state]
        let name = SweepSpec.name(ofStoredSpec: try ds.meta("spec") ?? "", fallback: (path as NSString).lastPathComponent)
        return (try ds.runs(), try ds.curvePoints(), runs, curves, attributes, name)
    }

    /// Writes every output artifact of the sweep's tasks into `directory`, named after the
    /// task and, for lottery levels, its seed, branch and level.
    static func writeArtifacts(dataset: String, runs: [RunRow], to directory: String) throws {
        let ds = try SweepDataset(path: dataset, readOnly: true)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw CLI.Failure(message: "\(directory): cannot create the directory: \(error.localizedDescription)")
        }
        var labels = [UInt64: String]()
        for r in runs {
            var label = "\(r.task)-s\(r.replicateSeed)"
            if let b = r.branch, let l = r.level { label += "-\(b)-L\(l)" }
            labels[UInt64(r.task)] = label
        }
        var written = 0
        for a in try ds.resultArtifacts() {
            guard let bytes = try ds.artifact(a.hash) else { continue }
            let path = "\(directory)/\(labels[a.task] ?? String(a.task))-\(a.name).safetensors"
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw CLI.Failure(message: "\(path): cannot write the file")
            }
            written += 1
        }
        print("wrote \(written) artifacts to \(directory)")
    }
}
