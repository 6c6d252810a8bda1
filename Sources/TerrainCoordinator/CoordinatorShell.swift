import Foundation
import Logging
import TerrainCore
import TerrainDataset
import TerrainProtocol
import TerrainSweeps

/// The coordinator's shell: everything between a transport, the ``Scheduler`` and the
/// dataset. It decodes frames into scheduler events (hashing each result once), carries out
/// the directives, batches dataset writes into commits and acknowledges results only after
/// their commit (docs/protocol.md). It owns no socket and reads time from a clock, so tests
/// drive it with a fake transport and a virtual clock; ``Coordinator`` runs it over ZeroMQ.
package final class CoordinatorShell {
    package let spec: SweepSpec
    package let dataset: SweepDataset
    let tasks: TaskTable
    package private(set) var scheduler: Scheduler
    let transport: CoordinatorTransport
    let clock: CoordinatorClock
    let logger: Logger
    let leases: LeaseTokens
    private var throttle: EventThrottle
    /// Per peer, the artifacts named by the tasks sent to it since its hello: what it may
    /// `fetch`. (Not only its current leases: a task moved away while its inputs were being
    /// fetched must not leave the worker waiting for an artifact another task also needs.)
    private var fetchable: [PeerID: Set<[UInt8]>] = [:]
    package var onProgress: (@Sendable (SweepDataset.Progress) -> Void)?
    /// Told what the loop does (metrics for the HTTP side); `nil` costs nothing.
    package var observer: (any CoordinatorObserver)?
    /// When the event being handled arrived (monotonic): dispatch latency is measured from it.
    private var handlingSince = 0.0

    private var pending = PendingWrites()
    /// Messages dropped as malformed.
    package private(set) var malformed = 0
    /// Messages about tasks from peers that had not said hello (asked to).
    package private(set) var unwelcomed = 0
    /// Whether the scheduler announced that every task is done or failed.
    package private(set) var finished = false
    /// Whether a stop was requested (no new dispatches).
    package private(set) var draining = false
    /// Peers that said hello and have not said goodbye (the farewell `done` goes to them).
    package private(set) var connectedPeers = Set<PeerID>()
    /// Tasks with a checkpoint in the dataset or on its way there (so that a dispatch asks
    /// SQLite only for those).
    private var checkpointed: Set<UInt64>
    private var nextTick: Double
    private var nextProgress: Double
    private let started: Double
    /// (time, done count) samples of the last ~10 s, for the rate.
    private var rateSamples: [(time: Double, done: Int)] = []

    private var commitInterval: Double { Double(spec.runtime.commitIntervalMs) / 1000 }

    init(spec: SweepSpec, dataset: SweepDataset, tasks: TaskTable, scheduler: Scheduler, leases: LeaseTokens,
         transport: CoordinatorTransport, clock: CoordinatorClock, logger: Logger) throws {
        self.spec = spec
        self.leases = leases
        throttle = EventThrottle(now: clock.now)
        self.dataset = dataset
        self.tasks = tasks
        self.scheduler = scheduler
        self.transport = transport
        self.clock = clock
        self.logger = logger
        checkpointed = try dataset.checkpointedTasks()
        nextTick = clock.now
        nextProgress = clock.now
        started = clock.wall
        finished = scheduler.isFinished
    }

    /// Seconds until the shell next needs ``service()``: the next scheduler tick or the
    /// oldest pending write's commit deadline.
    package var pollTimeout: Double {
        let t = clock.now
        var timeout = max(0, nextTick - t)
        if let f = pending.since { timeout = min(timeout, max(0, f + commitInterval - t)) }
        return timeout
    }

    /// Tasks leased to workers now.
    package var running: Int { scheduler.statusCounts[.running] ?? 0 }

    /// Appends an event to the log of the next commit. Events about a peer pass the throttle
    /// (``EventThrottle``): a peer cannot grow the log without bound.
    package func log(_ kind: String, task: UInt64? = nil, worker: String? = nil, _ detail: String) {
        if let worker, !throttle.admit(kind, peer: worker) { return }
        pending.events.append(.init(time: clock.wall, kind: kind, task: task, worker: worker, detail: detail))
    }

    // MARK: Input

    /// Handles one multipart message as the ROUTER delivers it: the peer's routing id, then
    /// the message frames. Malformed input is counted, logged and dropped.
    package func receive(_ frames: [[UInt8]]) throws {
        handlingSince = clock.now
        if let observer { observer.received(bytes: frames.dropFirst().reduce(0) { $0 + $1.count }) }
        guard frames.count >= 2 else { malformed += 1; observer?.malformed(); return }
        let peer = frames[0]
        let message: WireMessage
        do {
            message = try WireCodec.decode(Array(frames.dropFirst()))
        } catch {
            refuse(peer, error)
            return
        }
        guard message.isSentByWorkers else {
            malformed += 1
            observer?.malformed()
            log("malformed", worker: peerName(peer), "a worker sent a coordinator-only message (type \(message.typeCode))")
            return
        }
        let t = clock.now
        let event: SchedulerEvent
        switch message {
        case .hello(let h):
            connectedPeers.insert(peer)
            fetchable[peer] = nil
            event = .hello(peer: peer, hello: h, now: t)
        case .ready(let credit): event = .ready(peer: peer, credit: credit, now: t)
        case .heartbeat(let tasks): event = .heartbeat(peer: peer, tasks: tasks, now: t)
        case .result(let r):
            guard let e = judge(r, from: peer, now: t) else { return }
            event = e
        case .failure(let f):
            guard admitted(peer, task: f.task, attempt: f.attempt, lease: f.lease, what: "failure") else { return }
            event = .failure(peer: peer, task: f.task, attempt: f.attempt, error: f.error, retryable: f.retryable, credit: f.credit, now: t)
        case .checkpoint(let c):
            guard admitted(peer, task: c.task, attempt: c.attempt, lease: c.lease, what: "checkpoint") else { return }
            event = .checkpoint(peer: peer, checkpoint: c, now: t)
        case .goodbye(let reason):
            connectedPeers.remove(peer)
            fetchable[peer] = nil
            event = .goodbye(peer: peer, reason: reason, now: t)
        case .fetch(let hashes):
            guard scheduler.isWelcomed(peer) else { try send(peer, .reject(code: .unknownPeer, reason: "unknown peer: say hello first")); return }
            try serve(hashes, to: peer)
            event = .touched(peer: peer, now: t)
        case .welcome, .reject, .task, .ack, .done, .artifact:
            preconditionFailure("isSentByWorkers admitted a coordinator-only message")
        }
        try execute(scheduler.handle(event))
        if case .hello(let h) = message, scheduler.isWelcomed(peer) { recordJoin(h) }
        if pending.results.count >= 2048 { try commit() }
    }

    /// Rows of the `workers` table recorded by this coordinator (bounded: a peer saying hello
    /// under ever new names must not grow the dataset without bound).
    private var workerRows = 0
    private static let maxWorkerRows = 100_000

    /// A welcomed worker's row: who it is and where it runs (its placement).
    private func recordJoin(_ h: WorkerHello) {
        guard workerRows < Self.maxWorkerRows else { return }
        workerRows += 1
        pending.workers.append(.joined(worker: h.worker, host: h.host, pid: h.pid, placement: h.placement, time: clock.wall))
    }

    /// Whether a message about `attempt` of `task` may be considered: from a welcomed peer
    /// (others are told to say hello first, and their message is not logged one by one: a
    /// worker re-sending results to a restarted coordinator is expected), with the lease token
    /// of an attempt that was made (others are logged, throttled, and dropped).
    private func admitted(_ peer: PeerID, task: UInt64, attempt: UInt64, lease: [UInt8], what: String) -> Bool {
        guard scheduler.isWelcomed(peer) else {
            _ = try? transport.send(WireCodec.encode(.reject(code: .unknownPeer, reason: "unknown peer: say hello first")), to: peer)
            unwelcomed += 1
            observer?.rejected(reason: "unknown-peer")
            log("unknown-peer", worker: peerName(peer), "a \(what) for task \(task) before hello; asked to say hello")
            return false
        }
        guard let made = scheduler.attempts(of: task), attempt <= UInt64(made), leases.verify(lease, task: task, attempt: attempt) else {
            observer?.rejected(reason: "bad-lease")
            log("bad-lease", task: scheduler.attempts(of: task) == nil ? nil : task, worker: peerName(peer),
                "a \(what) for task \(task) attempt \(attempt) without that attempt's lease token; dropped")
            return false
        }
        return true
    }

    /// A result becomes a scheduler event once its lease is admitted and its kind has judged
    /// it: accepted (hashed once, with the table rows it adds) or refused.
    private func judge(_ r: TaskResult, from peer: PeerID, now: Double) -> SchedulerEvent? {
        guard admitted(peer, task: r.task, attempt: r.attempt, lease: r.lease, what: "result") else { return nil }
        let entry = tasks[r.task]
        switch entry.kind.judge(TaskOutput(output: r.output, blobs: r.blobs), params: entry.params, task: r.task) {
        case .reject(let reason):
            observer?.rejected(reason: "invalid-result")
            return .invalidResult(peer: peer, task: r.task, attempt: r.attempt, reason: reason, credit: r.credit, now: now)
        case .accept(let rows):
            return .result(peer: peer, result: ReceivedResult(hashing: r, rows: rows), now: now)
        case .acceptPath(let rows):
            var received = ReceivedResult(hashing: r)
            received.pathRows = rows
            return .result(peer: peer, result: received, now: now)
        }
    }

    /// A message that did not decode: a hello of another version gets `reject` code 1.
    private func refuse(_ peer: PeerID, _ error: WireError) {
        malformed += 1
        observer?.malformed()
        if case .unsupportedVersion(let v) = error {
            let reason = "protocol version mismatch: the worker speaks version \(v), this coordinator speaks version \(WireCodec.version)"
            _ = try? transport.send(WireCodec.encode(.reject(code: .versionMismatch, reason: reason)), to: peer)
            log("reject", worker: peerName(peer), reason)
        } else {
            if malformed <= 100 || malformed % 1000 == 0 { logger.warning("dropped a message from peer \(peerName(peer)): \(error) (\(malformed) so far)") }
            log("malformed", worker: peerName(peer), error.description)
        }
    }

    /// Answers a `fetch` with the artifacts the dataset (or the next commit) holds — only
    /// those named by tasks sent to this peer.
    private func serve(_ hashes: [[UInt8]], to peer: PeerID) throws {
        let allowed = fetchable[peer] ?? []
        for h in hashes {
            guard allowed.contains(h) else {
                log("bad-fetch", worker: peerName(peer), "asked for artifact \(SHA256.hex(h).prefix(16)), which no task sent to it names; refused")
                continue
            }
            if let data = try dataset.artifact(h) ?? pending.artifact(h) {
                try send(peer, .artifact(hash: h, data: data))
                log("artifact-sent", worker: peerName(peer), "\(SHA256.hex(h).prefix(16)) (\(data.count) bytes)")
            } else {
                logger.warning("peer \(peerName(peer)) asked for unknown artifact \(SHA256.hex(h).prefix(12))")
            }
        }
    }

    // MARK: Directives

    private func send(_ peer: PeerID, _ message: WireMessage) throws {
        let delivered: Bool
        let frames = WireCodec.encode(message)
        if let observer { observer.sent(bytes: frames.reduce(0) { $0 + $1.count }) }
        do { delivered = try transport.send(frames, to: peer) } catch {
            connectedPeers.remove(peer)
            delivered = false
        }
        if !delivered { try execute(scheduler.handle(.unreachable(peer: peer, now: clock.now))) }
    }

    private func execute(_ directives: [SchedulerDirective]) throws {
        for d in directives {
            switch d {
            case let .send(peer, message):
                try send(peer, message)
            case let .dispatch(peer, task, attempt):
                let a = try assignment(task, attempt: attempt, peer: peer)
                fetchable[peer, default: []].formUnion(a.artifacts)
                try send(peer, .task(a))
                observer?.dispatched(kind: a.kind, attempt: attempt, seconds: max(0, clock.now - handlingSince))
            case let .store(received, peer):
                store(received, from: peer)
            case let .keepCheckpoint(c):
                pending.mark(clock.now)
                pending.checkpoints.append(.init(task: c.task, attempt: c.attempt, step: c.step, hash: SHA256.hash(c.data), data: c.data,
                                                 received: clock.wall))
                checkpointed.insert(c.task)
            case let .status(task, status, attempts, failures, worker, error):
                pending.statuses.append(.init(task: task, status: status, attempts: attempts, failures: failures, worker: worker, error: error,
                                              time: clock.wall))
                pending.mark(clock.now)
                if status == .failed, let observer { observer.quarantined(task: task) }
            case let .log(kind, task, worker, detail):
                log(kind, task: task, worker: worker, detail)
                if kind == "worker-lost", let worker { pending.workers.append(.left(worker: worker, reason: detail, time: clock.wall)) }
                if kind == "determinism-violation" { logger.error("determinism violation on task \(task ?? 0): \(detail)") }
            case .finished:
                finished = true
            }
        }
    }

    /// The task message for a dispatch: its fixed inputs, its dependencies' outputs and, for
    /// a task dispatched again, its last checkpoint (an input of its own, whatever attempt
    /// made it: the computation is deterministic).
    private func assignment(_ task: UInt64, attempt: UInt64, peer: PeerID) throws -> TaskAssignment {
        let entry = tasks[task]
        var inputs = entry.staticInputs.map { TaskInputRef(dependency: 0, name: $0.name, hash: $0.hash) }
        for dep in entry.dependencies {
            for o in try dataset.outputs(of: dep) { inputs.append(TaskInputRef(dependency: dep, name: o.name, hash: o.hash)) }
        }
        if let c = try latestCheckpoint(task) {
            inputs.append(TaskInputRef(dependency: task, name: TaskContext.checkpointInput, hash: c.hash))
            log("resume", task: task, worker: peerName(peer), "attempt \(attempt) resumes from step \(c.step) (checkpoint of attempt \(c.attempt))")
        }
        return TaskAssignment(task: task, attempt: attempt, kind: entry.kind.name, params: entry.params, inputs: inputs,
                              lease: leases.token(task: task, attempt: attempt))
    }

    /// Queues an accepted result for the next commit with the rows its kind tabulated.
    private func store(_ received: ReceivedResult, from peer: PeerID) {
        let r = received.result
        pending.mark(clock.now)
        observer?.completed(kind: tasks[r.task].kind.name, seconds: r.elapsed)
        let blobs = zip(r.blobs, received.blobHashes).map { (name: $0.0.name, hash: $0.1, data: $0.0.data) }
        pending.results.append(.init(task: r.task, attempt: r.attempt, worker: peerName(peer), output: r.output, digest: received.digest,
                                     elapsed: r.elapsed, received: clock.wall, blobs: blobs, startStep: r.startStep, rows: received.rows,
                                     pathRows: received.pathRows))
    }

    /// The latest checkpoint of a task, committed or about to be.
    private func latestCheckpoint(_ task: UInt64) throws -> (attempt: UInt64, step: UInt64, hash: [UInt8])? {
        guard checkpointed.contains(task) else { return nil }
        let stored = try dataset.checkpoint(of: task)
        guard let c = pending.checkpoints.filter({ $0.task == task }).max(by: { $0.step < $1.step }), c.step >= stored?.step ?? 0 else {
            return stored
        }
        return (c.attempt, c.step, c.hash)
    }

    /// A peer's name for logs: the worker name from its hello, else its routing id (printable
    /// ids as text, others as hex).
    package func peerName(_ peer: PeerID) -> String {
        if let name = scheduler.workerName(peer) { return name }
        if peer.count <= 64, peer.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: peer, as: UTF8.self) }
        return "0x" + peer.prefix(32).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Time, commits and progress

    /// What is due after a poll: the commit of pending writes (interval elapsed or 512
    /// results), the scheduler's tick, the progress row.
    package func service() throws {
        let n = clock.now
        handlingSince = n
        if let f = pending.since, n - f >= commitInterval || pending.results.count >= 512 { try commit() }
        if n >= nextTick {
            try execute(scheduler.handle(.tick(now: n)))
            nextTick = n + min(0.1, Double(spec.runtime.heartbeatMs) / 4000)
        }
        if n >= nextProgress {
            try writeProgress(state: finished ? "finished" : (draining ? "stopping" : "running"))
            nextProgress = n + 0.5
        }
        flushSuppressed(force: false)
    }

    /// Writes the throttle's `suppressed` summaries once its interval has passed (or now, when
    /// the coordinator closes).
    package func flushSuppressed(force: Bool) {
        for summary in throttle.expire(now: clock.now, force: force) {
            pending.events.append(.init(time: clock.wall, kind: "suppressed", task: nil, worker: summary.peer, detail: summary.detail))
        }
    }

    /// Stops dispatching; running tasks may still deliver.
    package func drain() {
        guard !draining else { return }
        draining = true
        _ = scheduler.handle(.drain(now: clock.now))
        log("coordinator-stopping", "signal")
    }

    /// Writes every pending change in one transaction, then tells the scheduler which results
    /// are durable (it acknowledges them).
    package func commit() throws {
        guard let batch = pending.take() else { return }
        let began = clock.now
        try dataset.commit(results: batch.results, statuses: batch.statuses, events: batch.events, checkpoints: batch.checkpoints,
                           workers: batch.workers)
        observer?.committed(results: batch.results.count, seconds: max(0, clock.now - began))
        if !batch.results.isEmpty {
            try execute(scheduler.handle(.committed(tasks: batch.results.map(\.task), now: clock.now)))
        }
    }

    /// Replaces the progress row and reports it.
    package func writeProgress(state: String) throws {
        let t = clock.now
        let c = scheduler.statusCounts
        rateSamples.append((t, c[.done] ?? 0))
        rateSamples.removeAll { t - $0.time > 10 }
        var p = SweepDataset.Progress(state: state)
        p.done = c[.done] ?? 0
        p.failed = c[.failed] ?? 0
        p.running = c[.running] ?? 0
        p.queued = c[.queued] ?? 0
        p.waiting = c[.waiting] ?? 0
        // A stopped or finished coordinator serves nobody, whoever was connected at the end.
        p.workers = state == "running" || state == "stopping" ? scheduler.workerCount : 0
        if let first = rateSamples.first, t - first.time > 0.25 {
            p.rate = Double(p.done - first.done) / (t - first.time)
        }
        p.updated = clock.wall
        p.started = started
        p.pid = Int(getpid())
        try dataset.writeProgress(p)
        onProgress?(p)
        observer?.published(CoordinatorSnapshot(progress: p, workers: scheduler.liveWorkers(now: t, wall: clock.wall), time: clock.wall))
    }
}

