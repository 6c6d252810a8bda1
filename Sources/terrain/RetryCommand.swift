import ArgumentParser
import Foundation
import TerrainDataset

/// `terrain retry DATASET [--task N…]`: puts quarantined tasks back in the queue.
struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put failed (quarantined) tasks back in the queue, with the tasks that failed because they did; run the coordinator again to compute them.",
        discussion: "Without --task every failed task is retried. The dataset must not be in use by a coordinator. Its summaries are dropped and recomputed when the sweep finishes again.")

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    @Option(name: .customLong("task"), help: "A failed task to retry (repeatable); its failed dependents come along.")
    var tasks: [UInt64] = []

    func run() throws {
        let ids: [UInt64]
        do {
            guard FileManager.default.fileExists(atPath: dataset) else { throw DatasetError.io("\(dataset): no such dataset") }
            // The coordinator's lock: a running coordinator owns its queue.
            let lock = try DatasetLock(path: dataset)
            guard case .sweep(let info) = try SweepDataset.inspect(dataset), info.specHash != nil else {
                throw DatasetError.foreign("\(dataset): not a Terrain sweep dataset")
            }
            ids = try SweepDataset(path: dataset, lock: lock).retry(tasks.isEmpty ? nil : tasks)
        } catch let e as DatasetError {
            throw CLI.Failure(message: e.description)
        }
        if ids.isEmpty {
            print("\(dataset): no failed tasks")
        } else {
            let list = ids.prefix(20).map(String.init).joined(separator: ", ") + (ids.count > 20 ? ", … (\(ids.count) in all)" : "")
            print("\(dataset): re-queued \(ids.count) task\(ids.count == 1 ? "" : "s") (\(list)); run the coordinator (or terrain run) with the sweep's spec to compute them")
        }
    }
}
