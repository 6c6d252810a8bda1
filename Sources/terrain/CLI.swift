import ArgumentParser
import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainExport
import TerrainCore
import TerrainSweeps
import TerrainWire
import TerrainWeb

/// Shared plumbing of the subcommands: loading specs and turning library errors into
/// one-line messages and a non-zero exit.
enum CLI {
    /// A failure reported as `error: <message>` with exit code 1.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func loadSpec(_ path: String) throws -> TrainSpec {
        do { return try TrainSpec.load(path: path) } catch let e as SpecError { throw Failure(message: e.description) }
    }

    static func materialize(_ spec: TrainSpec) throws -> (model: Model<Float>, train: Dataset<Float>, test: Dataset<Float>?) {
        do { return try spec.materialize() } catch let e as SpecError { throw Failure(message: e.description) }
    }

    static func checkpointErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as TerrainError { throw Failure(message: e.description) }
    }

    /// This executable's path (`/proc/self/exe` resolved, else argv[0]): what worker processes
    /// and compute processes are started from.
    static var executablePath: String {
        if let resolved = realpath("/proc/self/exe", nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).path
    }

    /// Why a file write failed, as the operating system says it (``SurfaceExporter/describe(_:)``).
    static func reason(_ error: any Error) -> String { SurfaceExporter.describe(error) }

    static func loadSweep(_ path: String) throws -> SweepSpec {
        do { return try SweepSpec.load(path: path) } catch let e as SpecError { throw Failure(message: e.description) }
    }

    /// Runs a coordinator with a progress display; `started` is called once it is bound.
    static func runCoordinator(_ sweep: SweepSpec, endpoints: [String], dataset: String,
                               curve: (server: CurveKeyPair, allowedWorkers: Set<[UInt8]>)?, grace: Double, quiet: Bool,
                               insecure: Bool = false, observer: (any CoordinatorObserver)? = nil,
                               started: (@Sendable ([String]) -> Void)? = nil) throws -> CoordinatorSummary {
        let printer = ProgressPrinter()
        let name = sweep.name
        var onProgress: (@Sendable (SweepDataset.Progress) -> Void)? = nil
        if !quiet { onProgress = { @Sendable p in printer.show(p) } }
        let onBound: @Sendable ([String]) -> Void = { bound in
            let line = "coordinator: \(name) → \(dataset), listening on \(bound.joined(separator: ", "))\n"
            FileHandle.standardError.write(Data(line.utf8))
            started?(bound)
        }
        var options = CoordinatorOptions(endpoints: endpoints, datasetPath: dataset, curve: curve, gracePeriod: grace,
                                         onProgress: onProgress, onBound: onBound, allowInsecure: insecure)
        options.observer = observer
        options.provenance = TerrainBuild.provenance(executable: executablePath)
        let coordinator: Coordinator
        do { coordinator = try Coordinator(spec: sweep, options: options) } catch let e as DatasetError {
            throw Failure(message: e.description)
        } catch let e as SpecError {
            throw Failure(message: e.description)
        } catch let e as CoordinatorError {
            throw Failure(message: e.description)
        }
        let summary: CoordinatorSummary
        do { summary = try coordinator.run() } catch let e as DatasetError {
            // A full disk, a dataset gone read-only: the file is consistent; a re-run resumes.
            throw Failure(message: "\(e.description); the dataset holds every result committed before (a re-run resumes)")
        }
        if !quiet, let p = try? SweepDataset(path: dataset, readOnly: true).readProgress() { printer.finish(p) }
        print("\(summary.finished ? "finished" : "stopped"): \(summary.done) done, \(summary.failed) failed of \(summary.total) tasks; dataset \(dataset)")
        return summary
    }
}
