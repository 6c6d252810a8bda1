import DequeModule
import TerrainDataset
import TerrainProtocol

/// How attempts end: results (first wins; with `verify` > 1, agreement of distinct workers),
/// failures, invalid results, timeouts, lost workers — and when a task is quarantined.
extension Scheduler {
    /// Bookkeeping shared by results and failures: the worker is alive, gets its credit back
    /// and no longer holds the task — unless it holds a later attempt of it than the one it
    /// reports on (an old attempt's outcome does not end the current lease). Returns false for
    /// a peer that did not say hello (it is told to), whose message is then ignored.
    mutating func taskReturned(_ id: UInt64, attempt: UInt64, from peer: PeerID, credit: UInt64, now: Double,
                               into out: inout [SchedulerDirective]) -> Bool {
        guard workers[peer] != nil else {
            out.append(unknownPeer(peer))
            return false
        }
        workers[peer]!.lastHeard = now
        if let t = tasks[id], t.worker == peer, UInt64(t.attempts) != attempt {
            // Still its lease, under a later attempt.
        } else {
            workers[peer]!.running.remove(id)
        }
        grant(credit, to: peer)
        return true
    }

    /// The lease holder of `id` under `attempt`, still running it and not storing a result.
    func holdsLease(_ peer: PeerID, _ id: UInt64, attempt: UInt64) -> Bool {
        guard let t = tasks[id] else { return false }
        return t.status == .running && t.worker == peer && UInt64(t.attempts) == attempt && t.committing == nil
    }

    // MARK: Results

    /// First result wins: a result is stored for a task that is not done yet, for an attempt
    /// that was made (the shell has checked its lease token), from a welcomed worker;
    /// duplicates are acknowledged and compared. Under verification the result is an opinion
    /// until `verify` distinct workers agree.
    mutating func accept(_ received: ReceivedResult, from peer: PeerID, now: Double, into out: inout [SchedulerDirective]) {
        let id = received.task, attempt = received.attempt, digest = received.digest
        // A peer that was dropped (it stalled, the coordinator restarted) introduces itself
        // again and re-sends the result; it is not stored before.
        guard taskReturned(id, attempt: attempt, from: peer, credit: received.result.credit, now: now, into: &out) else { return }
        workers[peer]!.results += 1
        defer { if workers[peer] != nil { dispatch(to: peer, now: now, into: &out) } }
        guard var t = tasks[id], t.status != .waiting, attempt >= 1, attempt <= UInt64(t.attempts) else {
            out.append(.log(kind: "bad-result", task: id, worker: workerName(peer),
                            detail: "result for an attempt that was not made (attempt \(attempt), task \(tasks[id]?.status.rawValue ?? "unknown")); dropped"))
            return
        }
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
        if config.verify > 1 && !agreed(id, &t, digest: digest, from: peer, attempt: attempt, now: now, into: &out) { return }
        if t.status == .queued { removeFromQueue(id, kind: t.kind) }
        if let owner = t.worker { workers[owner]?.running.remove(id) }
        t.worker = nil
        t.committing = peer
        t.digest = digest
        tasks[id] = t
        out.append(.store(received, peer: peer))
    }

    /// Records a worker's result as an opinion; true when `verify` distinct workers agree on
    /// this digest (the result is then stored). Otherwise the result is acknowledged and the
    /// task is queued for another worker; when `verify + 2` opinions never reached agreement
    /// it is quarantined.
    private mutating func agreed(_ id: UInt64, _ t: inout Task, digest: [UInt8], from peer: PeerID, attempt: UInt64, now: Double,
                                 into out: inout [SchedulerDirective]) -> Bool {
        let key = workers[peer]!.key
        if t.opinions.contains(where: { $0.worker == key }) {
            out.append(.send(peer: peer, message: .ack(tasks: [id])))
            return false
        }
        t.opinions.append((key, digest))
        let agreeing = t.opinions.filter { $0.digest == digest }
        let dissent = t.opinions.filter { $0.digest != digest }
        if agreeing.count >= config.verify {
            if !dissent.isEmpty {
                out.append(.log(kind: "verification-mismatch", task: id, worker: workerName(peer),
                                detail: "accepted the result of \(agreeing.map(\.worker).joined(separator: ", ")); differed: \(describe(dissent))"))
            }
            return true
        }
        out.append(.send(peer: peer, message: .ack(tasks: [id])))
        if !dissent.isEmpty {
            out.append(.log(kind: "verification-mismatch", task: id, worker: workerName(peer), detail: "results differ: \(describe(t.opinions))"))
        }
        tasks[id] = t
        if t.opinions.count >= config.verify + 2 {
            quarantine(id, error: "the results of \(t.opinions.count) workers never agreed: \(describe(t.opinions))", now: now, into: &out)
        } else if t.status == .running && (t.worker == nil || t.worker == peer) {
            if let owner = t.worker { workers[owner]?.running.remove(id) }
            requeue(id, error: nil, now: now, into: &out)
        }
        return false
    }

