import TerrainCoordinator
import TerrainWire
import XCTest

/// The scheduler state machine, driven by events alone (no sockets, no SQLite).
final class SchedulerTests: XCTestCase {
    let a: PeerID = Array("worker-a".utf8), b: PeerID = Array("worker-b".utf8), c: PeerID = Array("worker-c".utf8)
    let digest1 = [UInt8](repeating: 1, count: 32), digest2 = [UInt8](repeating: 2, count: 32)

    func make(_ n: Int, kind: String = "probe", config: SchedulerConfig = SchedulerConfig(),
                      dependencies: [UInt64: [UInt64]] = [:]) throws -> Scheduler {
        try Scheduler(tasks: (1...UInt64(n)).map { TaskDescriptor(id: $0, kind: kind, dependencies: dependencies[$0] ?? []) },
                      config: config, sweepID: "sweep")
    }

    func hello(_ s: inout Scheduler, _ peer: PeerID, kinds: [String] = ["probe"], now: Double = 0) -> [SchedulerDirective] {
        s.handle(.hello(peer: peer, hello: WorkerHello(worker: String(decoding: peer, as: UTF8.self), host: "h",
                                                               pid: UInt64(peer.last ?? 0), kinds: kinds, slots: 1),
                        now: now))
    }

    func dispatched(_ d: [SchedulerDirective]) -> [(PeerID, UInt64, UInt64)] {
        d.compactMap { if case let .dispatch(p, t, at) = $0 { return (p, t, at) } else { return nil } }
    }

    func stored(_ d: [SchedulerDirective]) -> [UInt64] {
        d.compactMap { if case let .store(r, _) = $0 { return r.task } else { return nil } }
    }

    func sent(_ d: [SchedulerDirective], to peer: PeerID) -> [WireMessage] {
        d.compactMap { if case let .send(p, m) = $0, p == peer { return m } else { return nil } }
    }

    /// Completes a task end to end: result, store, commit.
    func complete(_ s: inout Scheduler, _ peer: PeerID, _ task: UInt64, attempt: UInt64 = 1, now: Double = 1,
                          credit: UInt64 = 1) -> [SchedulerDirective] {
        var d = s.handle(.result(peer: peer, task: task, attempt: attempt, digest: digest1, credit: credit, now: now))
        XCTAssertEqual(stored(d), [task])
        d += s.handle(.committed(tasks: [task], now: now))
        return d
    }

    func testWelcomesAWorkerAndDispatchesOnlyTheCreditItAnnounced() throws {
        var s = try make(5)
        let d = hello(&s, a)
        XCTAssertEqual(sent(d, to: a), [.welcome(sweep: "sweep", heartbeatMilliseconds: 1000, liveness: 5)])
        XCTAssertTrue(dispatched(d).isEmpty, "no task before the worker asks")
        let r = s.handle(.ready(peer: a, credit: 2, now: 0))
        XCTAssertEqual(dispatched(r).map(\.1), [1, 2])
        XCTAssertEqual(dispatched(r).map(\.2), [1, 1])
        XCTAssertEqual(s.statusCounts[.running], 2)
        XCTAssertEqual(s.statusCounts[.queued], 3)
    }

    func testEveryTaskCompletesExactlyOnceAndTheSweepFinishes() throws {
        var s = try make(10)
        _ = hello(&s, a)
        _ = hello(&s, b)
        var pending = dispatched(s.handle(.ready(peer: a, credit: 1, now: 0))) + dispatched(s.handle(.ready(peer: b, credit: 1, now: 0)))
        var completed = [UInt64]()
        var finished = false
        while let (peer, task, attempt) = pending.first {
            pending.removeFirst()
            let d = complete(&s, peer, task, attempt: attempt)
            completed.append(task)
            pending += dispatched(d)
            if d.contains(.finished) {
                finished = true
                XCTAssertEqual(sent(d, to: a).last, .done(reason: "the sweep is finished"))
            }
        }
        XCTAssertEqual(completed.sorted(), Array(1...10))
        XCTAssertTrue(finished)
        XCTAssertTrue(s.isFinished)
    }

