import Foundation
import Logging
import Synchronization
import TerrainCore
import TerrainDataset
import TerrainSweeps
import TerrainWire

/// How a coordinator is run.
public struct CoordinatorOptions: Sendable {
    /// Endpoints to bind (`tcp://0.0.0.0:5555`, `ipc:///tmp/terrain.sock`, `tcp://127.0.0.1:*`).
    public var endpoints: [String]
    /// The dataset file.
    public var datasetPath: String
    /// CURVE: the server's key pair and the admitted worker public keys; `nil` = plaintext.
    public var curve: (server: CurveKeyPair, allowedWorkers: Set<[UInt8]>)?
    /// How long to wait for in-flight results after SIGINT/SIGTERM, seconds.
    public var gracePeriod: Double
    /// Called about twice a second with progress (on the coordinator's thread).
    public var onProgress: (@Sendable (SweepDataset.Progress) -> Void)?
    /// Called once the endpoints are bound, with the bound addresses (port 0 resolved).
    public var onBound: (@Sendable ([String]) -> Void)?
    /// Serve plaintext on endpoints other hosts can reach (`--insecure`). Without it, a
    /// coordinator without CURVE binds only loopback and `ipc://` endpoints.
    public var allowInsecure: Bool
    /// Told what the coordinator does, from its thread (the HTTP side's metrics and
    /// snapshots); `nil` for none.
    public var observer: (any CoordinatorObserver)?
    /// `meta` entries written at every start (`terrain_version`, `terrain_commit`,
    /// `coordinator_host`): the report's provenance.
    public var provenance: [String: String] = [:]

    /// Creates options.
    public init(endpoints: [String], datasetPath: String, curve: (server: CurveKeyPair, allowedWorkers: Set<[UInt8]>)? = nil,
                gracePeriod: Double = 10, onProgress: (@Sendable (SweepDataset.Progress) -> Void)? = nil,
                onBound: (@Sendable ([String]) -> Void)? = nil, allowInsecure: Bool = false) {
        self.endpoints = endpoints
        self.datasetPath = datasetPath
        self.curve = curve
        self.gracePeriod = gracePeriod
        self.onProgress = onProgress
        self.onBound = onBound
        self.allowInsecure = allowInsecure
    }