    private func describe(_ opinions: [(worker: String, digest: [UInt8])]) -> String {
        opinions.map { "\($0.worker): \($0.digest.prefix(6).map { String($0, radix: 16) }.joined())…" }.joined(separator: ", ")
    }

    // MARK: Failures

    /// A `failure` from the lease holder is a failed attempt. A non-retryable one quarantines
    /// the task once a second worker confirms it (one faulty or hostile worker cannot fail a
    /// task for good), or when the attempts run out.
    mutating func failure(_ id: UInt64, attempt: UInt64, from peer: PeerID, error: String, retryable: Bool, credit: UInt64, now: Double,
                          into out: inout [SchedulerDirective]) {
        let holder = holdsLease(peer, id, attempt: attempt)
        guard taskReturned(id, attempt: attempt, from: peer, credit: credit, now: now, into: &out) else { return }
        if holder {
            out.append(.log(kind: "task-failed", task: id, worker: workerName(peer), detail: "attempt \(attempt): \(error)"))
            var confirmed = false
            if !retryable, let key = workers[peer]?.key {
                update(id) { $0.refusedBy.insert(key) }
                confirmed = tasks[id]!.refusedBy.count >= 2
            }
            failed(id, error: error, quarantineNow: confirmed, now: now, into: &out)
        } else {
            out.append(.log(kind: "stale-failure", task: id, worker: workerName(peer),
                            detail: "attempt \(attempt): the task is not leased to this worker under that attempt; dropped"))
        }
        dispatch(to: peer, now: now, into: &out)
        dispatchAll(now: now, into: &out)
    }

    /// A result its kind refused: from the lease holder, a failed attempt; otherwise dropped.
    mutating func invalid(_ id: UInt64, attempt: UInt64, from peer: PeerID, reason: String, credit: UInt64, now: Double,
                          into out: inout [SchedulerDirective]) {
        let holder = holdsLease(peer, id, attempt: attempt)
        guard taskReturned(id, attempt: attempt, from: peer, credit: credit, now: now, into: &out) else { return }
        out.append(.log(kind: "invalid-result", task: id, worker: workerName(peer),
                        detail: "attempt \(attempt): \(reason); \(holder ? "counted as a failed attempt" : "dropped")"))
        // The worker has nothing to resend: the result will never be acknowledged otherwise.
        out.append(.send(peer: peer, message: .ack(tasks: [id])))
        if holder { failed(id, error: "invalid result: \(reason)", quarantineNow: false, now: now, into: &out) }
        dispatch(to: peer, now: now, into: &out)
        dispatchAll(now: now, into: &out)
    }

    /// A lease that ended without a result or a failure: the worker stopped listing the task.
    mutating func leaseEnded(_ id: UInt64, reason: String, now: Double, into out: inout [SchedulerDirective]) {
        guard let t = tasks[id], t.status == .running, t.committing == nil else { return }
        if let owner = t.worker { workers[owner]?.running.remove(id) }
        out.append(.log(kind: "lease-expired", task: id, worker: t.worker.flatMap { workerName($0) }, detail: reason))
        failed(id, error: reason, quarantineNow: false, now: now, into: &out)
    }

    /// A task past `task_timeout`: a failed attempt (it takes too long wherever it runs).
    mutating func timedOut(_ id: UInt64, limit: Double, now: Double, into out: inout [SchedulerDirective]) {
        let name = tasks[id]?.worker.flatMap { workerName($0) } ?? "?"
        leaseEnded(id, reason: "exceeded task_timeout \(limit) s on \(name)", now: now, into: &out)
    }

