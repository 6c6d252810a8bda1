import ArgumentParser
import Foundation
import TerrainExport

/// `terrain export DATASET --format npz`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a surface sweep's grid: CSV, NPZ (numpy), HDF5 (loss-landscape layout) or VTK (.vts, ParaView).",
        discussion: "Missing points (a sweep still running) are NaN. Formats and array layouts are described in docs/exports.md.")

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

    @Option(help: "Also write the directions as safetensors: d1.<parameter> and d2.<parameter>, shaped like the parameters (F32). The grid is exported as well.")
    var directions: String?

    func run() throws {
        let chosen: ExportFormat
        if let format {
            guard let f = ExportFormat(rawValue: format.lowercased()) ?? ExportFormat(fileExtension: format.lowercased()) else {
                throw ValidationError("unknown format '\(format)'; choose csv, npz, h5 or vts")
            }
            chosen = f
        } else if let output, let f = ExportFormat(fileExtension: (output as NSString).pathExtension.lowercased()) {
            chosen = f
        } else {
            chosen = .npz
        }
        let (table, spec, _) = try SurfaceResults.load(dataset)
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
}