/// Dataset writes waiting for the next commit.
private struct PendingWrites {
    var results: [SweepDataset.PendingResult] = []
    var statuses: [SweepDataset.StatusUpdate] = []
    var events: [SweepDataset.EventRecord] = []
    var checkpoints: [SweepDataset.PendingCheckpoint] = []
    var workers: [SweepDataset.WorkerChange] = []
    /// When the oldest pending change arrived (monotonic seconds); `nil` when nothing waits
    /// but events (which ride along with the next commit).
    var since: Double?

    mutating func mark(_ now: Double) { if since == nil { since = now } }

    /// Everything pending (nil when nothing is), leaving the batch empty.
    mutating func take() -> PendingWrites? {
        since = nil
        if results.isEmpty && statuses.isEmpty && events.isEmpty && checkpoints.isEmpty && workers.isEmpty { return nil }
        defer { self = PendingWrites() }
        return self
    }

    /// An artifact's bytes if a pending result or checkpoint carries it.
    func artifact(_ hash: [UInt8]) -> [UInt8]? {
        for r in results { for b in r.blobs where b.hash == hash { return b.data } }
        for c in checkpoints where c.hash == hash { return c.data }
        return nil
    }
}

extension ReceivedResult {
    /// Hashes a result once: each blob's SHA-256, and the digest over the output's length
    /// (u64 little-endian), the output, then each blob's name and hash (docs/protocol.md).
    /// `rows` are the table rows its kind tabulated.
    public init(hashing r: TaskResult, rows: RunRows? = nil) {
        let hashes = r.blobs.map { SHA256.hash($0.data) }
        var h = SHA256()
        withUnsafeBytes(of: UInt64(r.output.count).littleEndian) { h.update(Array($0)) }
        h.update(r.output)
        for (b, hash) in zip(r.blobs, hashes) {
            h.update(Array(b.name.utf8))
            h.update(hash)
        }
        self.init(result: r, blobHashes: hashes, digest: h.finalize(), rows: rows)
    }
}
