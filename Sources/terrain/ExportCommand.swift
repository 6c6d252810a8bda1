import ArgumentParser
import Foundation
import TerrainExport
import TerrainSweeps

/// `terrain export DATASET --format npz`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a sweep's results: a surface grid as CSV, NPZ (numpy), HDF5 (loss-landscape layout) or VTK (.vts, ParaView); the runs and curves of a lottery or training sweep as CSV or NPZ.",
        discussion: """
            Surface grids: missing points (a sweep still running) are NaN.
            Lottery and training sweeps: CSV writes <output>-runs.csv (one row per run or level) and <output>-curves.csv (one row per curve point); NPZ writes one archive with runs.<column> and curves.<column> arrays.
            Formats and array layouts are described in docs/exports.md.
            """)

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    @Option(name: .shortAndLong, help: "csv, npz, h5 or vts (default: from --output's extension, else npz).")
    var format: String?

    @Option(name: .shortAndLong, help: "Output file (default: the dataset's name with the format's extension).")
    var output: String?

    @Option(help: "VTK: the metric used as height.")
    var metric: String = "train_loss"

    @Flag(help: "VTK: use log10 of the height metric.")
    var log = false

    @Option(help: "Lottery and training sweeps: also write every task's output artifacts (a lottery level's trained weights, mask and rewind point, safetensors) into this directory, named <task>-<seed>-<branch>-L<level>-<name>.safetensors.")
    var artifacts: String?

    @Option(help: "Also write the directions as safetensors: d1.<parameter> and d2.<parameter>, shaped like the parameters (F32). The grid is exported as well.")
    var directions: String?

    func run() throws {
        if let kind = try StoredRuns.kind(of: dataset), StoredRuns.kinds.contains(kind) {
            try exportRuns()
            return
        }
        let chosen: ExportFormat
        if let format {
            guard let f = ExportFormat(rawValue: format.lowercased()) ?? ExportFormat(fileExtension: format.lowercased()) else {
                throw CLI.Failure(message: "unknown format '\(format)'; choose csv, npz, h5 or vts")
            }
            chosen = f
        } else if let output, let f = ExportFormat(fileExtension: (output as NSString).pathExtension.lowercased()) {
            chosen = f
        } else {
            chosen = .npz
        }
        let (table, spec, _) = try SurfaceResults.load(dataset)
        if artifacts != nil { throw CLI.Failure(message: "--artifacts applies to lottery and training sweeps; a surface sweep exports --directions") }
        if let directions { try SurfaceResults.writeDirections(dataset: dataset, spec: spec, to: directions) }
        let out = output ?? ((dataset as NSString).deletingPathExtension + "." + chosen.fileExtension)
        do {
            try SurfaceExporter.write(table, format: chosen, to: out, heightMetric: metric, logScale: log)
        } catch {
            throw CLI.Failure(message: "\(error)")
        }
        let done = table.attributes["points_done"] ?? "?"
        print("wrote \(out) (\(chosen.rawValue), \(table.nx)\(table.y != nil ? "×\(table.ny)" : "") grid, \(done)/\(table.pointCount) points, metrics \(table.metricNames.joined(separator: ", ")))")
    }

    /// Lottery and training sweeps: the `runs` and `curve_points` tables.
    private func exportRuns() throws {
        var requested = (format ?? output.map { ($0 as NSString).pathExtension } ?? "npz").lowercased()
        if format == nil && !["csv", "npz"].contains(requested) { requested = "npz" }  // --output without a known extension
        guard requested == "csv" || requested == "npz" else {
            throw CLI.Failure(message: "a lottery or training sweep exports as csv or npz (its results are tables, not a grid); got '\(requested)'")
        }
        if directions != nil { throw CLI.Failure(message: "--directions applies to surface sweeps only") }
        if metric != "train_loss" || log { throw CLI.Failure(message: "--metric and --log apply to surface sweeps (VTK height); a lottery or training sweep exports every column") }
        let (rows, _, runs, curves, attributes, _) = try StoredRuns.load(dataset)
        if let artifacts { try StoredRuns.writeArtifacts(dataset: dataset, runs: rows, to: artifacts) }
        var base = output ?? (dataset as NSString).deletingPathExtension
        if ["csv", "npz"].contains((base as NSString).pathExtension.lowercased()) { base = (base as NSString).deletingPathExtension }
        do {
            if requested == "csv" {
                for (suffix, table) in [("runs", runs), ("curves", curves)] {
                    let path = "\(base)-\(suffix).csv"
                    try table.csv().write(toFile: path, atomically: true, encoding: .utf8)
                    print("wrote \(path) (\(table.rowCount) rows, columns \(table.columns.map(\.name).joined(separator: ", ")))")
                }
            } else {
                let path = base + ".npz"
                let bytes = try RunTable.npz([("runs", runs), ("curves", curves)], attributes: attributes)
                guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                    throw CLI.Failure(message: "\(path): cannot write the file")
                }
                print("wrote \(path) (runs: \(runs.rowCount) rows, curves: \(curves.rowCount) rows)")
            }
        } catch let e as ExportError {
            throw CLI.Failure(message: "\(e)")
        } catch let e as CLI.Failure {
            throw e
        } catch {
            throw CLI.Failure(message: "\(base): cannot write: \(error.localizedDescription)")
        }
    }
}
