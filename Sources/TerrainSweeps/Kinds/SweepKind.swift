import Foundation
import TerrainCore
import TerrainDataset
import TerrainExport
import Yams

/// A kind of sweep — the spec's `kind:` — in one place: which top-level sections it reads,
/// how it parses and checks them, how it expands into tasks (of one or more ``TaskKind``s),
/// which files it depends on, what it derives when it finishes, and how `terrain status`,
/// `export` and `render` describe a stored sweep of this kind (docs/architecture.md).
public protocol SweepKind: Sendable {
    /// The spec's `kind:` value.
    static var name: String { get }
    /// Top-level sections it reads besides `name`, `kind`, `runtime` and `seed`; a spec of
    /// another kind that has one of them is refused.
    static var sections: [String] { get }

    /// Parses and checks the spec's sections (reading the files they name when the kind
    /// needs to check them). Throws ``SpecError`` naming the field.
    static func parse(_ root: Node, source: String, baseDirectory: String) throws -> Self

    /// The tasks, ids 1…n, with their dependencies, parameters and fixed inputs.
    func expand(source: String) throws -> [ExpandedTask]

    /// Absolute paths of the files the sweep's results depend on (checkpoints, data), so
    /// that a resumed sweep can tell when they changed; empty for kinds without files.
    var referencedFiles: [String] { get }

    /// Results derived from a finished sweep's outputs, stored in the `summaries` table as
    /// JSON values by key. The default derives none.
    func summaries(of outputs: [SweepDataset.CompletedTask], source: String) throws -> [String: String]

    /// Lines `terrain status` prints for a stored sweep of this kind, after the progress bar.
    static func statusLines(_ sweep: StoredSweep) throws -> [String]
    /// What `terrain export` writes for a stored sweep of this kind, with the extra files the
    /// options ask for. Throws ``ResultsError`` for options that do not apply.
    static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport
    /// The figures `terrain render` draws for a stored sweep of this kind. Throws
    /// ``ResultsError`` for options that do not apply.
    static func render(_ sweep: StoredSweep, options: RenderOptions) throws -> [RenderedFigure]
}

extension SweepKind {
    public func summaries(of outputs: [SweepDataset.CompletedTask], source: String) throws -> [String: String] { [:] }
    public static func statusLines(_ sweep: StoredSweep) throws -> [String] { [] }
    public static func export(_ sweep: StoredSweep, options: ExportOptions) throws -> SweepExport {
        throw ResultsError("\(sweep.path): a \(name) sweep has no results to export (export takes surface, lottery and training sweeps)")
    }
    public static func render(_ sweep: StoredSweep, options: RenderOptions) throws -> [RenderedFigure] {
        throw ResultsError("\(sweep.path): a \(name) sweep has nothing to draw (render takes surface, lottery and training sweeps)")
    }
}

/// A sweep as stored in its dataset, for the read-only commands.
public struct StoredSweep {
    /// The dataset file.
    public var path: String
    /// The dataset, opened read-only.
    public var dataset: SweepDataset
    /// The sweep kind (`meta.kind`).
    public var kind: String
    /// The spec's text and hash as stored.
    public var specText: String, specHash: String
    /// The directory relative paths in the spec were resolved against.
    public var baseDirectory: String
    /// The spec's `name:` (or the dataset's file name).
    public var name: String

    /// Opens `path` read-only. Throws ``ResultsError`` for anything that is not a sweep dataset.
    public init(path: String) throws {
        do { dataset = try SweepDataset(path: path, readOnly: true) } catch { throw ResultsError("\(error)") }
        guard let text = try dataset.meta("spec"), let hash = try dataset.specHash(), let kind = try dataset.meta("kind") else {
            throw ResultsError("\(path): not a Terrain sweep dataset")
        }
        self.path = path
        self.kind = kind
        specText = text
        specHash = hash
        baseDirectory = try dataset.meta("base_directory") ?? "/"
        name = SweepSpec.name(ofStoredSpec: text, fallback: (path as NSString).lastPathComponent)
    }

    /// The sweep kind that describes it.
    public var sweepKind: any SweepKind.Type {
        get throws {
            guard let k = SweepKinds.named(kind) else { throw ResultsError("\(path): unknown sweep kind '\(kind)' (this build knows \(SweepKinds.names.joined(separator: ", ")))") }
            return k
        }
    }

