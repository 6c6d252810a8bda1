import DequeModule
import TerrainDataset  // TaskStatus only: the scheduler does no I/O
import TerrainProtocol

/// The coordinator's scheduler: a value-type state machine with no I/O. Events go in
/// (``SchedulerEvent``), directives come out (``SchedulerDirective``); a thin shell
/// (``Coordinator``) does the ZeroMQ and SQLite work. This keeps every policy — leases,
/// retries, deduplication, dependencies, dispatch — testable without sockets.
///
/// Rules (docs/protocol.md): pull-based dispatch (a worker gets at most the credit it
/// announced); a task is leased to one worker at a time; a dead or departed worker's tasks
/// are re-queued with the attempt counted; `maxAttempts` failures quarantine a task; the first
/// result wins, later ones are acknowledged and compared by digest.
public struct Scheduler: Sendable {
    struct Task: Sendable {
        var kind: String
        var dependencies: [UInt64]
        var dependents: [UInt64] = []
        var remaining: Int
        var status: TaskStatus
        var attempts: Int
        var worker: PeerID?
        var started: Double = 0
        var digest: [UInt8]? = nil
        var lastError: String? = nil
        var committing: PeerID? = nil
        /// Peers this task was dispatched to (a late result is accepted only from one of them
        /// or from a welcomed worker).
        var assignees: [PeerID] = []
    }

    struct Worker: Sendable {
        var name: String
        var kinds: Set<String>
        var credit: UInt64 = 0
        var running: Set<UInt64> = []
        var lastHeard: Double
        var lastSent: Double
    }

    /// The configuration.
    public let config: SchedulerConfig
    /// The sweep's identity (its spec hash), sent in `welcome`.
    public let sweepID: String
    private var kinds: Set<String> = []
    private(set) var tasks: [UInt64: Task] = [:]
    private var queues: [String: Deque<UInt64>] = [:]
    private var workers: [PeerID: Worker] = [:]
    /// Workers with credit left, so that dispatching after a change does not scan every worker.
    private var credited: Set<PeerID> = []
    private var draining = false
    private var finishedAnnounced = false
    private var counts: [TaskStatus: Int] = [:]
    /// Duplicate results whose digest differed from the first one.
    public private(set) var determinismViolations = 0