    /// Counts a failed attempt; quarantines at `maxAttempts` (or at once), else re-queues.
    private mutating func failed(_ id: UInt64, error: String, quarantineNow: Bool, now: Double, into out: inout [SchedulerDirective]) {
        guard var t = tasks[id] else { return }
        t.failures += 1
        t.worker = nil
        tasks[id] = t
        if lossStreak?.task == id { lossStreak = nil }
        if quarantineNow || t.failures >= config.maxAttempts {
            quarantine(id, error: error, now: now, into: &out)
        } else {
            requeue(id, error: error, now: now, into: &out)
        }
    }

    // MARK: Lost workers

    /// Drops a worker. Its tasks go back to the queue. When it was lost (silent or
    /// unreachable, not leaving on its own) while computing a task — its oldest — and it had
    /// returned results before (otherwise healthy), the loss counts against that task if the
    /// sweep's previous losses did too: `maxLostWorkers` distinct workers in a row quarantine
    /// it. Any other loss resets the count.
    mutating func loseWorker(_ peer: PeerID, reason: String, lost: Bool, now: Double, into out: inout [SchedulerDirective]) {
        guard let w = workers.removeValue(forKey: peer) else { return }
        credited.remove(peer)
        out.append(.log(kind: "worker-lost", task: nil, worker: w.name, detail: reason))
        let held = w.running.filter { id in
            guard let t = tasks[id] else { return false }
            return t.status == .running && t.worker == peer && t.committing == nil
        }.sorted { (tasks[$0]!.started, $0) < (tasks[$1]!.started, $1) }
        if lost {
            if let computing = held.first, w.results > 0 {
                var streak = lossStreak?.task == computing ? lossStreak!.workers : []
                if !streak.contains(w.key) { streak.append(w.key) }
                lossStreak = (computing, streak)
            } else if w.results > 0 {
                lossStreak = nil
            }
        }
        for (i, id) in held.enumerated() {
            update(id) { $0.worker = nil }
            if i == 0, lost, let streak = lossStreak, streak.task == id, streak.workers.count >= config.maxLostWorkers {
                quarantine(id, error: "took down \(streak.workers.count) workers in a row (\(streak.workers.joined(separator: "; ")))", now: now, into: &out)
                lossStreak = nil
            } else {
                requeue(id, error: i == 0 ? "worker \(w.name) lost (\(reason))" : nil, now: now, into: &out)
            }
        }
        dispatchAll(now: now, into: &out)
    }

    // MARK: Queue and quarantine

    mutating func requeue(_ id: UInt64, error: String?, now: Double, into out: inout [SchedulerDirective]) {
        guard var t = tasks[id] else { return }
        t.worker = nil
        if let error { t.lastError = error }
        setStatus(&t, .queued)
        tasks[id] = t
        queues[t.kind, default: []].append(id)
        out.append(statusDirective(id, t, worker: nil, error: error))
    }

    mutating func quarantine(_ id: UInt64, error: String, now: Double, into out: inout [SchedulerDirective]) {
        guard var t = tasks[id] else { return }
        if let owner = t.worker { workers[owner]?.running.remove(id) }
        if t.status == .queued { removeFromQueue(id, kind: t.kind) }
        t.worker = nil
        t.lastError = error
        setStatus(&t, .failed)
        tasks[id] = t
        out.append(statusDirective(id, t, worker: nil, error: error))
        out.append(.log(kind: "quarantined", task: id, worker: nil,
                        detail: "after \(t.attempts) attempt(s), \(t.failures) failed: \(error)"))
        failDependents(of: id, into: &out)
        announceFinish(into: &out)
    }

    private mutating func failDependents(of id: UInt64, into out: inout [SchedulerDirective]) {
        var stack = tasks[id]!.dependents
        while let child = stack.popLast() {
            guard var c = tasks[child], c.status == .waiting else { continue }
            setStatus(&c, .failed)
            c.lastError = "dependency \(id) failed"
            tasks[child] = c
            out.append(statusDirective(child, c, worker: nil, error: c.lastError))
            stack += c.dependents
        }
    }

    mutating func removeFromQueue(_ id: UInt64, kind: String) {
        if let i = queues[kind]?.firstIndex(of: id) { queues[kind]!.remove(at: i) }
    }
}
