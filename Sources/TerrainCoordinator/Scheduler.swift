import DequeModule
import TerrainDataset  // TaskStatus only: the scheduler does no I/O
import TerrainProtocol

/// The coordinator's scheduler: a value-type state machine with no I/O. Events go in
/// (``SchedulerEvent``), directives come out (``SchedulerDirective``); a thin shell
/// (``CoordinatorShell``) does the ZeroMQ and SQLite work. This keeps every policy — leases,
/// credit, retries and quarantine, deduplication, verification, dependencies, dispatch —
/// testable without sockets.
///
/// Rules (docs/protocol.md): pull-based dispatch, a worker holding at most its slots plus a
/// bounded prefetch; a task is leased to one worker at a time, and an idle worker may take a
/// task another worker only holds in its prefetch queue; `maxAttempts` failed attempts
/// quarantine a task, lost workers only when the task took down `maxLostWorkers` distinct
/// healthy workers in a row; the first result wins (with `verify: 2`, the first two agreeing
/// results of distinct workers), later ones are acknowledged and compared by digest. Every
/// number from the wire is combined with saturating or checked arithmetic.
public struct Scheduler: Sendable {
    struct Task: Sendable {
        var kind: String
        var dependencies: [UInt64]
        var dependents: [UInt64] = []
        var remaining: Int
        var status: TaskStatus
        var attempts: Int
        var failures: Int
        var worker: PeerID?
        var started: Double = 0
        var digest: [UInt8]? = nil
        var lastError: String? = nil
        var committing: PeerID? = nil
        /// Workers (``Worker/key``) that reported a non-retryable failure of this task.
        var refusedBy: Set<String> = []
        /// Results of distinct workers awaiting agreement (`verify` > 1).
        var opinions: [(worker: String, digest: [UInt8])] = []
    }

    struct Worker: Sendable {
        var name: String
        /// Host and pid from its hello: the same process across reconnections.
        var key: String
        var kinds: Set<String>
        /// Tasks it may hold: its slots plus the prefetch the coordinator allows.
        var limit: Int
        var credit: UInt64 = 0
        var running: Set<UInt64> = []
        var lastHeard: Double
        var lastSent: Double
        /// Results it returned (a worker with none has not shown it can work).
        var results = 0
    }

    /// The configuration.
    public let config: SchedulerConfig
    /// The sweep's identity (its spec hash), sent in `welcome`.
    public let sweepID: String
    var kinds: Set<String> = []
    var tasks: [UInt64: Task] = [:]
    var queues: [String: Deque<UInt64>] = [:]
    var workers: [PeerID: Worker] = [:]
    /// Workers with credit left, so that dispatching after a change does not scan every worker.
    var credited: Set<PeerID> = []
    var draining = false
    var finishedAnnounced = false
    var counts: [TaskStatus: Int] = [:]
    /// The task the sweep's latest worker losses all happened under, and those workers' keys.
    var lossStreak: (task: UInt64, workers: [String])? = nil
    /// Duplicate results whose digest differed from the first one.
    public internal(set) var determinismViolations = 0