    func testAckIsSentOnlyAfterTheCommit() throws {
        var s = try make(1)
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        let r = s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 0, now: 1))
        XCTAssertFalse(sent(r, to: a).contains { if case .ack = $0 { return true } else { return false } })
        XCTAssertEqual(s.status(of: 1), .running)
        let c = s.handle(.committed(tasks: [1], now: 1))
        XCTAssertTrue(sent(c, to: a).contains(.ack(tasks: [1])))
        XCTAssertEqual(s.status(of: 1), .done)
    }

    func testSilentWorkerIsDroppedAndItsTasksGoToAnotherWorker() throws {
        var s = try make(2, config: SchedulerConfig(heartbeatInterval: 1, liveness: 3))
        _ = hello(&s, a)
        _ = hello(&s, b)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 1, now: 0))).map(\.1), [1])
        XCTAssertEqual(dispatched(s.handle(.ready(peer: b, credit: 1, now: 0))).map(\.1), [2])
        _ = s.handle(.heartbeat(peer: b, tasks: [2], now: 2.5))
        _ = complete(&s, b, 2, now: 2.6)
        // a has been silent for more than 3 s at t = 3.5: its task 1 is re-queued (attempt 1
        // counted) and goes to b, which has credit.
        let d = s.handle(.tick(now: 3.5))
        XCTAssertTrue(d.contains { if case .log("worker-lost", _, "worker-a", _) = $0 { return true } else { return false } })
        XCTAssertEqual(dispatched(d).map { ($0.0, $0.1, $0.2) }.first.map { [$0.1, $0.2] }, [1, 2])
        XCTAssertEqual(s.workerCount, 1)
        XCTAssertEqual(s.attempts(of: 1), 2)
    }

    func testHeartbeatsKeepAWorkerAliveAndAreSentToIdleWorkers() throws {
        var s = try make(1, config: SchedulerConfig(heartbeatInterval: 1, liveness: 3))
        _ = hello(&s, a)
        for t in stride(from: 1.0, through: 20, by: 1) {
            let d = s.handle(.tick(now: t))
            XCTAssertEqual(sent(d, to: a), [.heartbeat(tasks: [])], "t=\(t)")
            _ = s.handle(.heartbeat(peer: a, tasks: [], now: t))
        }
        XCTAssertEqual(s.workerCount, 1)
        // Also a worker that has credit left while it computes (nothing more to send it).
        var busy = try make(1, config: SchedulerConfig(heartbeatInterval: 1, liveness: 3))
        _ = hello(&busy, a)
        XCTAssertEqual(dispatched(busy.handle(.ready(peer: a, credit: 2, now: 0))).map(\.1), [1])
        for t in stride(from: 0.5, through: 10, by: 0.5) {
            var d = busy.handle(.heartbeat(peer: a, tasks: [1], now: t))
            d += busy.handle(.tick(now: t))
            if t.truncatingRemainder(dividingBy: 1) == 0 { XCTAssertEqual(sent(d, to: a), [.heartbeat(tasks: [1])], "t=\(t)") }
        }
    }

    func testLateResultFromAnExpiredLeaseIsAcceptedOnceAndTheRetryIsADuplicate() throws {
        var s = try make(1, config: SchedulerConfig(heartbeatInterval: 1, liveness: 2))
        _ = hello(&s, a)
        _ = hello(&s, b)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        _ = s.handle(.heartbeat(peer: b, tasks: [], now: 2.5))
        // a stalls; at t=2.5 it is dropped, the task goes to b (attempt 2).
        let d = s.handle(.tick(now: 2.5))
        XCTAssertTrue(dispatched(d).isEmpty, "b has no credit yet")
        XCTAssertEqual(dispatched(s.handle(.ready(peer: b, credit: 1, now: 2.6))).map { [$0.1, $0.2] }, [[1, 2]])
        // a wakes up and delivers: told to say hello again first (a dropped peer's result is
        // not stored before), then the result it re-sends is accepted (first result wins).
        let late = s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 1, now: 3))
        XCTAssertTrue(stored(late).isEmpty)
        XCTAssertTrue(sent(late, to: a).contains(.reject(code: .unknownPeer, reason: "unknown peer: say hello first")))
        _ = hello(&s, a, now: 3)
        XCTAssertEqual(stored(s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 1, now: 3))), [1])
        _ = s.handle(.committed(tasks: [1], now: 3))
        XCTAssertEqual(s.status(of: 1), .done)
        // b's identical result is a duplicate: acknowledged, not stored.
        let dup = s.handle(.result(peer: b, task: 1, attempt: 2, digest: digest1, credit: 1, now: 4))
        XCTAssertTrue(stored(dup).isEmpty)
        XCTAssertTrue(sent(dup, to: b).contains(.ack(tasks: [1])))
        XCTAssertEqual(s.determinismViolations, 0)
    }

    func testDuplicateWithADifferentDigestIsLoggedAsADeterminismViolation() throws {
        var s = try make(1)
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        _ = complete(&s, a, 1)
        let dup = s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest2, credit: 0, now: 2))
        XCTAssertTrue(stored(dup).isEmpty)
        XCTAssertTrue(dup.contains { if case .log("determinism-violation", 1, _, _) = $0 { return true } else { return false } })
        XCTAssertEqual(s.determinismViolations, 1)
        // Also while the first result is still being committed.
        var t = try make(1)
        _ = hello(&t, a)
        _ = hello(&t, b)
        _ = t.handle(.ready(peer: a, credit: 1, now: 0))
        _ = t.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 0, now: 1))
        let second = t.handle(.result(peer: b, task: 1, attempt: 1, digest: digest2, credit: 0, now: 1))
        XCTAssertTrue(stored(second).isEmpty)
        XCTAssertEqual(t.determinismViolations, 1)
    }

    func testPoisonTaskIsQuarantinedAfterItsAttemptLimitAndTheRestCompletes() throws {
        var s = try make(3, config: SchedulerConfig(maxAttempts: 3))
        _ = hello(&s, a)
        var pending = dispatched(s.handle(.ready(peer: a, credit: 1, now: 0)))
        var failures = 0
        var finished = false
        while let (peer, task, attempt) = pending.first {
            pending.removeFirst()
            let d: [SchedulerDirective]
            if task == 2 {
                failures += 1
                d = s.handle(.failure(peer: peer, task: task, attempt: attempt, error: "boom", retryable: true, credit: 1, now: 1))
            } else {
                d = complete(&s, peer, task, attempt: attempt)
            }
            pending += dispatched(d)
            finished = finished || d.contains(.finished)
        }
        XCTAssertEqual(failures, 3)
        XCTAssertEqual(s.status(of: 2), .failed)
        XCTAssertEqual(s.status(of: 1), .done)
        XCTAssertEqual(s.status(of: 3), .done)
        XCTAssertTrue(finished)
    }

    func testGoodbyeRequeuesRunningTasks() throws {
        var s = try make(1)
        _ = hello(&s, a)
        _ = hello(&s, b)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        _ = s.handle(.ready(peer: b, credit: 1, now: 0))
        let d = s.handle(.goodbye(peer: a, reason: "SIGTERM", now: 1))
        XCTAssertEqual(dispatched(d).map { [$0.1, $0.2] }, [[1, 2]])
        XCTAssertEqual(dispatched(d).first?.0, b)
    }

    func testDependentTasksWaitAndReceiveWorkAfterTheirDependenciesCommit() throws {
        // Two chains: 1 → 2 → 3 and 4 → 5.
        var s = try make(5, dependencies: [2: [1], 3: [2], 5: [4]])
        XCTAssertEqual(s.status(of: 2), .waiting)
        _ = hello(&s, a)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 5, now: 0))).map(\.1), [1, 4])
        let d = complete(&s, a, 1, credit: 0)
        XCTAssertEqual(dispatched(d).map(\.1), [2])
        XCTAssertEqual(s.status(of: 3), .waiting)
        _ = complete(&s, a, 4, credit: 1)
        XCTAssertEqual(s.status(of: 5), .running)
    }

    func testFailedDependencyFailsItsDependents() throws {
        var s = try make(3, config: SchedulerConfig(maxAttempts: 1), dependencies: [2: [1], 3: [2]])
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        let d = s.handle(.failure(peer: a, task: 1, attempt: 1, error: "boom", retryable: true, credit: 1, now: 1))
        XCTAssertEqual(s.status(of: 2), .failed)
        XCTAssertEqual(s.status(of: 3), .failed)
        XCTAssertTrue(d.contains(.finished))
    }

    func testCyclesAndUnknownDependenciesAreRejected() {
        XCTAssertThrowsError(try make(2, dependencies: [1: [2], 2: [1]])) { XCTAssertEqual($0 as? SchedulerError, .cycle) }
        XCTAssertThrowsError(try make(2, dependencies: [1: [9]])) {
            XCTAssertEqual($0 as? SchedulerError, .unknownDependency(task: 1, dependency: 9))
        }
    }

    func testResumingTreatsRunningTasksAsQueuedAndNeverRerunsDoneOnes() throws {
        var s = try Scheduler(tasks: [
            TaskDescriptor(id: 1, kind: "probe", status: .done, attempts: 1),
            TaskDescriptor(id: 2, kind: "probe", status: .running, attempts: 1),
            TaskDescriptor(id: 3, kind: "probe", dependencies: [1], status: .waiting),
        ], config: SchedulerConfig())
        _ = hello(&s, a)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 5, now: 0))).map { [$0.1, $0.2] }, [[2, 2], [3, 1]])
    }

    func testUnknownPeersAndMissingKindsAreRejected() throws {
        var s = try make(1)
        XCTAssertEqual(sent(s.handle(.ready(peer: b, credit: 1, now: 0)), to: b), [.reject(code: .unknownPeer, reason: "unknown peer: say hello first")])
        let k = hello(&s, c, kinds: ["surface"])
        XCTAssertTrue(sent(k, to: c).contains { if case .reject(.noSupportedKinds, _) = $0 { return true } else { return false } })
    }

    func testDrainingStopsDispatchButAcceptsInFlightResults() throws {
        var s = try make(3)
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        _ = s.handle(.drain(now: 0.5))
        let d = complete(&s, a, 1)
        XCTAssertTrue(dispatched(d).isEmpty)
        XCTAssertEqual(s.status(of: 1), .done)
        XCTAssertEqual(s.statusCounts[.queued], 2)
    }

    func testTaskTimeoutEndsTheLease() throws {
        var s = try make(1, config: SchedulerConfig(maxAttempts: 2, heartbeatInterval: 1, liveness: 100, taskTimeout: 10))
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        for t in 1...10 { _ = s.handle(.heartbeat(peer: a, tasks: [1], now: Double(t))) }
        let d = s.handle(.tick(now: 10.5))
        XCTAssertTrue(d.contains { if case .log("lease-expired", 1, _, _) = $0 { return true } else { return false } })
        XCTAssertEqual(s.status(of: 1), .queued)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 1, now: 11))).map { [$0.1, $0.2] }, [[1, 2]])
    }

    /// Random interleavings of every event kind never lose or double a task: every task ends
    /// done or failed, and each done task was stored exactly once.
    func testRandomInterleavingsNeverLoseOrDoubleATask() throws {
        var rng = SystemRandomNumberGeneratorFree(seed: 42)
        for round in 0..<200 {
            let n = 1 + Int(rng.next() % 30)
            var s = try make(n, config: SchedulerConfig(maxAttempts: 4, heartbeatInterval: 1, liveness: 3))
            let peers: [PeerID] = (0..<4).map { Array("w\(round)-\($0)".utf8) }
            var now = 0.0
            var inflight = [(PeerID, UInt64, UInt64)]()
            var storedCount = [UInt64: Int]()
            var toCommit = [UInt64]()
            var steps = 0
            while !s.isFinished && steps < 5000 {
                steps += 1
                now += 0.1 * Double(rng.next() % 10)
                var d = [SchedulerDirective]()
                switch rng.next() % 10 {
                case 0: d = hello(&s, peers[Int(rng.next() % 4)], now: now)
                case 1: d = s.handle(.ready(peer: peers[Int(rng.next() % 4)], credit: 1 + rng.next() % 3, now: now))
                case 2, 3:
                    if !inflight.isEmpty {
                        let (p, t, at) = inflight.remove(at: Int(rng.next() % UInt64(inflight.count)))
                        d = s.handle(.result(peer: p, task: t, attempt: at, digest: digest1, credit: 1, now: now))
                    }
                case 4:
                    if !inflight.isEmpty {
                        let (p, t, at) = inflight.remove(at: Int(rng.next() % UInt64(inflight.count)))
                        d = s.handle(.failure(peer: p, task: t, attempt: at, error: "x", retryable: true, credit: 1, now: now))
                    }
                case 5: d = s.handle(.committed(tasks: toCommit, now: now)); toCommit = []
                case 6: d = s.handle(.tick(now: now))
                case 7: for p in peers { d += s.handle(.heartbeat(peer: p, tasks: inflight.filter { $0.0 == p }.map(\.1), now: now)) }
                case 8:
                    // A checkpoint from a random holder (perhaps of a stale attempt): kept only
                    // for the current lease, never for a task that is done or failed.
                    if !inflight.isEmpty {
                        let (p, t, at) = inflight[Int(rng.next() % UInt64(inflight.count))]
                        d = s.handle(.checkpoint(peer: p, task: t, attempt: at, step: rng.next() % 1000, now: now))
                        for (kt, ka, _) in kept(d) {
                            XCTAssertEqual(s.status(of: kt), .running, "round \(round): checkpoint kept for a task not running")
                            XCTAssertEqual(UInt64(s.attempts(of: kt) ?? 0), ka, "round \(round): checkpoint of a stale attempt kept")
                        }
                    }
                default: d = s.handle(.unreachable(peer: peers[Int(rng.next() % 4)], now: now))
                }
                inflight += dispatched(d)
                for t in stored(d) { storedCount[t, default: 0] += 1; toCommit.append(t) }
                if rng.next() % 4 == 0 { _ = s.handle(.committed(tasks: toCommit, now: now)); toCommit = [] }
            }
            _ = s.handle(.committed(tasks: toCommit, now: now))
            XCTAssertTrue(s.isFinished, "round \(round) did not finish in \(steps) steps")
            for id in 1...UInt64(n) {
                let st = s.status(of: id)
                XCTAssertTrue(st == .done || st == .failed, "round \(round) task \(id) ended \(String(describing: st))")
                if st == .done { XCTAssertEqual(storedCount[id], 1, "round \(round) task \(id) stored \(storedCount[id] ?? 0) times") }
            }
        }
    }
}

