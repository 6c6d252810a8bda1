import ArgumentParser
import TerrainCore
import TerrainSweeps

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
}