    /// Whether only processes on this host can reach `endpoint`: `ipc://`, `inproc://`, or TCP
    /// on a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`, the interface `lo`).
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst(6))
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex) ..< close])
            return host == "::1"
        }
        host = String(host.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if host == "localhost" || host == "lo" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

/// Why a coordinator refused to start.
public enum CoordinatorError: Error, Equatable, CustomStringConvertible {
    /// A plaintext endpoint other hosts can reach, without `--insecure` (protected mode).
    case insecure(String)

    public var description: String {
        switch self {
        case .insecure(let m): return m
        }
    }
}

/// How a coordinator run ended.
public struct CoordinatorSummary: Sendable, Equatable {
    /// Tasks done and failed at the end.
    public var done: Int, failed: Int, total: Int
    /// Whether every task finished (false: stopped by a signal).
    public var finished: Bool
    /// Messages dropped as malformed.
    public var malformedMessages: Int
    /// Seconds from the start of `run()` until the last result was committed (or the stop),
    /// excluding the farewell window.
    public var seconds: Double
}

/// The coordinator process: opens (or creates) the dataset under its lock, prepares the
/// ``Scheduler``, and runs a ``CoordinatorShell`` over one ZeroMQ ROUTER socket on the calling
/// thread until the sweep finishes or a signal stops it (docs/protocol.md).
public final class Coordinator {
    /// Set by SIGINT/SIGTERM (or ``requestStop()``): stop dispatching, collect in-flight
    /// results for the grace period, leave the file consistent.
    public static let stopRequested = Atomic<Bool>(false)
    /// Set by a second SIGINT/SIGTERM: stop now, without waiting for running tasks (their
    /// results are lost, not the dataset's consistency; checkpoints let them resume).
    public static let stopNow = Atomic<Bool>(false)

    /// Asks every running coordinator in this process to stop gracefully.
    public static func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Installs SIGINT and SIGTERM handlers: the first calls ``requestStop()``, the second
    /// sets ``stopNow``.
    public static func installSignalHandlers() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            if Coordinator.stopRequested.exchange(true, ordering: .relaxed) { Coordinator.stopNow.store(true, ordering: .relaxed) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // What SLURM's --signal=B:USR1@N sends before a time limit (and srun forwards).
        signal(SIGUSR1, handler)
    }

    let spec: SweepSpec
    let options: CoordinatorOptions
    package let dataset: SweepDataset
    private let tasks: TaskTable
    private let leases: LeaseTokens
    private let scheduler: Scheduler
    let logger: Logger

    /// Opens or creates the dataset for `spec` and prepares the scheduler. Throws
    /// ``DatasetError/specMismatch(_:)`` when the file holds another sweep.
    public init(spec: SweepSpec, options: CoordinatorOptions, logger: Logger = Logger(label: "terrain.coordinator")) throws {
        self.spec = spec
        self.options = options
        self.logger = logger
        // Protected mode (as Redis's): without CURVE, anyone who reaches the port can join,
        // fetch the sweep's inputs and submit results (docs/security.md).
        if options.curve == nil && !options.allowInsecure, let open = options.endpoints.first(where: { !CoordinatorOptions.isLocal($0) }) {
            throw CoordinatorError.insecure("refusing to serve \(open) in plaintext: anyone who can reach it could join the sweep, read its inputs and submit results. Use --curve-key and --allowed-keys, bind a loopback or ipc:// endpoint, or pass --insecure on a network you trust (docs/security.md)")
        }
        // The dataset's directory is created if needed (`--dataset out/sweep.sqlite` on a fresh clone).
        let directory = (options.datasetPath as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw DatasetError.io("\(directory): cannot create the dataset's directory: \(error.localizedDescription)")
            }
        }
        // One coordinator per dataset: an exclusive lock on the file itself (its inode, so that
        // symlinks, hard links and relative paths all meet it), released by the kernel however
        // this process ends. A file this coordinator created and could not fill is removed.
        let lock = try DatasetLock(path: options.datasetPath)
        do { (dataset, tasks) = try Self.open(spec, path: options.datasetPath, lock: lock) } catch {
            lock.removeCreatedFile()
            throw error
        }
        let r = spec.runtime
        scheduler = try Scheduler(tasks: try dataset.loadTasks().map {
            TaskDescriptor(id: $0.id, kind: $0.kind, dependencies: $0.dependencies, status: $0.status, attempts: $0.attempts,
                           digest: $0.digest, failures: $0.failures)
        }, config: SchedulerConfig(runtime: r), sweepID: spec.hash)
        leases = LeaseTokens(secret: try dataset.leaseSecret())
        for (key, value) in options.provenance.sorted(by: { $0.key < $1.key }) { try dataset.setMeta(key, value) }
    }

    /// Resumes the sweep stored at `path`, or creates it there. The file is looked at read-only
    /// first: another sweep, changed input files, or a file that is not a Terrain dataset are
    /// refused before anything is written to it. Tasks that were running when the last
    /// coordinator stopped go back to the queue, on disk too, so that `terrain status` does not
    /// show phantom running tasks.
    private static func open(_ spec: SweepSpec, path: String, lock: DatasetLock) throws -> (SweepDataset, TaskTable) {
        let kinds = TaskKinds.byName()
        guard case .sweep(let info) = try SweepDataset.inspect(path), let existing = info.specHash else {
            // Empty, new, or Terrain's tables without a sweep (an interrupted creation) — unless
            // it is not ours, which opening it for writing refuses. Expand first: a spec that
            // cannot be expanded leaves the file as it was.
            let expanded = try spec.expand()
            let dataset = try SweepDataset(path: path, lock: lock)
            let (tasks, inputs) = try create(spec, expanded: expanded, in: dataset)
            return (dataset, try TaskTable(tasks, staticInputs: inputs, kinds: kinds, path: path))
        }
        guard info.isTerrain else { throw DatasetError.foreign(info.problem(path)) }
        guard existing == spec.hash else {
            throw DatasetError.specMismatch("\(path) holds another sweep (spec hash \(existing.prefix(12))…, this spec \(spec.hash.prefix(12))…); use a new --dataset file or the original spec")
        }
        if let stored = info.inputsFingerprint, let now = try spec.inputsFingerprint(), stored != now {
            throw DatasetError.specMismatch("\(path): the files this sweep was created from (checkpoint or data) have changed since; use a new --dataset file")
        }
        let dataset = try SweepDataset(path: path, lock: lock)
        let table = try TaskTable(try dataset.loadTasks(), staticInputs: try dataset.loadStaticInputs(), kinds: kinds, path: path)
        try dataset.requeueRunning()
        return (dataset, table)
    }

    /// Writes a new sweep into an empty dataset.
    private static func create(_ spec: SweepSpec, expanded: [ExpandedTask], in dataset: SweepDataset) throws
        -> ([StoredTask], [UInt64: [(name: String, hash: [UInt8])]])
    {
        let tasks = expanded.map { StoredTask(id: $0.id, kind: $0.kind, params: $0.params, dependencies: $0.dependencies) }
        var staticInputs = [UInt64: [(name: String, hash: [UInt8])]]()
        var artifacts = [[UInt8]: [UInt8]]()
        for t in expanded where !t.inputs.isEmpty {
            staticInputs[t.id] = t.inputs.map { ($0.name, $0.hash) }
            for i in t.inputs where artifacts[i.hash] == nil { artifacts[i.hash] = i.data }
        }
        // The data files travel as artifacts too: workers need no shared filesystem (DataFiles).
        for file in try DataFiles.served(by: spec) {
            artifacts[file.hash] = file.data
            for t in expanded { staticInputs[t.id, default: []].append((DataFiles.inputPrefix + file.path, file.hash)) }
        }
        try dataset.create(spec: spec.text, specHash: spec.hash, kind: spec.kind, tasks: tasks, inputs: staticInputs, artifacts: artifacts)
        if let fingerprint = try spec.inputsFingerprint() { try dataset.setMeta("inputs_sha256", fingerprint) }
        try dataset.setMeta("base_directory", spec.baseDirectory)
        return (tasks, staticInputs)
    }

    /// Runs until the sweep finishes or a stop is requested. Returns a summary; the dataset
    /// is consistent either way.
    public func run() throws -> CoordinatorSummary {
        let clock = SystemClock()
        let runStart = clock.now
        let context = try ZMQContext()
        var zap: ZAPAuthenticator? = nil
        if let curve = options.curve {
            zap = try ZAPAuthenticator(context: context, allowedClientKeys: curve.allowedWorkers) { [logger] key, address, allowed in
                if !allowed { logger.warning("refused a worker with an unknown CURVE key from \(address)") }
            }
            zap?.start()
        }
        let router = try makeRouter(context)
        defer {
            router.close()
            zap?.stop()
        }
        var bound = [String]()
        for e in options.endpoints { bound.append(try router.bind(e)) }
        options.onBound?(bound)
        logger.info("coordinator for \(spec.name) (\(spec.hash.prefix(12))) bound to \(bound.joined(separator: ", "))")
        let shell = try makeShell(transport: RouterTransport(router), clock: clock)
        shell.log("coordinator-started", "pid \(getpid()), endpoints \(bound.joined(separator: " "))")
        try serve(shell, router, clock: clock)
        let sweepSeconds = clock.now - runStart
        // A finished sweep releases its workers, including those that connect during a short
        // farewell window (started just before the end, or against a finished dataset). A
        // stopped coordinator says nothing: its workers keep reconnecting, so a restarted
        // coordinator finds them again.
        if shell.finished { try farewell(shell, router, clock: clock) }
        try close(shell)
        // Closing drops unsent messages (linger 0): give the last acks and `done`s 100 ms to leave.
        try router.setLinger(100)
        let counts = shell.scheduler.statusCounts
        return CoordinatorSummary(done: counts[.done] ?? 0, failed: counts[.failed] ?? 0, total: tasks.count,
                                  finished: shell.finished, malformedMessages: shell.malformed, seconds: sweepSeconds)
    }

    /// The shell that serves this coordinator's sweep over `transport` (tests pass a fake
    /// transport and a virtual clock).
    package func makeShell(transport: CoordinatorTransport, clock: CoordinatorClock) throws -> CoordinatorShell {
        let shell = try CoordinatorShell(spec: spec, dataset: dataset, tasks: tasks, scheduler: scheduler, leases: leases,
                                         transport: transport, clock: clock, logger: logger)
        shell.onProgress = options.onProgress
        shell.observer = options.observer
        return shell
    }

    private func makeRouter(_ context: ZMQContext) throws -> ZMQSocket {
        let router = try ZMQSocket(context, .router)
        try router.setRouterMandatory(true)
        try router.setMaxMessageSize(Int64(WireCodec.maxFrameBytes))
        try router.setSendHighWaterMark(100_000)
        try router.setReceiveHighWaterMark(100_000)
        try router.setHeartbeat(interval: 2000, timeout: 10_000, ttl: 10_000)
        if let curve = options.curve {
            try router.setZAPDomain("terrain")
            try router.makeCurveServer(secretKey: curve.server.secretKey)
        }
        return router
    }

    /// Polls and serves until every task is done or failed, or a requested stop has let the
    /// running tasks finish (or run out of grace).
    private func serve(_ shell: CoordinatorShell, _ router: ZMQSocket, clock: SystemClock) throws {
        var drainDeadline: Double? = nil
        while true {
            if try ZMQPoller.poll([router], timeoutMilliseconds: Int((shell.pollTimeout * 1000).rounded(.up)))[0] {
                var budget = 4096
                while budget > 0, let frames = try router.receive(dontWait: true) {
                    budget -= 1
                    try shell.receive(frames)
                }
            }
            try shell.service()
            let n = clock.now
            if Coordinator.stopRequested.load(ordering: .relaxed) && drainDeadline == nil {
                logger.notice("stopping: no new dispatches, waiting up to \(options.gracePeriod) s for running tasks (again to stop now; a re-run resumes)")
                shell.drain()
                drainDeadline = n + options.gracePeriod
            }
            if shell.finished { break }
            if let deadline = drainDeadline, shell.running == 0 || n >= deadline || Coordinator.stopNow.load(ordering: .relaxed) { break }
        }
        try shell.commit()
    }

    /// Tells every connected worker, and any that connects within about a heartbeat, that the
    /// sweep is done.
    private func farewell(_ shell: CoordinatorShell, _ router: ZMQSocket, clock: SystemClock) throws {
        let done = WireCodec.encode(.done(reason: "the sweep is finished"))
        for peer in shell.connectedPeers { _ = try? router.send([peer] + done, dontWait: true) }
        let until = clock.now + min(1, max(0.3, Double(spec.runtime.heartbeatMs) / 1000))
        while clock.now < until {
            guard try ZMQPoller.poll([router], timeoutMilliseconds: 50)[0] else { continue }
            while let frames = try router.receive(dontWait: true) {
                if frames.count >= 2 { _ = try? router.send([frames[0]] + done, dontWait: true) }
            }
        }
    }

    /// The last commit, the finished sweep's clean-up and summaries, the final progress row.
    private func close(_ shell: CoordinatorShell) throws {
        let counts = shell.scheduler.statusCounts
        shell.log(shell.finished ? "sweep-finished" : "coordinator-stopped", "done \(counts[.done] ?? 0), failed \(counts[.failed] ?? 0)")
        shell.flushSuppressed(force: true)
        try shell.commit()
        if shell.finished {
            // Checkpoints are kept until the end: a retry dispatched just before a late
            // result arrived may still fetch one.
            do { try dataset.dropCheckpoints() } catch { logger.error("could not drop the finished sweep's checkpoints: \(error)") }
            do {
                let summaries = try spec.summaries(of: try dataset.completedOutputs())
                if !summaries.isEmpty { try dataset.writeSummaries(summaries) }
            } catch {
                logger.error("could not compute the sweep's summaries: \(error)")
            }
        }
        try shell.writeProgress(state: shell.finished ? "finished" : "stopped")
        shell.observer?.closed()
    }
}

/// The process's clocks: `DispatchTime` for timers, `Date` for timestamps.
final class SystemClock: CoordinatorClock {
    private let start = DispatchTime.now().uptimeNanoseconds
    var now: Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
    var wall: Double { Date().timeIntervalSince1970 }
}

extension SchedulerConfig {
    /// The scheduler's settings from a spec's `runtime:` section.
    init(runtime r: RuntimeSpec) {
        self.init(maxAttempts: r.maxAttempts, maxLostWorkers: r.maxLostWorkers, heartbeatInterval: Double(r.heartbeatMs) / 1000,
                  liveness: r.liveness, taskTimeout: r.taskTimeout, verify: r.verify, maxPrefetch: r.maxPrefetch)
    }
}