    /// Creates the scheduler over a task graph. Tasks marked `running` (a coordinator that
    /// stopped mid-sweep) are queued again; dependencies on unknown tasks are an error.
    public init(tasks descriptors: [TaskDescriptor], config: SchedulerConfig, sweepID: String = "") throws {
        self.config = config
        self.sweepID = sweepID
        kinds = Set(descriptors.map(\.kind))
        for d in descriptors {
            tasks[d.id] = Task(kind: d.kind, dependencies: d.dependencies, remaining: 0, status: d.status == .running ? .queued : d.status,
                               attempts: d.attempts, failures: d.failures, digest: d.digest)
        }
        for d in descriptors {
            for dep in d.dependencies {
                guard tasks[dep] != nil else { throw SchedulerError.unknownDependency(task: d.id, dependency: dep) }
                tasks[dep]!.dependents.append(d.id)
            }
        }
        for d in descriptors.sorted(by: { $0.id < $1.id }) {
            var t = tasks[d.id]!
            if t.status == .queued || t.status == .waiting {
                let unfinished = t.dependencies.filter { tasks[$0]!.status != .done }
                if t.dependencies.contains(where: { tasks[$0]!.status == .failed }) {
                    t.status = .failed
                    t.lastError = "a dependency failed"
                } else {
                    t.remaining = unfinished.count
                    t.status = unfinished.isEmpty ? .queued : .waiting
                }
            }
            tasks[d.id] = t
            if t.status == .queued { queues[t.kind, default: []].append(d.id) }
        }
        for t in tasks.values { counts[t.status, default: 0] += 1 }
        if hasCycle() { throw SchedulerError.cycle }
    }

    private func hasCycle() -> Bool {
        // Kahn's algorithm over the dependency edges.
        var indegree = tasks.mapValues { $0.dependencies.count }
        var ready = Deque(indegree.filter { $0.value == 0 }.map(\.key))
        var seen = 0
        while let id = ready.popFirst() {
            seen += 1
            for child in tasks[id]!.dependents {
                indegree[child]! -= 1
                if indegree[child] == 0 { ready.append(child) }
            }
        }
        return seen != tasks.count
    }

    // MARK: Queries

    /// Number of tasks in each status.
    public var statusCounts: [TaskStatus: Int] { counts }
    /// The status of a task.
    public func status(of task: UInt64) -> TaskStatus? { tasks[task]?.status }
    /// Attempts made for a task (dispatches, whatever became of them).
    public func attempts(of task: UInt64) -> Int? { tasks[task]?.attempts }
    /// Failed attempts of a task.
    public func failures(of task: UInt64) -> Int? { tasks[task]?.failures }
    /// Connected workers.
    public var workerCount: Int { workers.count }
    /// Whether every task is done or failed.
    public var isFinished: Bool { (counts[.done] ?? 0) + (counts[.failed] ?? 0) == tasks.count }
    /// The name a peer gave in its hello.
    public func workerName(_ peer: PeerID) -> String? { workers[peer]?.name }
    /// Whether a peer said hello and has not been dropped.
    public func isWelcomed(_ peer: PeerID) -> Bool { workers[peer] != nil }
    /// The tasks leased to a peer, in id order.
    public func leases(of peer: PeerID) -> [UInt64] { workers[peer]?.running.sorted() ?? [] }

    // MARK: Events

    /// Applies one event and returns what the shell must do.
    public mutating func handle(_ event: SchedulerEvent) -> [SchedulerDirective] {
        var out = [SchedulerDirective]()
        switch event {
        case let .hello(peer, hello, now): welcome(peer, hello, now: now, into: &out)
        case let .ready(peer, credit, now):
            guard workers[peer] != nil else { out.append(unknownPeer(peer)); break }
            workers[peer]!.lastHeard = now
            grant(credit, to: peer)
            dispatch(to: peer, now: now, into: &out)
        case let .heartbeat(peer, listed, now): heartbeat(peer, listed: listed, now: now, into: &out)
        case let .result(peer, result, now): accept(result, from: peer, now: now, into: &out)
        case let .failure(peer, id, attempt, error, retryable, credit, now):
            failure(id, attempt: attempt, from: peer, error: error, retryable: retryable, credit: credit, now: now, into: &out)
        case let .invalidResult(peer, id, attempt, reason, credit, now):
            invalid(id, attempt: attempt, from: peer, reason: reason, credit: credit, now: now, into: &out)
        case let .checkpoint(peer, checkpoint, now): keep(checkpoint, from: peer, now: now, into: &out)
        case let .goodbye(peer, reason, now):
            if workers[peer] != nil { loseWorker(peer, reason: "left: \(reason)", lost: false, now: now, into: &out) }
        case let .touched(peer, now):
            if workers[peer] != nil { workers[peer]!.lastHeard = now } else { out.append(unknownPeer(peer)) }
        case let .unreachable(peer, now):
            if workers[peer] != nil { loseWorker(peer, reason: "unreachable", lost: true, now: now, into: &out) }
        case let .committed(ids, now): committed(ids, now: now, into: &out)
        case let .tick(now): tick(now: now, into: &out)
        case .drain:
            draining = true
        }
        return out
    }

