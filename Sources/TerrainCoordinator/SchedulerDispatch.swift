import DequeModule
import TerrainDataset
import TerrainProtocol

/// Dispatch: credit, the order workers are served in, verification's distinct workers, and
/// idle workers taking tasks that others only hold in their prefetch queues.
extension Scheduler {
    /// Adds credit a worker announced (with `ready`, a `result` or a `failure`), saturating,
    /// and capped so that it never holds more than its slots plus the allowed prefetch.
    mutating func grant(_ credit: UInt64, to peer: PeerID) {
        guard var w = workers[peer] else { return }
        let room = UInt64(max(0, w.limit - w.running.count))
        let (sum, overflow) = w.credit.addingReportingOverflow(credit)
        w.credit = min(overflow ? .max : sum, room)
        workers[peer] = w
    }

    mutating func dispatchAll(now: Double, into out: inout [SchedulerDirective]) {
        guard !draining, !credited.isEmpty else { return }
        // Idle workers first, and one task each before anyone's prefetch credit: tasks that
        // become ready together (a chain's next level) must not all go to one worker's queue
        // while another sits idle.
        let order = credited.map { (peer: $0, running: workers[$0]?.running.count ?? 0) }
            .sorted { $0.running != $1.running ? $0.running < $1.running : $0.peer.lexicographicallyPrecedes($1.peer) }
            .map(\.peer)
        for peer in order { dispatch(to: peer, now: now, into: &out, limit: 1) }
        for peer in order where credited.contains(peer) { dispatch(to: peer, now: now, into: &out) }
    }

    mutating func dispatch(to peer: PeerID, now: Double, into out: inout [SchedulerDirective], limit: Int = .max) {
        guard workers[peer] != nil else { return }
        defer {
            if workers[peer].map({ $0.credit > 0 }) ?? false { credited.insert(peer) } else { credited.remove(peer) }
        }
        guard !draining else { return }
        var sent = 0
        while sent < limit, let w = workers[peer], w.credit > 0, w.running.count < w.limit {
            guard let id = nextTask(for: w) ?? steal(for: peer, now: now, into: &out) else { break }
            lease(id, to: peer, now: now, into: &out)
            sent += 1
        }
        // Only a message sent counts: a worker with credit and nothing to do still needs the
        // coordinator's heartbeats, or it presumes the coordinator dead.
        if sent > 0 { workers[peer]?.lastSent = now }
    }

    /// Leases task `id` to `peer` as a new attempt.
    private mutating func lease(_ id: UInt64, to peer: PeerID, now: Double, into out: inout [SchedulerDirective]) {
        var t = tasks[id]!
        setStatus(&t, .running)
        t.attempts += 1
        t.worker = peer
        t.started = now
        tasks[id] = t
        workers[peer]!.credit -= 1
        workers[peer]!.running.insert(id)
        out.append(.dispatch(peer: peer, task: id, attempt: UInt64(t.attempts)))
        out.append(statusDirective(id, t, worker: workers[peer]!.name, error: nil))
    }

    /// The next queued task this worker may run: of a kind it runs and, under verification,
    /// one it has not already given a result for. Stale queue entries (a task whose result
    /// arrived while it was queued) are dropped; tasks this worker may not take keep their
    /// places (at most 64 are looked past).
    private mutating func nextTask(for w: Worker) -> UInt64? {
        for kind in w.kinds.sorted() where !(queues[kind]?.isEmpty ?? true) {
            var passed = Deque<UInt64>()
            defer { queues[kind]!.prepend(contentsOf: passed) }
            while passed.count < 64, let id = queues[kind]!.popFirst() {
                guard let t = tasks[id], t.status == .queued, t.committing == nil else { continue }
                if t.opinions.contains(where: { $0.worker == w.key }) {
                    passed.append(id)
                    continue
                }
                return id
            }
        }
        return nil
    }

    /// An idle worker (holding nothing) with nothing queued for it takes the newest task that
    /// another worker holds beyond the one it is computing (its oldest): at the end of a sweep
    /// prefetched tasks would otherwise wait behind a long task, and a peer that hoards tasks
    /// keeps at most one. The holder is sent its remaining leases and drops the task; the
    /// move is not counted against the task.
    private mutating func steal(for thief: PeerID, now: Double, into out: inout [SchedulerDirective]) -> UInt64? {
        guard let t = workers[thief], t.running.isEmpty else { return nil }
        var best: (victim: PeerID, task: UInt64, started: Double, held: Int)? = nil
        for (victim, v) in workers where victim != thief && v.running.count >= 2 {
            let held = v.running.compactMap { id in tasks[id].map { (id, $0) } }
                .filter { $0.1.status == .running && $0.1.committing == nil }
                .sorted { ($0.1.started, $0.0) < ($1.1.started, $1.0) }
            guard held.count >= 2, let newest = held.dropFirst().last(where: { id, task in
                t.kinds.contains(task.kind) && !task.opinions.contains { $0.worker == t.key }
            }) else { continue }
            let candidate = (victim: victim, task: newest.0, started: newest.1.started, held: held.count)
            if best == nil || candidate.held > best!.held
                || (candidate.held == best!.held && candidate.victim.lexicographicallyPrecedes(best!.victim)) {
                best = candidate
            }
        }
        guard let best else { return nil }
        workers[best.victim]!.running.remove(best.task)
        out.append(.send(peer: best.victim, message: .heartbeat(tasks: workers[best.victim]!.running.sorted())))
        workers[best.victim]!.lastSent = now
        out.append(.log(kind: "task-moved", task: best.task, worker: t.name,
                        detail: "taken from \(workers[best.victim]!.name)'s prefetch queue by an idle worker"))
        var task = tasks[best.task]!
        task.worker = nil
        setStatus(&task, .queued)
        tasks[best.task] = task
        return best.task
    }
}
