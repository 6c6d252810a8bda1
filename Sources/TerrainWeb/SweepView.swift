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
/// Thread-safe: one lock serialises the reads (they are short and cached).
public final class SweepView: @unchecked Sendable {
    /// The dataset file.
    public let path: String
    /// The coordinator's metrics and snapshots; `nil` for `terrain serve`.
    public let live: WebMetrics?
    /// How long a status-like answer is reused (seconds).
    let interval: Double
    private let lock = NSLock()
    private var sweep: StoredSweep?
    private var cache: [String: (time: Double, version: Int, body: [UInt8])] = [:]
    private var version = (time: -1.0, count: 0)

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

    /// The answer for `key`, recomputed when older than the interval (or, for `byResults`
    /// answers such as figures, only when the number of results changed).
    func cached(_ key: String, byResults: Bool = false, _ make: (StoredSweep) throws -> [UInt8]) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        let s = try opened()
        let now = ProcessInfo.processInfo.systemUptime
        if let c = cache[key] {
            if !byResults && now - c.time < interval { return c.body }
            if byResults, try resultsVersion(s, now: now) == c.version { return c.body }
        }
        let body = try make(s)
        cache[key] = (now, byResults ? try resultsVersion(s, now: now) : 0, body)
        return body
    }

    private func opened() throws -> StoredSweep {
        if let sweep { return sweep }
        guard FileManager.default.fileExists(atPath: path) else { throw HTTPFailure(.serviceUnavailable, "\(path) does not exist yet") }
        do { sweep = try StoredSweep(path: path) } catch { throw HTTPFailure(.serviceUnavailable, "\(error)") }
        return sweep!
    }

    /// Results committed, read at most once per interval.
    private func resultsVersion(_ s: StoredSweep, now: Double) throws -> Int {
        if now - version.time >= interval { version = (now, try s.dataset.resultCount() + 1_000_000 * (try s.dataset.taskCounts().byStatus["failed"] ?? 0)) }
        return version.count
    }

    static func json<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try encoder.encode(value)) }

    // MARK: Answers

    /// `/api/status`.
    func status() throws -> [UInt8] {
        try cached("status") { s in try Self.json(self.makeStatus(s)) }
    }

    func makeStatus(_ s: StoredSweep) throws -> StatusAnswer {
        let ds = s.dataset
        var p = try ds.readProgress()
        if let snap = live?.latest { p = snap.progress }
        let counts = try ds.taskCounts().byStatus
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
                            updated: p.updated, elapsed: p.started > 0 ? max(0, end - p.started) : 0, results: try ds.resultCount(),
                            live: live != nil, events: try ds.eventKindCounts())
    }

    /// `/api/workers`: connected workers from the coordinator's snapshot, and every worker
    /// the dataset remembers.
    func workers() throws -> [UInt8] {
        try cached("workers") { s in
            var rows = [String: WorkerAnswer]()
            for w in try s.dataset.workerActivity() {
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
