import ArgumentParser
import Foundation
import Logging
import TerrainWire

/// The `terrain` command line.
@main
struct Terrain: ParsableCommand {
    /// Log lines (coordinator and worker events) go to standard error at level `notice` and
    /// above; set `TERRAIN_LOG=info` (or `debug`) for more.
    static func main() {
        let level = ProcessInfo.processInfo.environment["TERRAIN_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "terrain",
        abstract: "Study neural-network loss landscapes: train models and run distributed sweeps.",
        version: "0.1.0 (libzmq \(TerrainWire.zmqVersion))",
        subcommands: [Train.self, Validate.self, Evaluate.self, Run.self, CoordinatorCommand.self, WorkerCommand.self,
                      StatusCommand.self, ExportCommand.self, RenderCommand.self, KeysCommand.self, DataCommand.self, RetryCommand.self,
                      ComputeCommand.self])
}
