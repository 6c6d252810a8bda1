import Foundation
import Prometheus
import TerrainCoordinator
import TerrainDataset

/// The Prometheus metrics of `/metrics` (docs/http.md lists every name).
///
/// Beside a live coordinator it is the coordinator's ``CoordinatorObserver``. The coordinator's
/// thread never waits for a request: counters and gauges are atomics; histogram observations
/// and the ``CoordinatorSnapshot`` are gathered in state only that thread touches and handed
/// over about twice a second (with each snapshot) under a lock the coordinator only *tries*
/// — if a request holds it, the hand-over is retried at the next call. Requests read the
/// snapshot and render the registry under that lock. For `terrain serve` (no coordinator in
/// this process) the dataset-derived metrics are recomputed from the dataset at each scrape.
public final class WebMetrics: CoordinatorObserver, @unchecked Sendable {
    /// Histogram buckets of dispatch and commit latency (seconds): 10 µs … 10 s.
    static let latencyBuckets: [Double] = [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
    /// Histogram buckets of task durations (seconds): 1 ms … 1 h.
    static let durationBuckets: [Double] = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]

    let registry = PrometheusCollectorRegistry()
    /// Held by requests reading the snapshot or rendering, tried by the coordinator.
    private let shared = NSLock()
    /// The latest snapshot handed over (under `shared`).
    private var snapshot: CoordinatorSnapshot?

    // The coordinator thread's own state (no lock): observations not yet handed over.
    private var unpublished: CoordinatorSnapshot?
    private var dispatchSeconds: [Double] = [], commitSeconds: [Double] = []
    private var taskSeconds: [String: [Double]] = [:]
    private var handOverPending = false
    private var taskHistograms: [String: ValueHistogram] = [:]
    private var rejectedCounters: [String: Counter] = [:]
    private var dispatchCounters: [String: Counter] = [:]

    let receivedBytes, sentBytes, malformedMessages, results, retries, quarantines: Counter
    let dispatchLatency, commitLatency: ValueHistogram
    let workersConnected: Gauge
    let states: [String: Gauge]

    /// Creates the metrics of a live coordinator.
    public init() {
        receivedBytes = registry.makeCounter(name: "terrain_received_bytes_total", help: "Bytes of worker messages received (frames after the routing id).")
        sentBytes = registry.makeCounter(name: "terrain_sent_bytes_total", help: "Bytes of messages sent to workers.")
        malformedMessages = registry.makeCounter(name: "terrain_malformed_messages_total", help: "Messages dropped because they did not decode.")
        results = registry.makeCounter(name: "terrain_results_committed_total", help: "Results committed to the dataset by this coordinator.")
        retries = registry.makeCounter(name: "terrain_retries_total", help: "Dispatches of a task after its first attempt.")
        quarantines = registry.makeCounter(name: "terrain_quarantined_tasks_total", help: "Tasks marked failed for good.")
        dispatchLatency = registry.makeValueHistogram(name: "terrain_dispatch_latency_seconds", buckets: Self.latencyBuckets,
                                                      help: "Seconds from the message that freed a slot to the task being sent.")
        commitLatency = registry.makeValueHistogram(name: "terrain_commit_duration_seconds", buckets: Self.latencyBuckets,
                                                    help: "Seconds one dataset commit (one transaction) took.")
        workersConnected = registry.makeGauge(name: "terrain_workers_connected", help: "Workers connected to the coordinator.")
        var states = [String: Gauge]()
        for s in ["waiting", "queued", "running", "done", "failed"] {
            states[s] = registry.makeGauge(name: "terrain_tasks", labels: [("state", s)], help: "Tasks by state.")
        }
        self.states = states
    }

    /// The latest snapshot the coordinator handed over (`nil` before the first, or in `serve`).
    public var latest: CoordinatorSnapshot? {
        shared.lock()
        defer { shared.unlock() }
        return snapshot
    }

    /// The metrics in Prometheus text format 0.0.4 (histograms as of the latest hand-over).
    public func exposition() -> String {
        shared.lock()
        defer { shared.unlock() }
        return registry.emitToString()
    }

    // MARK: CoordinatorObserver (the coordinator's thread)

