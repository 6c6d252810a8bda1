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

    /// Creates options.
    public init(endpoints: [String], datasetPath: String, curve: (server: CurveKeyPair, allowedWorkers: Set<[UInt8]>)? = nil,
                gracePeriod: Double = 10, onProgress: (@Sendable (SweepDataset.Progress) -> Void)? = nil,
                onBound: (@Sendable ([String]) -> Void)? = nil) {
        self.endpoints = endpoints
        self.datasetPath = datasetPath
        self.curve = curve
        self.gracePeriod = gracePeriod
        self.onProgress = onProgress
        self.onBound = onBound
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

/// The coordinator: a thin shell around ``Scheduler`` that does the I/O. It owns one ROUTER
/// socket on its own thread, turns messages into scheduler events, carries out the
/// directives, and commits accepted results to the dataset in batches before acknowledging
/// them (docs/protocol.md).
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
    }

    let spec: SweepSpec
    let options: CoordinatorOptions
    let dataset: SweepDataset
    private let lock: DatasetLock
    var scheduler: Scheduler
    /// Kind, parameters, dependencies and fixed inputs of each task, indexed by id − 1 (ids are dense).
    var taskInfo: [(kind: String, params: [UInt8], dependencies: [UInt64], inputs: [(name: String, hash: [UInt8])])] = []
    let logger: Logger
    /// The task kinds by wire name: what tabulates each result.
    private let kinds = TaskKinds.byName()

    private var pendingResults: [SweepDataset.PendingResult] = []
    private var pendingStatuses: [SweepDataset.StatusUpdate] = []
    private var pendingEvents: [SweepDataset.EventRecord] = []
    private var pendingCheckpoints: [SweepDataset.PendingCheckpoint] = []
    private var firstPending: Double?
    private var malformed = 0
    private var finished = false
    private let clockStart = DispatchTime.now().uptimeNanoseconds
    /// (time, done count) samples of the last ~10 s, for the rate.
    private var rateSamples: [(time: Double, done: Int)] = []

    /// Opens or creates the dataset for `spec` and prepares the scheduler. Throws
    /// ``DatasetError/specMismatch(_:)`` when the file holds another sweep.
    public init(spec: SweepSpec, options: CoordinatorOptions, logger: Logger = Logger(label: "terrain.coordinator")) throws {
        self.spec = spec
        self.options = options
        self.logger = logger
        // One coordinator per dataset: an exclusive lock on `<dataset>.lock`, released by the
        // kernel whatever way this process ends.
        // The dataset's directory is created if needed (`--dataset out/sweep.sqlite` on a fresh clone).
        let directory = (options.datasetPath as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw DatasetError.io("\(directory): cannot create the dataset's directory: \(error.localizedDescription)")
            }
        }
        lock = try DatasetLock(path: options.datasetPath + ".lock")
        let tasks: [StoredTask]
        var staticInputs: [UInt64: [(name: String, hash: [UInt8])]]
        if FileManager.default.fileExists(atPath: options.datasetPath) {
            dataset = try SweepDataset(path: options.datasetPath)
            if let existing = try dataset.specHash() {
                guard existing == spec.hash else {
                    throw DatasetError.specMismatch("\(options.datasetPath) holds another sweep (spec hash \(existing.prefix(12))…, this spec \(spec.hash.prefix(12))…); use a new --dataset file or the original spec")
                }
                if let stored = try dataset.meta("inputs_sha256"), let now = try spec.inputsFingerprint(), stored != now {
                    throw DatasetError.specMismatch("\(options.datasetPath): the files this sweep was created from (checkpoint or data) have changed since; use a new --dataset file")
                }
                tasks = try dataset.loadTasks()
                staticInputs = try dataset.loadStaticInputs()
                // Tasks that were running when the last coordinator stopped go back to the queue, on
                // disk too, so that `terrain status` does not show phantom running tasks.
                try dataset.requeueRunning()
            } else {
                (tasks, staticInputs) = try Self.create(spec, in: dataset)
            }
        } else {
            // Expand first: a spec that cannot be expanded leaves no file behind.
            let expanded = try spec.expand()
            dataset = try SweepDataset(path: options.datasetPath)
            (tasks, staticInputs) = try Self.create(spec, expanded: expanded, in: dataset)
        }
        taskInfo = tasks.sorted { $0.id < $1.id }.map { ($0.kind, $0.params, $0.dependencies, staticInputs[$0.id] ?? []) }
        guard taskInfo.count == tasks.count, tasks.allSatisfy({ $0.id >= 1 && $0.id <= UInt64(tasks.count) }) else {
            throw DatasetError.io("\(options.datasetPath): task ids are not 1…\(tasks.count)")
        }
        let known = TaskKinds.byName()
        if let unknown = tasks.first(where: { known[$0.kind] == nil }) {
            throw DatasetError.io("\(options.datasetPath): task kind '\(unknown.kind)' is not built into this coordinator (it knows \(known.keys.sorted().joined(separator: ", ")))")
        }
        checkpointed = try dataset.checkpointedTasks()
        let r = spec.runtime
        let descriptors = tasks.map {
            TaskDescriptor(id: $0.id, kind: $0.kind, dependencies: $0.dependencies, status: $0.status, attempts: $0.attempts, digest: $0.digest)
        }
        scheduler = try Scheduler(tasks: descriptors,
                                  config: SchedulerConfig(maxAttempts: r.maxAttempts, heartbeatInterval: Double(r.heartbeatMs) / 1000,
                                                          liveness: r.liveness, taskTimeout: r.taskTimeout),
                                  sweepID: spec.hash)
    }

    /// Writes a new sweep into an empty dataset.
    private static func create(_ spec: SweepSpec, expanded: [ExpandedTask]? = nil, in dataset: SweepDataset) throws
        -> ([StoredTask], [UInt64: [(name: String, hash: [UInt8])]])
    {
        let expanded = try expanded ?? spec.expand()
        let tasks = expanded.map { StoredTask(id: $0.id, kind: $0.kind, params: $0.params, dependencies: $0.dependencies) }
        var staticInputs = [UInt64: [(name: String, hash: [UInt8])]]()
        var artifacts = [[UInt8]: [UInt8]]()
        for t in expanded where !t.inputs.isEmpty {
            staticInputs[t.id] = t.inputs.map { ($0.name, $0.hash) }
            for i in t.inputs where artifacts[i.hash] == nil { artifacts[i.hash] = i.data }
        }
        try dataset.create(spec: spec.text, specHash: spec.hash, kind: spec.kind, tasks: tasks, inputs: staticInputs, artifacts: artifacts)
        if let fingerprint = try spec.inputsFingerprint() { try dataset.setMeta("inputs_sha256", fingerprint) }
        try dataset.setMeta("base_directory", spec.baseDirectory)
        return (tasks, staticInputs)
    }

    private var now: Double { Double(DispatchTime.now().uptimeNanoseconds - clockStart) * 1e-9 }
    private var wallClock: Double { Date().timeIntervalSince1970 }

    /// Runs until the sweep finishes or a stop is requested. Returns a summary; the dataset
    /// is consistent either way.
    public func run() throws -> CoordinatorSummary {
        let runStart = now
        let context = try ZMQContext()
        var zap: ZAPAuthenticator? = nil
        if let curve = options.curve {
            zap = try ZAPAuthenticator(context: context, allowedClientKeys: curve.allowedWorkers) { [logger] key, address, allowed in
                if !allowed { logger.warning("refused a worker with an unknown CURVE key from \(address)") }
            }
            zap?.start()
        }
        let router = try ZMQSocket(context, .router)
        defer {
            router.close()
            zap?.stop()
        }
        try router.setRouterMandatory(true)
        try router.setMaxMessageSize(Int64(WireCodec.maxFrameBytes))
        try router.setSendHighWaterMark(100_000)
        try router.setReceiveHighWaterMark(100_000)
        try router.setHeartbeat(interval: 2000, timeout: 10_000, ttl: 10_000)
        if let curve = options.curve {
            try router.setZAPDomain("terrain")
            try router.makeCurveServer(secretKey: curve.server.secretKey)
        }
        var bound = [String]()
        for e in options.endpoints { bound.append(try router.bind(e)) }
        options.onBound?(bound)
        logger.info("coordinator for \(spec.name) (\(spec.hash.prefix(12))) bound to \(bound.joined(separator: ", "))")
        pendingEvents.append(.init(time: wallClock, kind: "coordinator-started", task: nil, worker: nil,
                                   detail: "pid \(getpid()), endpoints \(bound.joined(separator: " "))"))

        var nextTick = now
        var nextProgress = now
        var drainDeadline: Double? = nil
        let started = wallClock
        if scheduler.isFinished { finished = true }
        while true {
            let t = now
            var timeout = max(0, nextTick - t)
            if let f = firstPending { timeout = min(timeout, max(0, f + Double(spec.runtime.commitIntervalMs) / 1000 - t)) }
            let readable = try ZMQPoller.poll([router], timeoutMilliseconds: Int((timeout * 1000).rounded(.up)))[0]
            if readable {
                var budget = 4096
                while budget > 0, let frames = try router.receive(dontWait: true) {
                    budget -= 1
                    handle(frames, router)
                    if pendingResults.count >= 2048 { try commit(router) }
                }
            }
            let n = now
            if let f = firstPending, n - f >= Double(spec.runtime.commitIntervalMs) / 1000 || pendingResults.count >= 512 {
                try commit(router)
            }
            if n >= nextTick {
                execute(scheduler.handle(.tick(now: n)), router)
                nextTick = n + min(0.1, Double(spec.runtime.heartbeatMs) / 4000)
            }
            if Coordinator.stopRequested.load(ordering: .relaxed) && drainDeadline == nil {
                logger.notice("stopping: no new dispatches, waiting up to \(options.gracePeriod) s for running tasks (again to stop now; a re-run resumes)")
                _ = scheduler.handle(.drain(now: n))
                drainDeadline = n + options.gracePeriod
                pendingEvents.append(.init(time: wallClock, kind: "coordinator-stopping", task: nil, worker: nil, detail: "signal"))
            }
            if n >= nextProgress {
                try writeProgress(started: started, state: finished ? "finished" : (drainDeadline != nil ? "stopping" : "running"))
                nextProgress = n + 0.5
            }
            if finished {
                try commit(router)
                break
            }
            if let deadline = drainDeadline, (scheduler.statusCounts[.running] ?? 0) == 0 || n >= deadline || Coordinator.stopNow.load(ordering: .relaxed) {
                try commit(router)
                break
            }
        }
        // A finished sweep releases its workers, including those that connect during a short
        // farewell window (started just before the end, or against a finished dataset). A
        // stopped coordinator says nothing: its workers keep reconnecting, so a restarted
        // coordinator finds them again.
        let sweepSeconds = now - runStart
        if finished {
            let done = WireCodec.encode(.done(reason: "the sweep is finished"))
            for peer in connectedPeers { _ = try? router.send([peer] + done, dontWait: true) }
            let until = now + min(1, max(0.3, Double(spec.runtime.heartbeatMs) / 1000))
            while now < until {
                guard try ZMQPoller.poll([router], timeoutMilliseconds: 50)[0] else { continue }
                while let frames = try router.receive(dontWait: true) {
                    if frames.count >= 2 { _ = try? router.send([frames[0]] + done, dontWait: true) }
                }
            }
        }
        pendingEvents.append(.init(time: wallClock, kind: finished ? "sweep-finished" : "coordinator-stopped", task: nil, worker: nil,
                                   detail: "done \(scheduler.statusCounts[.done] ?? 0), failed \(scheduler.statusCounts[.failed] ?? 0)"))
        try commit(router)
        if finished {
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
        try writeProgress(started: started, state: finished ? "finished" : "stopped")
        usleep(50_000)
        let counts = scheduler.statusCounts
        return CoordinatorSummary(done: counts[.done] ?? 0, failed: counts[.failed] ?? 0, total: taskInfo.count,
                                  finished: finished, malformedMessages: malformed, seconds: sweepSeconds)
    }

    private var connectedPeers = Set<PeerID>()
    private var currentResult: TaskResult?
    private var currentCheckpoint: TaskCheckpoint?

    private func handle(_ frames: [[UInt8]], _ router: ZMQSocket) {
        guard frames.count >= 2 else { malformed += 1; return }
        let peer = frames[0]
        let body = Array(frames.dropFirst())
        let message: WireMessage
        do {
            message = try WireCodec.decode(body)
        } catch {
            // `decode` throws only WireError (typed throws).
            malformed += 1
            if case .unsupportedVersion(let v) = error {
                let reason = "protocol version mismatch: the worker speaks version \(v), this coordinator speaks version \(WireCodec.version)"
                _ = try? router.send([peer] + WireCodec.encode(.reject(code: .versionMismatch, reason: reason)), dontWait: true)
                pendingEvents.append(.init(time: wallClock, kind: "reject", task: nil, worker: peerName(peer), detail: reason))
            } else if malformed <= 100 || malformed % 1000 == 0 {
                logger.warning("dropped a message from peer \(peerName(peer)): \(error) (\(malformed) so far)")
                pendingEvents.append(.init(time: wallClock, kind: "malformed", task: nil, worker: peerName(peer), detail: error.description))
            }
            return
        }
        let t = now
        let event: SchedulerEvent
        switch message {
        case .hello(let h):
            connectedPeers.insert(peer)
            event = .hello(peer: peer, hello: h, now: t)
        case .ready(let credit): event = .ready(peer: peer, credit: credit, now: t)
        case .heartbeat(let tasks): event = .heartbeat(peer: peer, tasks: tasks, now: t)
        case .result(let r):
            currentResult = r
            event = .result(peer: peer, task: r.task, attempt: r.attempt, digest: Self.digest(r), credit: r.credit, now: t)
        case .failure(let f):
            event = .failure(peer: peer, task: f.task, attempt: f.attempt, error: f.error, retryable: f.retryable, credit: f.credit, now: t)
        case .checkpoint(let c):
            currentCheckpoint = c
            event = .checkpoint(peer: peer, task: c.task, attempt: c.attempt, step: c.step, now: t)
        case .goodbye(let reason):
            connectedPeers.remove(peer)
            event = .goodbye(peer: peer, reason: reason, now: t)
        case .fetch(let hashes):
            for h in hashes {
                let data = (try? dataset.artifact(h)) ?? pendingArtifact(h)
                if let data {
                    send(peer, .artifact(hash: h, data: data), router)
                    pendingEvents.append(.init(time: wallClock, kind: "artifact-sent", task: nil, worker: peerName(peer),
                                               detail: "\(SHA256.hex(h).prefix(16)) (\(data.count) bytes)"))
                } else {
                    logger.warning("peer \(peerName(peer)) asked for unknown artifact \(SHA256.hex(h).prefix(12))")
                }
            }
            event = .touched(peer: peer, now: t)
        case .welcome, .reject, .task, .ack, .done, .artifact:
            malformed += 1
            pendingEvents.append(.init(time: wallClock, kind: "malformed", task: nil, worker: peerName(peer),
                                       detail: "a worker sent a coordinator-only message (type \(message.typeCode))"))
            return
        }
        execute(scheduler.handle(event), router)
        currentResult = nil
        currentCheckpoint = nil
    }

    private func pendingArtifact(_ hash: [UInt8]) -> [UInt8]? {
        for r in pendingResults { for b in r.blobs where b.hash == hash { return b.data } }
        for c in pendingCheckpoints where c.hash == hash { return c.data }
        return nil
    }

    /// Tasks with a checkpoint in the dataset or on its way there (so that a dispatch asks
    /// SQLite only for those).
    private var checkpointed = Set<UInt64>()

    /// The latest checkpoint of a task, committed or about to be.
    private func latestCheckpoint(_ task: UInt64) -> (attempt: UInt64, step: UInt64, hash: [UInt8])? {
        guard checkpointed.contains(task) else { return nil }
        let stored = try? dataset.checkpoint(of: task)
        guard let c = pendingCheckpoints.filter({ $0.task == task }).max(by: { $0.step < $1.step }), c.step >= stored?.step ?? 0 else {
            return stored
        }
        return (c.attempt, c.step, c.hash)
    }

    private func peerName(_ peer: PeerID) -> String {
        if let name = scheduler.workerName(peer) { return name }
        // Routing ids are arbitrary bytes: show printable ones as text, others as hex.
        if peer.count <= 64, peer.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: peer, as: UTF8.self) }
        return "0x" + peer.prefix(32).map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 over the output and every (name, data) blob: what duplicates are compared by.
    static func digest(_ r: TaskResult) -> [UInt8] {
        var h = SHA256()
        withUnsafeBytes(of: UInt64(r.output.count).littleEndian) { h.update(Array($0)) }
        h.update(r.output)
        for b in r.blobs {
            h.update(Array(b.name.utf8))
            h.update(SHA256.hash(b.data))
        }
        return h.finalize()
    }

    private func send(_ peer: PeerID, _ message: WireMessage, _ router: ZMQSocket) {
        do {
            if try !router.send([peer] + WireCodec.encode(message), dontWait: true) {
                execute(scheduler.handle(.unreachable(peer: peer, now: now)), router)
            }
        } catch {
            connectedPeers.remove(peer)
            execute(scheduler.handle(.unreachable(peer: peer, now: now)), router)
        }
    }

    private func execute(_ directives: [SchedulerDirective], _ router: ZMQSocket) {
        for d in directives {
            switch d {
            case let .send(peer, message):
                send(peer, message, router)
            case let .dispatch(peer, task, attempt):
                let info = taskInfo[Int(task) - 1]
                var inputs = info.inputs.map { TaskInputRef(dependency: 0, name: $0.name, hash: $0.hash) }
                for dep in info.dependencies {
                    for o in (try? dataset.outputs(of: dep)) ?? [] {
                        inputs.append(TaskInputRef(dependency: dep, name: o.name, hash: o.hash))
                    }
                }
                // A task dispatched again resumes from its last checkpoint, an input of its own
                // (whatever attempt made it: the computation is deterministic).
                if let c = latestCheckpoint(task) {
                    inputs.append(TaskInputRef(dependency: task, name: TaskContext.checkpointInput, hash: c.hash))
                    pendingEvents.append(.init(time: wallClock, kind: "resume", task: task, worker: peerName(peer),
                                               detail: "attempt \(attempt) resumes from step \(c.step) (checkpoint of attempt \(c.attempt))"))
                }
                send(peer, .task(TaskAssignment(task: task, attempt: attempt, kind: info.kind, params: info.params, inputs: inputs)), router)
            case let .store(task, attempt, peer):
                guard let r = currentResult, r.task == task else { continue }
                if firstPending == nil { firstPending = now }
                var rows: RunRows? = nil
                switch kinds[taskInfo[Int(task) - 1].kind]!.tabulate(r.output, task: task) {
                case .none: break
                case .rows(let r): rows = r
                case .rejected(let reason):
                    pendingEvents.append(.init(time: wallClock, kind: "bad-record", task: task, worker: peerName(peer), detail: reason))
                }
                pendingResults.append(.init(task: task, attempt: attempt, worker: peerName(peer), output: r.output,
                                            digest: Self.digest(r), elapsed: r.elapsed, received: wallClock,
                                            blobs: r.blobs.map { ($0.name, SHA256.hash($0.data), $0.data) },
                                            startStep: r.startStep, rows: rows))
            case let .keepCheckpoint(task, attempt, step):
                guard let c = currentCheckpoint, c.task == task else { continue }
                if firstPending == nil { firstPending = now }
                pendingCheckpoints.append(.init(task: task, attempt: attempt, step: step, hash: SHA256.hash(c.data), data: c.data,
                                                received: wallClock))
                checkpointed.insert(task)
            case let .status(task, status, attempts, worker, error):
                pendingStatuses.append(.init(task: task, status: status, attempts: attempts, worker: worker, error: error, time: wallClock))
                if firstPending == nil { firstPending = now }
            case let .log(kind, task, worker, detail):
                pendingEvents.append(.init(time: wallClock, kind: kind, task: task, worker: worker, detail: detail))
                if kind == "determinism-violation" { logger.error("determinism violation on task \(task ?? 0): \(detail)") }
            case .finished:
                finished = true
            }
        }
    }

    private func commit(_ router: ZMQSocket) throws {
        firstPending = nil
        if pendingResults.isEmpty && pendingStatuses.isEmpty && pendingEvents.isEmpty && pendingCheckpoints.isEmpty { return }
        let results = pendingResults, statuses = pendingStatuses, events = pendingEvents, checkpoints = pendingCheckpoints
        pendingResults = []
        pendingStatuses = []
        pendingEvents = []
        pendingCheckpoints = []
        try dataset.commit(results: results, statuses: statuses, events: events, checkpoints: checkpoints)
        if !results.isEmpty {
            execute(scheduler.handle(.committed(tasks: results.map(\.task), now: now)), router)
        }
    }

    private func writeProgress(started: Double, state: String) throws {
        let t = now
        let c = scheduler.statusCounts
        rateSamples.append((t, c[.done] ?? 0))
        rateSamples.removeAll { t - $0.time > 10 }
        var p = SweepDataset.Progress(state: state)
        p.done = c[.done] ?? 0
        p.failed = c[.failed] ?? 0
        p.running = c[.running] ?? 0
        p.queued = c[.queued] ?? 0
        p.waiting = c[.waiting] ?? 0
        p.workers = scheduler.workerCount
        if let first = rateSamples.first, t - first.time > 0.25 {
            p.rate = Double(p.done - first.done) / (t - first.time)
        }
        p.updated = wallClock
        p.started = started
        p.pid = Int(getpid())
        try dataset.writeProgress(p)
        options.onProgress?(p)
    }
}
