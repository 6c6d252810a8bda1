import ArgumentParser
import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainWire

/// The coordinator's options for batch systems: where it publishes its endpoint, which host
/// name it advertises, and whether its dataset may sit on a network filesystem.
struct CoordinatorClusterOptions: ParsableArguments {
    @Option(help: "Once bound, write the endpoint workers should connect to into this file (atomically). A clean exit removes it, or, when the sweep is finished, leaves the line `finished` (late workers then exit at once). Workers read it with --connect @FILE. With an ephemeral port (tcp://0.0.0.0:*) this is how workers learn the port.")
    var endpointFile: String?

    @Option(help: "The host name or address written into --endpoint-file for a wildcard bind (default: $TERRAIN_HOST, else this machine's host name).")
    var advertiseHost: String?

    @Flag(help: "Accept a dataset on a network filesystem (NFS, Lustre, GPFS, …). Only safe when one host at a time opens it and flock is coherent there (deploy/README.md).")
    var allowNetworkFilesystem = false

    /// Checks, before anything is bound or opened, that the dataset's filesystem is local (or
    /// allowed) and that the endpoint file can be written.
    func check(dataset: String) throws {
        do { try DatasetFilesystem.check(dataset, allowNetwork: allowNetworkFilesystem) } catch {
            throw CLI.Failure(message: "\(error)")
        }
        if let endpointFile {
            do { try EndpointFile.checkWritable(endpointFile) } catch { throw CLI.Failure(message: "\(error)") }
        }
    }

    /// The publisher of this run's endpoint file (a no-op without `--endpoint-file`).
    func publisher(sweep: String, dataset: String) -> EndpointPublisher {
        EndpointPublisher(path: endpointFile, host: EndpointFile.advertiseHost(advertiseHost), sweep: sweep, dataset: dataset)
    }
}

/// Writes the endpoint file once the coordinator is bound and removes it when it exits.
final class EndpointPublisher: @unchecked Sendable {
    let path: String?
    let host: String
    let sweep: String
    let dataset: String
    private let lock = NSLock()
    private var written: String?

    init(path: String?, host: String, sweep: String, dataset: String) {
        self.path = path
        self.host = host
        self.sweep = sweep
        self.dataset = dataset
    }

    /// Called with the bound endpoints. A failure to write is reported and stops the
    /// coordinator (workers could never find it).
    func publish(_ bound: [String]) {
        guard let path, let endpoint = EndpointFile.choose(bound, host: host) else { return }
        let stamp = ISO8601DateFormatter().string(from: Date())
        do {
            let text = try EndpointFile.write(path, endpoint: endpoint,
                                              comment: "terrain coordinator pid \(getpid()) on \(host), sweep \(sweep), dataset \(dataset), \(stamp)")
            lock.lock()
            written = text
            lock.unlock()
            FileHandle.standardError.write(Data("coordinator: endpoint \(endpoint) written to \(path)\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("Error: \(error); stopping\n".utf8))
            Coordinator.requestStop()
        }
    }

    /// Removes the file if it still holds what this coordinator wrote — or, when the sweep is
    /// finished, leaves the `finished` line there, so that late workers leave at once.
    func withdraw(finished: Bool) {
        lock.lock()
        let text = written
        lock.unlock()
        guard let path, let text else { return }
        if finished {
            EndpointFile.markFinished(path, ifHolds: text, comment: "sweep \(sweep) finished; dataset \(dataset)")
        } else {
            EndpointFile.remove(path, ifHolds: text)
        }
    }
}