    /// The stored spec parsed again (a kind that checks its files when parsed reads them again).
    public func spec() throws -> SweepSpec {
        do { return try SweepSpec.parse(specText, source: "\(path) (stored spec)", baseDirectory: baseDirectory) } catch let e as SpecError {
            throw ResultsError(e.description)
        }
    }

    /// The dataset's name without its extension, the stem of default output names.
    public var base: String { (path as NSString).deletingPathExtension }
}

/// What `terrain export` was asked for, besides the format (chosen by the command from the
/// content: a grid or run tables).
public struct ExportOptions: Sendable {
    /// VTK: the height metric, and whether to take its log10 (surface sweeps).
    public var metric: String = "train_loss", log = false
    /// Write every task's output artifacts into this directory (lottery and training sweeps).
    public var artifacts: String?
    /// Also write the directions as safetensors here (surface sweeps).
    public var directions: String?

    /// Options with the command's defaults.
    public init(metric: String = "train_loss", log: Bool = false, artifacts: String? = nil, directions: String? = nil) {
        self.metric = metric
        self.log = log
        self.artifacts = artifacts
        self.directions = directions
    }

    /// Whether `--metric` or `--log` differ from their defaults.
    public var setsHeight: Bool { metric != "train_loss" || log }
}

/// What `terrain export` writes for a sweep, and the extra files it was asked for.
public struct SweepExport {
    public var content: ExportContent
    /// Writes the extra files (directions, artifacts) and returns a line for each; called by
    /// the command once it has checked the format, so a refused export writes nothing.
    public var writeExtras: () throws -> [String]

    /// Creates an export.
    public init(_ content: ExportContent, writeExtras: @escaping () throws -> [String] = { [] }) {
        self.content = content
        self.writeExtras = writeExtras
    }
}

/// What a sweep exports.
public enum ExportContent {
    /// A grid of points with one array per metric (CSV, NPZ, HDF5 or VTK).
    case grid(SurfaceTable)
    /// The `runs` and `curve_points` tables (CSV or NPZ) with descriptive attributes.
    case tables(runs: RunTable, curves: RunTable, attributes: [String: String])
    /// Several named tables (CSV: `<output>-<name>.csv` each; NPZ: `<name>.<column>` arrays
    /// in one archive) with descriptive attributes.
    case namedTables([(name: String, table: RunTable)], attributes: [String: String])
}

/// What `terrain render` was asked for.
public struct RenderOptions: Sendable {
    /// The output file (`nil`: default names next to the dataset).
    public var output: String?
    /// Surface sweeps: the metric, log scale, contour levels, the largest grid drawn cell by
    /// cell, and the eigenvalue density instead of the grid.
    public var metric = "train_loss", log = false, contours = 12, maxCells = 251, density = false
    /// Surface sweeps with `density`: the Gaussian broadening of the eigenvalue density
    /// (nil: the stored default, σ = Ritz range/100).
    public var sigma: SpectralDensity.Broadening?
    /// Lottery and training sweeps: the figure.
    public var figure: String?

    /// Options with the command's defaults.
    public init(output: String? = nil, metric: String = "train_loss", log: Bool = false, contours: Int = 12, maxCells: Int = 251,
                density: Bool = false, sigma: SpectralDensity.Broadening? = nil, figure: String? = nil) {
        self.output = output
        self.metric = metric
        self.log = log
        self.contours = contours
        self.maxCells = maxCells
        self.density = density
        self.sigma = sigma
        self.figure = figure
    }

    /// Whether any surface-only option differs from its default.
    public var setsSurfaceOptions: Bool { metric != "train_loss" || log || density || sigma != nil || contours != 12 || maxCells != 251 }
}

/// A rendered figure and where it goes.
public struct RenderedFigure: Sendable, Equatable {
    public var path: String
    public var svg: String

    /// Creates a figure.
    public init(path: String, svg: String) {
        self.path = path
        self.svg = svg
    }
}

/// Why a stored sweep's results cannot be shown as asked: a one-line message for the user.
public struct ResultsError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