    public func received(bytes: Int) {
        receivedBytes.increment(by: Int64(bytes))
        if handOverPending { handOver(waiting: false) }
    }

    public func sent(bytes: Int) { sentBytes.increment(by: Int64(bytes)) }
    public func malformed() { malformedMessages.increment() }

    public func rejected(reason: String) {
        let c = rejectedCounters[reason] ?? registry.makeCounter(name: "terrain_rejected_messages_total", labels: [("reason", reason)],
                                                                  help: "Well-formed messages refused, by reason.")
        rejectedCounters[reason] = c
        c.increment()
    }

    public func dispatched(kind: String, attempt: UInt64, seconds: Double) {
        let c = dispatchCounters[kind] ?? registry.makeCounter(name: "terrain_dispatches_total", labels: [("kind", kind)],
                                                               help: "Tasks sent to workers, by task kind.")
        dispatchCounters[kind] = c
        c.increment()
        if attempt > 1 { retries.increment() }
        dispatchSeconds.append(seconds)
    }

    public func committed(results count: Int, seconds: Double) {
        results.increment(by: Int64(count))
        commitSeconds.append(seconds)
    }

    public func completed(kind: String, seconds: Double) {
        taskSeconds[kind, default: []].append(seconds.isFinite ? max(0, seconds) : 0)
    }

    public func quarantined(task: UInt64) { quarantines.increment() }

    public func published(_ s: CoordinatorSnapshot) {
        workersConnected.set(Double(s.workers.count))
        states["waiting"]?.set(Double(s.progress.waiting))
        states["queued"]?.set(Double(s.progress.queued))
        states["running"]?.set(Double(s.progress.running))
        states["done"]?.set(Double(s.progress.done))
        states["failed"]?.set(Double(s.progress.failed))
        unpublished = s
        handOver(waiting: false)
    }

    public func closed() { handOver(waiting: true) }

    /// Hands the snapshot and the gathered observations to the request side; without
    /// `waiting`, only if no request holds the lock now (else at the next message).
    private func handOver(waiting: Bool) {
        if waiting { shared.lock() } else if !shared.try() { handOverPending = true; return }
        if let s = unpublished { snapshot = s }
        for v in dispatchSeconds { dispatchLatency.record(v) }
        for v in commitSeconds { commitLatency.record(v) }
        for (kind, values) in taskSeconds { let h = taskHistogram(kind); for v in values { h.record(v) } }
        shared.unlock()
        unpublished = nil
        dispatchSeconds.removeAll(keepingCapacity: true)
        commitSeconds.removeAll(keepingCapacity: true)
        taskSeconds.removeAll(keepingCapacity: true)
        handOverPending = false
    }

    private func taskHistogram(_ kind: String) -> ValueHistogram {
        if let h = taskHistograms[kind] { return h }
        let h = registry.makeValueHistogram(name: "terrain_task_duration_seconds", labels: [("kind", kind)], buckets: Self.durationBuckets,
                                            help: "Compute seconds of accepted results, as workers report them, by task kind.")
        taskHistograms[kind] = h
        return h
    }

    // MARK: From a dataset

    /// The dataset-derived metrics of a dataset no coordinator in this process writes
    /// (`terrain serve`): tasks by state, results committed, retries, quarantines and task
    /// durations by kind, as the dataset holds them now.
    public static func fromDataset(_ dataset: SweepDataset) throws -> String {
        let m = WebMetrics()
        let counts = try dataset.taskCounts()
        for (state, gauge) in m.states { gauge.set(Double(counts.byStatus[state] ?? 0)) }
        let timings = try dataset.resultTimings()
        m.results.increment(by: Int64(timings.count))
        m.retries.increment(by: Int64(counts.attempts))
        m.quarantines.increment(by: Int64(counts.byStatus["failed"] ?? 0))
        for (kind, values) in timings.byKind.sorted(by: { $0.key < $1.key }) {
            let h = m.taskHistogram(kind)
            for v in values { h.record(v.isFinite ? max(0, v) : 0) }
        }
        let p = try dataset.readProgress()
        let fresh = p.state == "running" && Date().timeIntervalSince1970 - p.updated < 10
        m.workersConnected.set(Double(fresh ? p.workers : 0))
        return m.exposition()
    }
}