    private mutating func welcome(_ peer: PeerID, _ hello: WorkerHello, now: Double, into out: inout [SchedulerDirective]) {
        if workers[peer] != nil { loseWorker(peer, reason: "reconnected", lost: false, now: now, into: &out) }
        let kinds = Set(hello.kinds)
        if !self.kinds.isEmpty && kinds.isDisjoint(with: self.kinds) {
            let reason = "this sweep needs task kinds \(self.kinds.sorted().joined(separator: ", ")); the worker runs \(hello.kinds.joined(separator: ", "))"
            out.append(.send(peer: peer, message: .reject(code: .noSupportedKinds, reason: reason)))
            out.append(.log(kind: "reject", task: nil, worker: hello.worker, detail: reason))
            return
        }
        // The codec admits 1…64 slots; the coordinator adds the prefetch it allows.
        let slots = Int(clamping: min(hello.slots, WireRanges.slots.upperBound))
        workers[peer] = Worker(name: hello.worker, key: "\(hello.host) pid \(hello.pid)", kinds: kinds,
                               limit: max(1, slots) + max(0, config.maxPrefetch), lastHeard: now, lastSent: now)
        out.append(.send(peer: peer, message: .welcome(sweep: sweepID, heartbeatMilliseconds: UInt64(config.heartbeatInterval * 1000),
                                                       liveness: UInt64(config.liveness))))
        out.append(.log(kind: "worker-joined", task: nil, worker: hello.worker, detail: "\(hello.host) pid \(hello.pid)\(hello.placement.isEmpty ? "" : ", " + hello.placement), kinds \(hello.kinds.joined(separator: ","))"))
        if isFinished { out.append(.send(peer: peer, message: .done(reason: "the sweep is finished"))) }
    }

    private mutating func heartbeat(_ peer: PeerID, listed: [UInt64], now: Double, into out: inout [SchedulerDirective]) {
        guard var w = workers[peer] else { out.append(unknownPeer(peer)); return }
        w.lastHeard = now
        workers[peer] = w
        // A task we leased to this worker that it no longer lists (and did not report) is
        // lost: e.g. its compute process died unreported. Only judge tasks older than two
        // intervals (a task sent after the worker wrote its heartbeat is not listed yet).
        let listedSet = Set(listed)
        for id in w.running.sorted() where !listedSet.contains(id) {
            if let t = tasks[id], now - t.started > 2 * config.heartbeatInterval {
                leaseEnded(id, reason: "worker \(w.name) stopped reporting it", now: now, into: &out)
            }
        }
        dispatchAll(now: now, into: &out)
    }

    private mutating func keep(_ c: TaskCheckpoint, from peer: PeerID, now: Double, into out: inout [SchedulerDirective]) {
        guard workers[peer] != nil else { out.append(unknownPeer(peer)); return }
        workers[peer]!.lastHeard = now
        // Only the current lease's checkpoints count: a stalled earlier attempt must not
        // overwrite the state the current attempt resumed from.
        if let t = tasks[c.task], t.status == .running, t.worker == peer, UInt64(t.attempts) == c.attempt, t.committing == nil {
            out.append(.keepCheckpoint(c))
        } else {
            out.append(.log(kind: "stale-checkpoint", task: c.task, worker: workerName(peer),
                            detail: "attempt \(c.attempt) at step \(c.step): the task is not leased to this worker under that attempt; dropped"))
        }
    }