/// A tiny deterministic generator for the interleaving test (SplitMix64).
struct SystemRandomNumberGeneratorFree {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SchedulerTests {
    func testUnsolicitedResultsAreDropped() throws {
        var s = try make(3, dependencies: [3: [1]])
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))   // task 1 → a (attempt 1)
        // An unknown peer that never received task 2, an attempt never made, a waiting task.
        XCTAssertTrue(stored(s.handle(.result(peer: c, task: 2, attempt: 1, digest: digest1, credit: 0, now: 1))).isEmpty)
        XCTAssertTrue(stored(s.handle(.result(peer: a, task: 1, attempt: 9, digest: digest1, credit: 0, now: 1))).isEmpty)
        XCTAssertTrue(stored(s.handle(.result(peer: a, task: 3, attempt: 1, digest: digest1, credit: 0, now: 1))).isEmpty)
        XCTAssertEqual(s.status(of: 2), .queued)
        XCTAssertEqual(stored(s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 0, now: 1))), [1])
    }

    func testDuplicatesOfResultsStoredBeforeARestartAreRecognised() throws {
        var s = try Scheduler(tasks: [TaskDescriptor(id: 1, kind: "probe", status: .done, attempts: 1, digest: digest1),
                                      TaskDescriptor(id: 2, kind: "probe")], config: SchedulerConfig())
        _ = hello(&s, a)
        let d = s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 0, now: 1))
        XCTAssertTrue(sent(d, to: a).contains(.ack(tasks: [1])))
        XCTAssertEqual(s.determinismViolations, 0)
    }
    private func kept(_ d: [SchedulerDirective]) -> [(UInt64, UInt64, UInt64)] {
        d.compactMap { if case let .keepCheckpoint(c) = $0 { return (c.task, c.attempt, c.step) } else { return nil } }
    }

    func testACheckpointFromTheCurrentLeaseIsKept() throws {
        var s = try make(2)
        _ = hello(&s, a)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 1, now: 0))).map(\.1), [1])
        let d = s.handle(.checkpoint(peer: a, task: 1, attempt: 1, step: 64, now: 0.5))
        XCTAssertEqual(kept(d).map(\.0), [1])
        XCTAssertEqual(kept(d).map(\.2), [64])
        XCTAssertEqual(s.status(of: 1), .running, "a checkpoint does not end the task")
    }

    func testCheckpointsFromAStaleAttemptAnotherWorkerOrAnUnknownPeerAreDropped() throws {
        var s = try make(1, config: SchedulerConfig(heartbeatInterval: 1, liveness: 2))
        _ = hello(&s, a)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        // a goes silent; the lease expires and b gets attempt 2.
        _ = s.handle(.tick(now: 3))
        _ = hello(&s, b, now: 3)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: b, credit: 1, now: 3))).map(\.2), [2])
        // a comes back with a checkpoint of attempt 1: it must not replace attempt 2's state.
        _ = hello(&s, a, now: 4)
        var d = s.handle(.checkpoint(peer: a, task: 1, attempt: 1, step: 999, now: 4))
        XCTAssertTrue(kept(d).isEmpty)
        XCTAssertTrue(d.contains { if case .log("stale-checkpoint", 1, _, _) = $0 { return true } else { return false } })
        d = s.handle(.checkpoint(peer: b, task: 1, attempt: 1, step: 5, now: 4))
        XCTAssertTrue(kept(d).isEmpty, "b holds attempt 2, not 1")
        d = s.handle(.checkpoint(peer: c, task: 1, attempt: 2, step: 5, now: 4))
        XCTAssertEqual(sent(d, to: c).map(\.typeCode), [3], "an unknown peer is told to introduce itself")
        XCTAssertEqual(kept(s.handle(.checkpoint(peer: b, task: 1, attempt: 2, step: 5, now: 4))).map(\.2), [5])
        // Once the result is in, later checkpoints are dropped.
        _ = s.handle(.result(peer: b, task: 1, attempt: 2, digest: digest1, credit: 0, now: 5))
        XCTAssertTrue(kept(s.handle(.checkpoint(peer: b, task: 1, attempt: 2, step: 6, now: 5))).isEmpty)
    }
}

