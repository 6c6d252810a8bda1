import ArgumentParser
import Foundation
import Synchronization
import TerrainCoordinator
import TerrainSweeps
import TerrainWeb

/// `terrain serve DATASET [--http HOST:PORT]`: the live page of any dataset, read-only.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a sweep's live page, JSON API and /metrics from its dataset, read-only (a finished sweep, or one a coordinator on this machine is writing).",
        discussion: "Default address \(WebBinding.defaultAddress). Stops on SIGINT/SIGTERM. docs/http.md describes the API.")

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    @OptionGroup var http: HTTPOptions

    func run() throws {
        do { _ = try StoredSweep(path: dataset) } catch let e as ResultsError { throw CLI.Failure(message: e.message) }
        Coordinator.installSignalHandlers()
        // The server lives until the process exits on SIGINT/SIGTERM.
        guard try http.start(dataset: dataset, live: nil, default: WebBinding.defaultAddress) != nil else { return }
        while !Coordinator.stopRequested.load(ordering: .relaxed) { usleep(100_000) }
    }
}