    private mutating func committed(_ ids: [UInt64], now: Double, into out: inout [SchedulerDirective]) {
        var acks = [PeerID: [UInt64]]()
        for id in ids {
            guard var t = tasks[id], let peer = t.committing else {
                preconditionFailure("committed task \(id) was not being stored (status \(tasks[id]?.status.rawValue ?? "unknown"))")
            }
            setStatus(&t, .done)
            t.committing = nil
            t.worker = nil
            t.opinions = []
            tasks[id] = t
            acks[peer, default: []].append(id)
            if lossStreak?.task == id { lossStreak = nil }
            for child in t.dependents {
                guard var c = tasks[child], c.status == .waiting else { continue }
                c.remaining -= 1
                if c.remaining == 0 {
                    setStatus(&c, .queued)
                    queues[c.kind, default: []].append(child)
                    out.append(statusDirective(child, c, worker: nil, error: nil))
                }
                tasks[child] = c
            }
        }
        for (peer, list) in acks where workers[peer] != nil {
            out.append(.send(peer: peer, message: .ack(tasks: list)))
            workers[peer]!.lastSent = now
        }
        dispatchAll(now: now, into: &out)
        announceFinish(into: &out)
    }

    private mutating func tick(now: Double, into out: inout [SchedulerDirective]) {
        for peer in workers.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let w = workers[peer] else { continue }
            if now - w.lastHeard > config.deadAfter {
                loseWorker(peer, reason: "silent for \(Int(now - w.lastHeard)) s", lost: true, now: now, into: &out)
                continue
            }
            if now - w.lastSent >= config.heartbeatInterval {
                // The coordinator's heartbeat lists the worker's leases: a task it holds but
                // is not listed was moved elsewhere, and the worker drops it.
                out.append(.send(peer: peer, message: .heartbeat(tasks: w.running.sorted())))
                workers[peer]!.lastSent = now
            }
        }
        if let limit = config.taskTimeout {
            for (_, w) in workers {
                for id in w.running.sorted() where now - (tasks[id]?.started ?? now) > limit {
                    timedOut(id, limit: limit, now: now, into: &out)
                }
            }
        }
        dispatchAll(now: now, into: &out)
        announceFinish(into: &out)
    }

    // MARK: Shared bookkeeping

    func unknownPeer(_ peer: PeerID) -> SchedulerDirective {
        .send(peer: peer, message: .reject(code: .unknownPeer, reason: "unknown peer: say hello first"))
    }

    func statusDirective(_ id: UInt64, _ t: Task, worker: String?, error: String?) -> SchedulerDirective {
        .status(task: id, status: t.status, attempts: t.attempts, failures: t.failures, worker: worker, error: error)
    }

    mutating func setStatus(_ t: inout Task, _ s: TaskStatus) {
        counts[t.status, default: 0] -= 1
        counts[s, default: 0] += 1
        t.status = s
    }

    mutating func update(_ id: UInt64, _ body: (inout Task) -> Void) {
        guard var t = tasks[id] else { return }
        body(&t)
        tasks[id] = t
    }

    mutating func announceFinish(into out: inout [SchedulerDirective]) {
        guard isFinished, !finishedAnnounced else { return }
        finishedAnnounced = true
        out.append(.finished)
        for peer in workers.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            out.append(.send(peer: peer, message: .done(reason: "the sweep is finished")))
        }
    }
}

/// A task graph the scheduler cannot run.
public enum SchedulerError: Error, Equatable, CustomStringConvertible {
    /// A task depends on a task id that does not exist.
    case unknownDependency(task: UInt64, dependency: UInt64)
    /// The dependencies contain a cycle.
    case cycle

    public var description: String {
        switch self {
        case let .unknownDependency(task, dep): return "task \(task) depends on unknown task \(dep)"
        case .cycle: return "the task dependencies contain a cycle"
        }
    }
}
