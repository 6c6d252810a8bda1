import Foundation
import Hummingbird
import TerrainCoordinator
import TerrainDataset
import TerrainExport
import TerrainSweeps

/// The read side of the HTTP server: a sweep's dataset opened read-only, answered as JSON,
/// with every answer cached so that many polling clients cost the dataset one read per
/// interval (and nothing at all of the coordinator, whose state arrives as snapshots
/// through ``WebMetrics``).
///
/// Dataset reads are budgeted: an answer whose reads took `t` seconds is reused for at least
/// `max(interval, budget × t)`, so that aggregates over a large dataset (a 501×501 surface has
/// 251,001 results) cost at most 1/`budget` of a core however many clients poll. Beside a
/// live coordinator the counts of `/api/status` and the connected workers come from its
/// latest snapshot at every answer; only the dataset-derived fields (results, events, workers
/// no longer connected) wait for their budget.
///
/// Thread-safe: one lock serialises the reads (they are short and cached). The coordinator's
/// thread never takes it.
public final class SweepView: @unchecked Sendable {
    /// The dataset file.
    public let path: String
    /// The coordinator's metrics and snapshots; `nil` for `terrain serve`.
    public let live: WebMetrics?
    /// How long a status-like answer is reused at least (seconds).
    let interval: Double
    /// An answer whose making took `t` seconds is reused for at least `budget × t`.
    static let budget = 100.0
    private let lock = NSLock()
    private var sweep: StoredSweep?
    private var memo: [String: Memo] = [:]
    private var version = (time: -1.0, cost: 0.0, count: 0)
    private var liveMetrics = (time: -1.0, body: [UInt8]())

    private struct Memo {
        var time: Double
        /// Seconds the making took.
        var cost: Double
        var version: Int
        var value: Any
    }

    /// Serves the dataset at `path` (which may not exist yet: a coordinator creates it).
    public init(path: String, live: WebMetrics? = nil, interval: Double = 0.5) {
        self.path = path
        self.live = live
        self.interval = interval
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()

    /// The answer for `key`, recomputed when older than its interval and budget (or, for
    /// `byResults` answers such as figures, only when the number of results changed).
    func cached(_ key: String, byResults: Bool = false, _ make: (StoredSweep) throws -> [UInt8]) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return try remembered(key, byResults: byResults, make)
    }

    /// ``cached(_:byResults:_:)`` with the lock held.
    private func remembered<T>(_ key: String, byResults: Bool = false, budgeted: Bool = true, _ make: (StoredSweep) throws -> T) throws -> T {
        let s = try opened()
        let now = ProcessInfo.processInfo.systemUptime
        if let m = memo[key], let value = m.value as? T {
            if !byResults && now - m.time < max(interval, budgeted ? Self.budget * m.cost : 0) { return value }
            if byResults, try resultsVersion(s, now: now) == m.version || now - m.time < Self.budget * m.cost { return value }
        }
        let value = try make(s)
        let cost = ProcessInfo.processInfo.systemUptime - now
        memo[key] = Memo(time: now, cost: cost, version: byResults ? try resultsVersion(s, now: now) : 0, value: value)
        return value
    }

    private func opened() throws -> StoredSweep {
        if let sweep { return sweep }
        guard FileManager.default.fileExists(atPath: path) else { throw HTTPFailure(.serviceUnavailable, "\(path) does not exist yet") }
        do { sweep = try StoredSweep(path: path) } catch { throw HTTPFailure(.serviceUnavailable, "\(error)") }
        return sweep!
    }

    /// Results committed (plus a million per failed task), read at most once per interval
    /// and budget.
    private func resultsVersion(_ s: StoredSweep, now: Double) throws -> Int {
        if now - version.time >= max(interval, Self.budget * version.cost) {
            let count = try s.dataset.resultCount() + 1_000_000 * (try s.dataset.taskCounts().byStatus["failed"] ?? 0)
            version = (now, ProcessInfo.processInfo.systemUptime - now, count)
        }
        return version.count
    }

