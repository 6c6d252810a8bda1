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
        discussion: """
            Every command reads a YAML spec (docs/spec.md). Its model: section names a family \
            (kind: mlp, cnn or resnet, configurable) or a preset of the landscape papers' code with \
            PyTorch's parameter names: resnet20, resnet56, resnet110, their twins without skip \
            connections resnet20_noshort, resnet56_noshort, resnet110_noshort, and vgg9, e.g. \
            `model: {kind: resnet56}`. Checkpoints are PyTorch state_dicts in safetensors; \
            docs/checkpoints.md shows how to load them in PyTorch and how to bring a ResNet trained \
            there (python3 docs/pytorch_presets.py convert).
            """,
        version: "0.1.0 (libzmq \(TerrainWire.zmqVersion))",
        subcommands: [Train.self, Validate.self, Evaluate.self, Run.self, CoordinatorCommand.self, WorkerCommand.self,
                      StatusCommand.self, ExportCommand.self, RenderCommand.self, KeysCommand.self, DataCommand.self, RetryCommand.self,
                      ComputeCommand.self, ServeCommand.self, ReportCommand.self])
}
