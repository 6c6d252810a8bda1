import Foundation
import TerrainDataset
import TerrainExport

/// What lottery and training sweeps share in `terrain export` and `render`: their results are
/// the `runs` and `curve_points` tables.
enum RunSweepResults {
    /// The two tables with descriptive attributes; with `options.artifacts`, every task's
    /// output artifacts are written into that directory too.
    static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        if options.directions != nil { throw ResultsError("--directions applies to surface sweeps only") }
        if options.setsHeight {
            throw ResultsError("--metric and --log apply to surface sweeps (VTK height); a lottery or training sweep exports every column")
        }
        let ds = sweep.dataset
        let runs = RunResults.table(try ds.columns(of: .runs))
        let curves = RunResults.table(try ds.columns(of: .curvePoints))
        let progress = try ds.readProgress()
        let attributes = ["kind": sweep.kind, "spec_hash": sweep.specHash, "tasks": String(progress.total),
                          "runs_done": String(runs.rowCount), "state": progress.state]
        return SweepExport(.tables(runs: runs, curves: curves, attributes: attributes)) {
            try options.artifacts.map { [try writeArtifacts(sweep, to: $0)] } ?? []
        }
    }

    /// Writes every output artifact of the sweep's tasks into `directory`, named after the
    /// task and, for lottery levels, its seed, branch and level. Returns what it wrote.
    static func writeArtifacts(_ sweep: StoredSweep, to directory: String) throws -> String {
        let ds = sweep.dataset
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ResultsError("\(directory): cannot create the directory: \(error.localizedDescription)")
        }
        var labels = [UInt64: String]()
        for r in try ds.runs() {
            var label = "\(r.task)-s\(r.replicateSeed)"
            if let b = r.branch, let l = r.level { label += "-\(b)-L\(l)" }
            labels[UInt64(r.task)] = label
        }
        var written = 0
        for a in try ds.resultArtifacts() {
            guard let bytes = try ds.artifact(a.hash) else { continue }
            let path = "\(directory)/\(labels[a.task] ?? String(a.task))-\(a.name).safetensors"
            // Written to a temporary name and renamed: a full disk leaves no partial file.
            do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw ResultsError("\(path): cannot write the file: \(SurfaceExporter.describe(error))")
            }
            written += 1
        }
        return "wrote \(written) artifacts to \(directory)"
    }

    /// The figures asked for, checked against what the kind draws, and their file names.
    struct FigureChoice {
        let chosen: String
        let figures: [String]
        let output: String?
        let base: String

        /// - Parameters: `draws` the kind's figures (without `all`), `defaultFigure` the one drawn without `--figure`.
        init(_ sweep: StoredSweep, options o: RenderOptions, draws: [String], defaultFigure: String) throws {
            if o.setsSurfaceOptions {
                throw ResultsError("--metric, --log, --density, --contours and --max-cells apply to surface sweeps; a \(sweep.kind) sweep takes --figure")
            }
            let allowed = draws + ["all"]
            chosen = o.figure ?? defaultFigure
            guard allowed.contains(chosen) else {
                throw ResultsError("--figure \(chosen): a \(sweep.kind) sweep draws \(allowed.joined(separator: ", "))")
            }
            if chosen == "all" && o.output != nil { throw ResultsError("--figure all writes every figure under its default name; drop --output") }
            figures = chosen == "all" ? draws : [chosen]
            output = o.output
            base = sweep.base
        }

        /// The file of `figure` for the grid variant `slug` (empty: the only variant).
        func path(_ figure: String, _ slug: String = "") -> String {
            let suffix = slug.isEmpty ? "" : "-" + slug
            if let output, chosen != "all" {
                return slug.isEmpty ? output : (output as NSString).deletingPathExtension + suffix + ".svg"
            }
            return "\(base)-\(figure)\(suffix).svg"
        }
    }
}