    static func json<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try encoder.encode(value)) }

    // MARK: Answers

    /// `/api/status`. Beside a live coordinator the counts come from its latest snapshot (every
    /// interval) and the dataset's part (results, events) within its budget.
    func status() throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return try remembered("status", budgeted: live?.latest == nil) { s in
            let counts: StatusCounts = try self.live?.latest == nil ? Self.statusCounts(s, live: false) : self.remembered("status-dataset") { try Self.statusCounts($0, live: true) }
            return try Self.json(self.makeStatus(s, counts: counts))
        }
    }

    /// What `/api/status` reads from the dataset.
    struct StatusCounts {
        var progress: SweepDataset.Progress
        var byStatus: [String: Int]
        var results: Int
        var events: [String: Int]
    }

    /// The dataset's part of `/api/status`; `live`: only what a snapshot does not carry.
    static func statusCounts(_ s: StoredSweep, live: Bool) throws -> StatusCounts {
        let ds = s.dataset
        return StatusCounts(progress: live ? SweepDataset.Progress(state: "running") : try ds.readProgress(), byStatus: live ? [:] : try ds.taskCounts().byStatus,
                            results: try ds.resultCount(), events: try ds.eventKindCounts())
    }

    func makeStatus(_ s: StoredSweep, counts given: StatusCounts? = nil) throws -> StatusAnswer {
        var p: SweepDataset.Progress
        var counts: [String: Int]
        let db = try given ?? Self.statusCounts(s, live: false)
        if let snap = live?.latest {
            p = snap.progress
            counts = ["done": p.done, "failed": p.failed, "running": p.running, "queued": p.queued, "waiting": p.waiting]
        } else {
            p = db.progress
            counts = db.byStatus
        }
        let now = Date().timeIntervalSince1970
        var state = p.state
        if live == nil && state == "running" && now - p.updated > 10 { state = "not running" }
        let total = counts.values.reduce(0, +)
        let done = counts["done"] ?? 0, failed = counts["failed"] ?? 0
        let remaining = total - done - failed
        let eta: Double? = p.rate > 0 && remaining > 0 && state == "running" ? Double(remaining) / p.rate : nil
        let end = state == "running" || state == "stopping" ? now : p.updated
        return StatusAnswer(name: s.name, kind: s.kind, specHash: s.specHash, state: state, total: total, done: done, failed: failed,
                            running: counts["running"] ?? 0, queued: counts["queued"] ?? 0, waiting: counts["waiting"] ?? 0,
                            workers: state == "running" || state == "stopping" ? p.workers : 0, rate: p.rate, eta: eta, started: p.started,
                            updated: p.updated, elapsed: p.started > 0 ? max(0, end - p.started) : 0, results: db.results,
                            live: live != nil, events: db.events)
    }

    /// `/metrics`: beside a live coordinator its registry, rendered at most once per interval
    /// (a scrape is at most that old); for `terrain serve` the dataset's metrics, within the
    /// budget.
    func metrics() throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        guard let live else { return try remembered("metrics") { Array(try WebMetrics.fromDataset($0.dataset).utf8) } }
        let now = ProcessInfo.processInfo.systemUptime
        if now - liveMetrics.time >= interval { liveMetrics = (now, Array(live.exposition().utf8)) }
        return liveMetrics.body
    }

    /// `/api/workers`: connected workers from the coordinator's snapshot (every interval), and
    /// every worker the dataset remembers (within the budget).
    func workers() throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return try remembered("workers", budgeted: live?.latest == nil) { s in
            var rows = [String: WorkerAnswer]()
            for w in try self.remembered("workers-dataset", { try $0.dataset.workerActivity() }) {
                rows[w.name] = WorkerAnswer(name: w.name, host: w.host, connected: false, running: w.running, results: w.results,
                                            lastSeen: w.lastSeen, busySeconds: w.busySeconds)
            }
            for w in self.live?.latest?.workers ?? [] {
                var r = rows[w.name] ?? WorkerAnswer(name: w.name, host: w.host, connected: true, running: [], results: 0, lastSeen: nil, busySeconds: 0)
                r.connected = true
                // The dataset's row also names the scheduler placement (SLURM job/node, pod) from the hello.
                if !(r.host ?? "").hasPrefix(w.host) { r.host = w.host }
                r.running = w.running
                r.lastSeen = w.lastSeen
                rows[w.name] = r
            }
            return try Self.json(rows.values.sorted { ($0.connected ? 0 : 1, $0.name) < ($1.connected ? 0 : 1, $1.name) })
        }
    }

    /// `/api/tasks?status=…&limit=…`.
    func tasks(status: String?, limit: Int) throws -> [UInt8] {
        try cached("tasks \(status ?? "*") \(limit)") { s in try Self.json(try s.dataset.taskRows(status: status, limit: limit)) }
    }

    /// `/api/events?limit=…`, newest first.
    func events(limit: Int) throws -> [UInt8] {
        try cached("events \(limit)") { s in try Self.json(try s.dataset.recentEvents(limit: limit)) }
    }

    /// `/api/spec`: the stored spec (YAML) and provenance.
    func spec() throws -> [UInt8] {
        try cached("spec", byResults: true) { s in
            try Self.json(["name": s.name, "kind": s.kind, "spec_hash": s.specHash, "spec": s.specText,
                           "terrain_version": s.dataset.meta("terrain_version") ?? ""])
        }
    }

    /// `/api/surface?metric=…`: the grid, NaN (no result yet) as null. 404 for other kinds.
    func surface(metric: String?) throws -> [UInt8] {
        try cached("surface \(metric ?? "")", byResults: true) { s in
            guard s.kind == "surface" else { throw HTTPFailure(.notFound, "a \(s.kind) sweep has no surface (/api/surface serves surface sweeps)") }
            guard case .grid(let table) = try s.sweepKind.export(s, options: ExportOptions()).content else {
                throw HTTPFailure(.notFound, "this sweep has no grid")
            }
            let name = metric ?? table.metricNames.first ?? "train_loss"
            guard let values = table.values(of: name) else {
                throw HTTPFailure(.badRequest, "no metric '\(name)'; this surface has \(table.metricNames.joined(separator: ", "))")
            }
            return try Self.json(SurfaceAnswer(metric: name, metrics: table.metricNames, x: table.x, y: table.y,
                                               values: values.map { $0.isFinite ? $0 : nil }, done: values.filter(\.isFinite).count))
        }
    }

    /// `/api/runs`: the `runs` rows and their curves (training and lottery sweeps).
    func runs() throws -> [UInt8] {
        try cached("runs", byResults: true) { s in
            guard s.kind == "lottery" || s.kind == "training" else {
                throw HTTPFailure(.notFound, "a \(s.kind) sweep has no runs (/api/runs serves training and lottery sweeps)")
            }
            return try Self.json(RunsAnswer(runs: try s.dataset.runs(), curves: try s.dataset.curvePoints()))
        }
    }

    /// `/api/figures`: the kind's figures as SVG (those `terrain render --figure all` draws).
    func figures() throws -> [UInt8] {
        try cached("figures", byResults: true) { s in try Self.json(FigureSet.render(s)) }
    }
}

/// An error answered with an HTTP status and a JSON message.
struct HTTPFailure: Error {
    var status: HTTPResponse.Status
    var message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}
