import Foundation
import TerrainDataset

/// What a running coordinator tells an observer (the HTTP side's metrics) as it works.
///
/// The calls come from the coordinator's single thread, in the middle of its loop: an
/// implementation must return at once (update atomics or state only that thread touches;
/// at most *try* a lock another thread may hold), never block, and never call back into
/// the coordinator. The HTTP server reads what the observer has
/// gathered on its own threads; it never touches the coordinator's socket or state.
public protocol CoordinatorObserver: AnyObject, Sendable {
    /// A message arrived (`bytes`: its frames without the routing id).
    func received(bytes: Int)
    /// A message was handed to the socket (`bytes`: its encoded frames).
    func sent(bytes: Int)
    /// A message was dropped because it did not decode or was not a worker's message.
    func malformed()
    /// A well-formed message was refused (`reason`: `unknown-peer`, `bad-lease`,
    /// `invalid-result`).
    func rejected(reason: String)
    /// A task was sent to a worker, `seconds` after the event that caused the dispatch
    /// arrived (the coordinator's own dispatch latency); `attempt` > 1 is a retry.
    func dispatched(kind: String, attempt: UInt64, seconds: Double)
    /// A commit wrote `results` results (and other pending rows) in `seconds`.
    func committed(results: Int, seconds: Double)
    /// A result of a task of `kind` was accepted; `seconds` is the worker-reported compute time.
    func completed(kind: String, seconds: Double)
    /// A task was quarantined (failed for good).
    func quarantined(task: UInt64)
    /// The coordinator's state about twice a second (on its thread).
    func published(_ snapshot: CoordinatorSnapshot)
    /// The loop has ended and the final snapshot was published: the one call that may wait
    /// (to hand over what the observer still holds).
    func closed()
}

extension CoordinatorObserver {
    /// Nothing to hand over.
    public func closed() {}
}

/// The coordinator's state as the HTTP side shows it: a value, copied out of the loop.
public struct CoordinatorSnapshot: Sendable, Equatable {
    /// The progress row just written to the dataset.
    public var progress: SweepDataset.Progress
    /// Connected workers, by name.
    public var workers: [LiveWorker]
    /// Wall-clock time of the snapshot (seconds since 1970).
    public var time: Double

    /// Creates a snapshot.
    public init(progress: SweepDataset.Progress, workers: [LiveWorker], time: Double) {
        self.progress = progress
        self.workers = workers
        self.time = time
    }
}

/// A connected worker as the scheduler sees it.
public struct LiveWorker: Sendable, Equatable, Codable {
    /// The worker's name (from its hello).
    public var name: String
    /// Host and pid from its hello (`host pid N`).
    public var host: String
    /// Tasks leased to it now, in id order.
    public var running: [UInt64]
    /// Results it returned since it said hello.
    public var results: Int
    /// When the coordinator last heard from it (wall-clock seconds since 1970).
    public var lastSeen: Double

    /// Creates a worker row.
    public init(name: String, host: String, running: [UInt64], results: Int, lastSeen: Double) {
        self.name = name
        self.host = host
        self.running = running
        self.results = results
        self.lastSeen = lastSeen
    }
}

extension Scheduler {
    /// The connected workers, sorted by name; `now` and `wall` convert the scheduler's
    /// monotonic times to wall-clock ones.
    package func liveWorkers(now: Double, wall: Double) -> [LiveWorker] {
        workers.values.map {
            LiveWorker(name: $0.name, host: $0.key, running: $0.running.sorted(), results: $0.results,
                       lastSeen: wall - max(0, now - $0.lastHeard))
        }.sorted { $0.name < $1.name }
    }
}
