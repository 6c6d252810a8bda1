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

    @Option(help: "Lottery and training sweeps: also write every task's output artifacts (a lottery level's trained weights, mask and rewind point; an SWA run's final and swa weights; safetensors) into this directory, named <task>-s<seed>-<branch>-L<level>-<name>.safetensors (runs: <task>-s<seed>-<name>.safetensors).")
    var artifacts: String?

    @Option(help: "Also write the directions as safetensors: d1.<parameter> and d2.<parameter>, shaped like the parameters (F32). The grid is exported as well.")
    var directions: String?

    func run() throws {
        let export: SweepExport
        do {
            let sweep = try StoredSweep(path: dataset)
            export = try sweep.sweepKind.export(sweep, options: ExportOptions(metric: metric, log: log, artifacts: artifacts, directions: directions))
        } catch let e as ResultsError {
            throw CLI.Failure(message: e.message)
        }
        switch export.content {
        case .grid(let table):
            let format = try gridFormat()
            try extras(export)
            try write(table, format: format)
        case let .tables(runs, curves, attributes):
            let csv = try tablesAsCSV()
            try extras(export)
            try write(runs: runs, curves: curves, attributes: attributes, csv: csv)
        case let .namedTables(tables, attributes):
            let csv = try tablesAsCSV()
            try extras(export)
            try write(tables, attributes: attributes, csv: csv)
        }
    }

    private func extras(_ export: SweepExport) throws {
        do { for line in try export.writeExtras() { print(line) } } catch let e as ResultsError { throw CLI.Failure(message: e.message) }
    }

    /// A grid's format: CSV, NPZ, HDF5 or VTK, from `--format`, else `--output`'s extension, else NPZ.
    private func gridFormat() throws -> ExportFormat {
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
        return chosen
    }

    private func write(_ table: SurfaceTable, format chosen: ExportFormat) throws {
        let out = output ?? ((dataset as NSString).deletingPathExtension + "." + chosen.fileExtension)
        do {
            try SurfaceExporter.write(table, format: chosen, to: out, heightMetric: metric, logScale: log)
        } catch {
            throw CLI.Failure(message: "\(error)")
        }
        let done = table.attributes["points_done"] ?? "?"
        print("wrote \(out) (\(chosen.rawValue), \(table.nx)\(table.y != nil ? "×\(table.ny)" : "") grid, \(done)/\(table.pointCount) points, metrics \(table.metricNames.joined(separator: ", ")))")
    }

    /// Whether run tables go to CSV (else NPZ): `--format`, else `--output`'s extension.
    private func tablesAsCSV() throws -> Bool {
        var requested = (format ?? output.map { ($0 as NSString).pathExtension } ?? "npz").lowercased()
        if format == nil && !["csv", "npz"].contains(requested) { requested = "npz" }  // --output without a known extension
        guard requested == "csv" || requested == "npz" else {
            throw CLI.Failure(message: "a lottery or training sweep exports as csv or npz (its results are tables, not a grid); got '\(requested)'")
        }
        return requested == "csv"
    }

    /// Run tables: CSV (`<output>-runs.csv`, `<output>-curves.csv`) or one NPZ archive.
    private func write(runs: RunTable, curves: RunTable, attributes: [String: String], csv: Bool) throws {
        try write([("runs", runs), ("curves", curves)], attributes: attributes, csv: csv)
    }

    /// Named tables: CSV (`<output>-<name>.csv` each) or one NPZ archive (`<name>.<column>`).
    private func write(_ tables: [(name: String, table: RunTable)], attributes: [String: String], csv: Bool) throws {
        var base = output ?? (dataset as NSString).deletingPathExtension
        if ["csv", "npz"].contains((base as NSString).pathExtension.lowercased()) { base = (base as NSString).deletingPathExtension }
        do {
            if csv {
                for (suffix, table) in tables {
                    let path = "\(base)-\(suffix).csv"
                    do { try table.csv().write(toFile: path, atomically: true, encoding: .utf8) } catch {
                        throw CLI.Failure(message: "\(path): cannot write the file: \(CLI.reason(error))")
                    }
                    print("wrote \(path) (\(table.rowCount) rows, columns \(table.columns.map(\.name).joined(separator: ", ")))")
                }
            } else {
                let path = base + ".npz"
                let bytes = try RunTable.npz(tables.map { ($0.name, $0.table) }, attributes: attributes)
                do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                    throw CLI.Failure(message: "\(path): cannot write the file: \(CLI.reason(error))")
                }
                print("wrote \(path) (\(tables.map { "\($0.name): \($0.table.rowCount) rows" }.joined(separator: ", ")))")
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
