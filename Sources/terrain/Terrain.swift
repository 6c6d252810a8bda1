import ArgumentParser
import TerrainWire

/// The `terrain` command line.
@main
struct Terrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "terrain",
        abstract: "Study neural-network loss landscapes: train models and run distributed sweeps.",
        version: "0.1.0 (libzmq \(TerrainWire.zmqVersion))",
        subcommands: [Train.self, Validate.self, Evaluate.self, RunCommand.self, CoordinatorCommand.self, WorkerCommand.self,
                      StatusCommand.self, ExportCommand.self, RenderCommand.self, KeysCommand.self])
}