    /// Creates the scheduler over a task graph. Tasks marked `running` (a coordinator that
    /// stopped mid-sweep) are queued again; dependencies on unknown tasks are an error.
    public init(tasks descriptors: [TaskDescriptor], config: SchedulerConfig, sweepID: String = "") throws {
        self.config = config
        self.sweepID = sweepID
        kinds = Set(descriptors.map(\.kind))
        for d in descriptors {
            tasks[d.id] = Task(kind: d.kind, dependencies: d.dependencies, remaining: 0,
                               status: d.status == .running ? .queued : d.status, attempts: d.attempts, digest: d.digest)
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
    /// Attempts made for a task.
    public func attempts(of task: UInt64) -> Int? { tasks[task]?.attempts }
    /// Connected workers.
    public var workerCount: Int { workers.count }
    /// Whether every task is done or failed.
    public var isFinished: Bool { (counts[.done] ?? 0) + (counts[.failed] ?? 0) == tasks.count }
    /// The name a peer gave in its hello.
    public func workerName(_ peer: PeerID) -> String? { workers[peer]?.name }

    // MARK: Events

    /// Applies one event and returns what the shell must do.
    public mutating func handle(_ event: SchedulerEvent) -> [SchedulerDirective] {
        var out = [SchedulerDirective]()
        switch event {
        case let .hello(peer, hello, now): welcome(peer, hello, now: now, into: &out)
        case let .ready(peer, credit, now):
            guard workers[peer] != nil else { out.append(unknownPeer(peer)); break }
            workers[peer]!.lastHeard = now
            workers[peer]!.credit += credit
            dispatch(to: peer, now: now, into: &out)
        case let .heartbeat(peer, listed, now): heartbeat(peer, listed: listed, now: now, into: &out)
        case let .result(peer, result, now): accept(result, from: peer, now: now, into: &out)
        case let .failure(peer, id, attempt, error, retryable, credit, now):
            taskReturned(id, from: peer, credit: credit, now: now, into: &out)
            if let t = tasks[id], t.status == .running, t.worker == peer, t.committing == nil {
                out.append(.log(kind: "task-failed", task: id, worker: workerName(peer), detail: "attempt \(attempt): \(error)"))
                retryOrQuarantine(id, error: error, retryable: retryable, now: now, into: &out)
            }
            if workers[peer] != nil { dispatch(to: peer, now: now, into: &out) }
            dispatchAll(now: now, into: &out)
        case let .checkpoint(peer, checkpoint, now): keep(checkpoint, from: peer, now: now, into: &out)
        case let .goodbye(peer, reason, now):
            if workers[peer] != nil { loseWorker(peer, reason: "left: \(reason)", now: now, into: &out) }
        case let .touched(peer, now):
            if workers[peer] != nil { workers[peer]!.lastHeard = now } else { out.append(unknownPeer(peer)) }
        case let .unreachable(peer, now):
            if workers[peer] != nil { loseWorker(peer, reason: "unreachable", now: now, into: &out) }
        case let .committed(ids, now): committed(ids, now: now, into: &out)
        case let .tick(now): tick(now: now, into: &out)
        case .drain:
            draining = true
        }
        return out
    }

    // MARK: Events

    private mutating func welcome(_ peer: PeerID, _ hello: WorkerHello, now: Double, into out: inout [SchedulerDirective]) {
        if workers[peer] != nil { loseWorker(peer, reason: "reconnected", now: now, into: &out) }
        let kinds = Set(hello.kinds)
        if !self.kinds.isEmpty && kinds.isDisjoint(with: self.kinds) {
            let reason = "this sweep needs task kinds \(self.kinds.sorted().joined(separator: ", ")); the worker runs \(hello.kinds.joined(separator: ", "))"
            out.append(.send(peer: peer, message: .reject(code: .noSupportedKinds, reason: reason)))
            out.append(.log(kind: "reject", task: nil, worker: hello.worker, detail: reason))
            return
        }
        workers[peer] = Worker(name: hello.worker, kinds: kinds, lastHeard: now, lastSent: now)
        out.append(.send(peer: peer, message: .welcome(sweep: sweepID, heartbeatMilliseconds: UInt64(config.heartbeatInterval * 1000),
                                                       liveness: UInt64(config.liveness))))
        out.append(.log(kind: "worker-joined", task: nil, worker: hello.worker, detail: "\(hello.host) pid \(hello.pid), kinds \(hello.kinds.joined(separator: ","))"))
        if isFinished { out.append(.send(peer: peer, message: .done(reason: "the sweep is finished"))) }
    }

    private mutating func heartbeat(_ peer: PeerID, listed: [UInt64], now: Double, into out: inout [SchedulerDirective]) {
        guard var w = workers[peer] else { out.append(unknownPeer(peer)); return }
        w.lastHeard = now
        workers[peer] = w
        // A task we leased to this worker that it no longer lists (and did not report) is
        // lost: e.g. its compute thread died. Only judge tasks older than one interval.
        let listedSet = Set(listed)
        for id in w.running where !listedSet.contains(id) {
            if let t = tasks[id], now - t.started > 2 * config.heartbeatInterval {
                leaseLost(id, reason: "worker \(w.name) stopped reporting it", now: now, into: &out)
            }
        }
        dispatchAll(now: now, into: &out)
    }

    /// First result wins: a result is stored for a task that is not done yet when it could
    /// have been produced (docs/protocol.md); duplicates are acknowledged and compared.
    private mutating func accept(_ received: ReceivedResult, from peer: PeerID, now: Double, into out: inout [SchedulerDirective]) {
        let id = received.task, attempt = received.attempt, digest = received.digest
        // A late result from a peer we dropped (e.g. it stalled) is still considered below;
        // the peer is told to introduce itself again.
        taskReturned(id, from: peer, credit: received.result.credit, now: now, into: &out)
        guard var t = tasks[id] else {
            out.append(.log(kind: "bad-result", task: id, worker: workerName(peer), detail: "result for unknown task"))
            return
        }
        // Accept only results this task could have produced: from a peer it was sent to,
        // or from a welcomed worker (e.g. re-sending after a coordinator restart), for an
        // attempt that was made, and never for a task still waiting for its inputs.
        let solicited = t.assignees.contains(peer) || workers[peer] != nil
        if t.status == .waiting || !solicited || attempt == 0 || attempt > UInt64(t.attempts) {
            out.append(.log(kind: "bad-result", task: id, worker: workerName(peer) ?? "unknown peer",
                            detail: "unsolicited result (attempt \(attempt), task \(t.status.rawValue)); dropped"))
            return
        }
        // Whatever happens to it now, the peer that returned it may take more work.
        defer { if workers[peer] != nil { dispatch(to: peer, now: now, into: &out) } }
        if t.status == .failed {
            out.append(.send(peer: peer, message: .ack(tasks: [id])))
            out.append(.log(kind: "late-result", task: id, worker: workerName(peer), detail: "task already quarantined; dropped"))
            return
        }
        if t.status == .done || t.committing != nil {
            // Stored, or on its way to disk: this one is a duplicate.
            out.append(.send(peer: peer, message: .ack(tasks: [id])))
            if t.digest != digest {
                determinismViolations += 1
                let what = t.status == .done ? "returned a result whose digest differs from the stored one" : "differs from the result being committed"
                out.append(.log(kind: "determinism-violation", task: id, worker: workerName(peer), detail: "attempt \(attempt) \(what)"))
            } else if t.status == .done {
                out.append(.log(kind: "duplicate", task: id, worker: workerName(peer), detail: "attempt \(attempt); identical, dropped"))
            }
            return
        }
        if t.status == .queued { removeFromQueue(id, kind: t.kind) }
        if let owner = t.worker { workers[owner]?.running.remove(id) }
        t.worker = nil
        t.committing = peer
        t.digest = digest
        tasks[id] = t
        out.append(.store(received, peer: peer))
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
            tasks[id] = t
            acks[peer, default: []].append(id)
            for child in t.dependents {
                guard var c = tasks[child], c.status == .waiting else { continue }
                c.remaining -= 1
                if c.remaining == 0 {
                    setStatus(&c, .queued)
                    queues[c.kind, default: []].append(child)
                    out.append(.status(task: child, status: .queued, attempts: c.attempts, worker: nil, error: nil))
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
        for (peer, w) in workers {
            if now - w.lastHeard > config.deadAfter {
                loseWorker(peer, reason: "silent for \(Int(now - w.lastHeard)) s", now: now, into: &out)
                continue
            }
            if now - w.lastSent >= config.heartbeatInterval {
                out.append(.send(peer: peer, message: .heartbeat(tasks: [])))
                workers[peer]!.lastSent = now
            }
        }
        if let limit = config.taskTimeout {
            for (peer, w) in workers {
                for id in w.running where now - (tasks[id]?.started ?? now) > limit {
                    leaseLost(id, reason: "exceeded task_timeout \(limit) s on \(workers[peer]?.name ?? "?")", now: now, into: &out)
                }
            }
        }
        dispatchAll(now: now, into: &out)
        announceFinish(into: &out)
    }

    // MARK: Internals

    /// Bookkeeping shared by results and failures: the worker is alive, gets its credit back
    /// and no longer holds the task; an unknown peer is asked to say hello.
    private mutating func taskReturned(_ id: UInt64, from peer: PeerID, credit: UInt64, now: Double, into out: inout [SchedulerDirective]) {
        guard workers[peer] != nil else {
            out.append(unknownPeer(peer))
            return
        }
        workers[peer]!.lastHeard = now
        workers[peer]!.credit += credit
        workers[peer]!.running.remove(id)
    }

    private func unknownPeer(_ peer: PeerID) -> SchedulerDirective {
        .send(peer: peer, message: .reject(code: .unknownPeer, reason: "unknown peer: say hello first"))
    }

    private mutating func setStatus(_ t: inout Task, _ s: TaskStatus) {
        counts[t.status, default: 0] -= 1
        counts[s, default: 0] += 1
        t.status = s
    }

    private mutating func removeFromQueue(_ id: UInt64, kind: String) {
        if let i = queues[kind]?.firstIndex(of: id) { queues[kind]!.remove(at: i) }
    }

    private mutating func dispatchAll(now: Double, into out: inout [SchedulerDirective]) {
        guard !draining, !credited.isEmpty, queues.values.contains(where: { !$0.isEmpty }) else { return }
        // Idle workers first, and one task each before anyone's prefetch credit: tasks that
        // become ready together (a chain's next level) must not all go to one worker's queue
        // while another sits idle.
        let order = credited.map { (peer: $0, running: workers[$0]?.running.count ?? 0) }
            .sorted { $0.running != $1.running ? $0.running < $1.running : $0.peer.lexicographicallyPrecedes($1.peer) }
            .map(\.peer)
        for peer in order { dispatch(to: peer, now: now, into: &out, limit: 1) }
        for peer in order where credited.contains(peer) { dispatch(to: peer, now: now, into: &out) }
    }

    private mutating func dispatch(to peer: PeerID, now: Double, into out: inout [SchedulerDirective], limit: Int = .max) {
        guard var w = workers[peer] else { return }
        var sent = 0
        defer {
            if workers[peer].map({ $0.credit > 0 }) ?? false { credited.insert(peer) } else { credited.remove(peer) }
        }
        guard !draining else { return }
        while w.credit > 0 && sent < limit {
            guard let kind = w.kinds.sorted().first(where: { !(queues[$0]?.isEmpty ?? true) }),
                  let id = queues[kind]!.popFirst() else { break }
            var t = tasks[id]!
            // Skip stale entries (a task whose result arrived while it was queued).
            guard t.status == .queued, t.committing == nil else { continue }
            setStatus(&t, .running)
            t.attempts += 1
            t.worker = peer
            t.started = now
            if !t.assignees.contains(peer) { t.assignees.append(peer) }
            tasks[id] = t
            w.credit -= 1
            sent += 1
            w.running.insert(id)
            out.append(.dispatch(peer: peer, task: id, attempt: UInt64(t.attempts)))
            out.append(.status(task: id, status: .running, attempts: t.attempts, worker: w.name, error: nil))
        }
        w.lastSent = now
        workers[peer] = w
    }

    private mutating func loseWorker(_ peer: PeerID, reason: String, now: Double, into out: inout [SchedulerDirective]) {
        guard let w = workers.removeValue(forKey: peer) else { return }
        credited.remove(peer)
        out.append(.log(kind: "worker-lost", task: nil, worker: w.name, detail: reason))
        // The worker computes its tasks in the order they were sent, so only the oldest one
        // was running when it was lost: that attempt counts. The others (prefetched, never
        // started) go back to the queue with their attempt refunded.
        let held = w.running.filter { id in
            guard let t = tasks[id] else { return false }
            return t.status == .running && t.worker == peer && t.committing == nil
        }.sorted { (tasks[$0]!.started, $0) < (tasks[$1]!.started, $1) }
        for (i, id) in held.enumerated() {
            if i == 0 {
                retryOrQuarantine(id, error: "worker \(w.name) lost (\(reason))", retryable: true, now: now, into: &out)
            } else {
                var t = tasks[id]!
                t.attempts -= 1
                t.worker = nil
                setStatus(&t, .queued)
                tasks[id] = t
                queues[t.kind, default: []].append(id)
                out.append(.status(task: id, status: .queued, attempts: t.attempts, worker: nil, error: nil))
            }
        }
        dispatchAll(now: now, into: &out)
    }

    private mutating func leaseLost(_ id: UInt64, reason: String, now: Double, into out: inout [SchedulerDirective]) {
        guard let t = tasks[id], t.status == .running, t.committing == nil else { return }
        if let owner = t.worker { workers[owner]?.running.remove(id) }
        out.append(.log(kind: "lease-expired", task: id, worker: t.worker.flatMap { workerName($0) }, detail: reason))
        retryOrQuarantine(id, error: reason, retryable: true, now: now, into: &out)
    }

    private mutating func retryOrQuarantine(_ id: UInt64, error: String, retryable: Bool, now: Double, into out: inout [SchedulerDirective]) {
        guard var t = tasks[id] else { return }
        t.worker = nil
        t.lastError = error
        if !retryable || t.attempts >= config.maxAttempts {
            setStatus(&t, .failed)
            tasks[id] = t
            out.append(.status(task: id, status: .failed, attempts: t.attempts, worker: nil, error: error))
            out.append(.log(kind: "quarantined", task: id, worker: nil, detail: "after \(t.attempts) attempt(s): \(error)"))
            failDependents(of: id, into: &out)
            announceFinish(into: &out)
        } else {
            setStatus(&t, .queued)
            tasks[id] = t
            queues[t.kind, default: []].append(id)
            out.append(.status(task: id, status: .queued, attempts: t.attempts, worker: nil, error: error))
        }
    }

    private mutating func failDependents(of id: UInt64, into out: inout [SchedulerDirective]) {
        var stack = tasks[id]!.dependents
        while let child = stack.popLast() {
            guard var c = tasks[child], c.status == .waiting else { continue }
            setStatus(&c, .failed)
            c.lastError = "dependency \(id) failed"
            tasks[child] = c
            out.append(.status(task: child, status: .failed, attempts: c.attempts, worker: nil, error: c.lastError))
            stack += c.dependents
        }
    }

    private mutating func announceFinish(into out: inout [SchedulerDirective]) {
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