extension SchedulerTests {
    /// Tasks that become ready together (a chain's next level) are spread over idle workers
    /// before any worker's prefetch credit is used.
    func testTasksReadyTogetherGoToIdleWorkersBeforeAnyonesPrefetch() throws {
        var s = try make(3, dependencies: [2: [1], 3: [1]])
        _ = hello(&s, a)
        _ = hello(&s, b)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 2, now: 0))).map(\.1), [1])
        XCTAssertTrue(dispatched(s.handle(.ready(peer: b, credit: 2, now: 0))).isEmpty)
        let d = complete(&s, a, 1)
        let sent = dispatched(d)
        XCTAssertEqual(sent.map(\.1).sorted(), [2, 3])
        XCTAssertEqual(Set(sent.map(\.0)), [a, b], "one each, not both to the worker that finished task 1")
    }
}

extension SchedulerEvent {
    /// A result the scheduler judges by its digest alone (no output, no blobs).
    static func result(peer: PeerID, task: UInt64, attempt: UInt64, digest: [UInt8], credit: UInt64, now: Double) -> SchedulerEvent {
        .result(peer: peer, result: ReceivedResult(result: TaskResult(task: task, attempt: attempt, output: [], credit: credit), blobHashes: [],
                                                   digest: digest), now: now)
    }

    /// A checkpoint of `task` at `step` (empty state).
    static func checkpoint(peer: PeerID, task: UInt64, attempt: UInt64, step: UInt64, now: Double) -> SchedulerEvent {
        .checkpoint(peer: peer, checkpoint: TaskCheckpoint(task: task, attempt: attempt, step: step, data: []), now: now)
    }
}
