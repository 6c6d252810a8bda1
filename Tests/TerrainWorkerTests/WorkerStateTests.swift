import TerrainCore
import TerrainProtocol
import TerrainWorker
import XCTest

/// The worker's state machine, event by event: credit, fetching and caching, liveness and
/// backoff, resending after a reconnect, leaving on a signal (no sockets, no threads).
final class WorkerStateTests: XCTestCase {
    private func welcomed(prefetch: Int = 1, cacheBytes: Int = 1 << 20, giveUpAfter: Double? = nil) -> WorkerState {
        var s = WorkerState(config: .init(endpoint: "tcp://c:1", prefetch: prefetch, giveUpAfter: giveUpAfter, cacheBytes: cacheBytes))
        _ = s.handle(.start(now: 0))
        _ = s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: 3), now: 0))
        return s
    }

    private func sent(_ actions: [WorkerState.Action]) -> [WireMessage] {
        actions.compactMap { if case .send(let m) = $0 { return m } else { return nil } }
    }

    private func computed(_ actions: [WorkerState.Action]) -> [UInt64] {
        actions.compactMap { if case .compute(let t) = $0 { return t.task } else { return nil } }
    }

    private func task(_ id: UInt64, needs hashes: [[UInt8]] = []) -> WireMessage {
        .task(TaskAssignment(task: id, attempt: 1, kind: "probe", params: [],
                             inputs: hashes.enumerated().map { TaskInputRef(dependency: 0, name: "in\($0.offset)", hash: $0.element) }))
    }

    private func artifact(_ bytes: [UInt8]) -> WireMessage { .artifact(hash: SHA256.hash(bytes), data: bytes) }

    func testAWelcomeAsksForTheComputingSlotPlusThePrefetch() {
        var s = WorkerState(config: .init(endpoint: "e", prefetch: 2))
        XCTAssertEqual(s.handle(.start(now: 0)), [.connect])
        XCTAssertEqual(s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 500, liveness: 4), now: 0.1)), [.send(.ready(credit: 3))])
        XCTAssertTrue(s.isWelcomed)
    }

    func testATaskFetchesOnlyWhatIsMissingAndStartsOnceEverythingIsHeld() {
        var s = welcomed()
        let a: [UInt8] = [1, 2, 3], b: [UInt8] = [4, 5]
        XCTAssertEqual(sent(s.handle(.received(task(1, needs: [SHA256.hash(a), SHA256.hash(b)]), now: 1))),
                       [.fetch(hashes: [SHA256.hash(a), SHA256.hash(b)])])
        let first = s.handle(.received(artifact(a), now: 1))
        XCTAssertEqual(first, [.store(hash: SHA256.hash(a), data: a)])
        XCTAssertEqual(computed(s.handle(.received(artifact(b), now: 1))), [1])
        XCTAssertEqual(sent(s.handle(.received(task(2, needs: [SHA256.hash(a)]), now: 1))), [], "a held artifact is not fetched again")
        XCTAssertEqual(s.heldTasks, [1, 2])
    }

    func testAnArtifactThatFailsItsHashIsAskedForAgain() {
        var s = welcomed()
        let a: [UInt8] = [1, 2, 3]
        _ = s.handle(.received(task(1, needs: [SHA256.hash(a)]), now: 1))
        let d = s.handle(.received(.artifact(hash: SHA256.hash(a), data: [9]), now: 1))
        XCTAssertEqual(sent(d), [.fetch(hashes: [SHA256.hash(a)])])
        XCTAssertEqual(computed(d), [])
    }

    func testTheCacheNeverEvictsWhatAQueuedTaskNeeds() {
        var s = welcomed(cacheBytes: 10)
        let a = [UInt8](repeating: 1, count: 8), b = [UInt8](repeating: 2, count: 8), c = [UInt8](repeating: 3, count: 8)
        _ = s.handle(.received(task(1, needs: [SHA256.hash(a)]), now: 1))
        XCTAssertEqual(computed(s.handle(.received(artifact(a), now: 1))), [1])
        _ = s.handle(.received(task(2, needs: [SHA256.hash(b), SHA256.hash(c)]), now: 1))
        XCTAssertEqual(s.handle(.received(artifact(b), now: 1)), [.store(hash: SHA256.hash(b), data: b), .evict(hash: SHA256.hash(a))])
        XCTAssertEqual(s.handle(.received(artifact(c), now: 1)), [.store(hash: SHA256.hash(c), data: c)], "b is needed by task 2: over budget, kept")
        XCTAssertEqual(computed(s.handle(.computed(.result(TaskResult(task: 1, attempt: 1, output: [])), now: 2))), [2])
    }

    func testResultsAreResentAfterAReconnectUntilAcknowledged() {
        var s = welcomed()
        XCTAssertEqual(computed(s.handle(.received(task(1), now: 0.5))), [1])
        let r = TaskResult(task: 1, attempt: 1, output: [7])
        var withCredit = r
        withCredit.credit = 1
        XCTAssertEqual(sent(s.handle(.computed(.result(r), now: 1))), [.result(withCredit)])
        // Silent for more than liveness × heartbeat = 3 s: a new connection, a new welcome.
        XCTAssertTrue(s.handle(.tick(now: 3.9)).contains(.connect))
        XCTAssertEqual(sent(s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: 3), now: 4))),
                       [.result(withCredit), .ready(credit: 2)])
        _ = s.handle(.received(.ack(tasks: [1]), now: 4.1))
        XCTAssertEqual(s.unacknowledged, [])
        XCTAssertTrue(s.handle(.tick(now: 7.2)).contains(.connect))
        XCTAssertEqual(sent(s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: 3), now: 7.3))), [.ready(credit: 2)])
    }

    func testBeforeAWelcomeTheWorkerReconnectsWithGrowingBackoffAndGivesUpAtTheLimit() {
        var s = WorkerState(config: .init(endpoint: "tcp://head:5555", giveUpAfter: 30))
        _ = s.handle(.start(now: 0))
        var reconnects = [Double]()
        var exit: WorkerExit?
        for step in 1...400 {
            let now = Double(step) * 0.125  // exact in binary: no rounding at the limits
            for a in s.handle(.tick(now: now)) {
                if a == .connect { reconnects.append(now) }
                if case .exit(let e) = a { exit = e }
            }
            if exit != nil { break }
        }
        // Silence limits max(2, 2 × backoff): 2, 2, 4, 8, 16 s.
        XCTAssertEqual(reconnects, [2.125, 4.25, 8.375, 16.5])
        XCTAssertEqual(exit, .gaveUp("no coordinator answered at tcp://head:5555 for 30 s"))
    }

    func testHeartbeatsListTheTasksHeldOnceAnIntervalHasPassed() {
        var s = welcomed(prefetch: 1)
        _ = s.handle(.received(task(1), now: 0.2))
        _ = s.handle(.received(task(2), now: 0.2))
        XCTAssertEqual(sent(s.handle(.tick(now: 0.5))), [], "less than an interval since the last message")
        XCTAssertEqual(sent(s.handle(.tick(now: 1.0))), [.heartbeat(tasks: [1, 2])])
    }

    func testASignalFinishesTheCurrentTaskHandsItInAndLeaves() {
        var s = welcomed()
        _ = s.handle(.received(task(1), now: 0.1))
        _ = s.handle(.received(task(2), now: 0.1))
        _ = s.handle(.signal(now: 0.2))
        XCTAssertEqual(s.heldTasks, [1], "the prefetched task is handed back")
        XCTAssertFalse(s.handle(.tick(now: 0.3)).contains(.exit(.signalled)), "task 1 still computing")
        let r = s.handle(.computed(.result(TaskResult(task: 1, attempt: 1, output: [])), now: 0.4))
        XCTAssertEqual(sent(r), [.result(TaskResult(task: 1, attempt: 1, output: [], credit: 0))], "no credit while leaving")
        XCTAssertFalse(s.handle(.tick(now: 0.5)).contains(.exit(.signalled)), "waits for the acknowledgement")
        _ = s.handle(.received(.ack(tasks: [1]), now: 0.6))
        XCTAssertEqual(s.handle(.tick(now: 0.7)), [.send(.goodbye(reason: "worker stopping (signal)")), .exit(.signalled)])
    }

    /// After a coordinator restart the worker hears `reject` code 2 for whatever it sends; it
    /// says hello first and sends its unacknowledged results only once welcomed again.
    func testAfterAnUnknownPeerRejectResultsWaitForTheNewWelcome() {
        var s = welcomed()
        XCTAssertEqual(computed(s.handle(.received(task(1), now: 0.5))), [1])
        _ = s.handle(.received(task(2), now: 0.5))
        let d = s.handle(.received(.reject(code: .unknownPeer, reason: "unknown peer: say hello first"), now: 1))
        XCTAssertTrue(d.contains(.connect))
        XCTAssertFalse(s.isWelcomed)
        XCTAssertEqual(s.heldTasks, [1], "the queued task is no longer ours: dropped")
        let r = TaskResult(task: 1, attempt: 1, output: [7])
        let finished = s.handle(.computed(.result(r), now: 1.2))
        XCTAssertEqual(sent(finished).filter { if case .result = $0 { return true } else { return false } }, [], "not before hello")
        XCTAssertEqual(s.unacknowledged, [1])
        var resent = r
        resent.credit = 1
        XCTAssertEqual(sent(s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: 3), now: 1.3))),
                       [.result(resent), .ready(credit: 2)])
    }

    /// A worker woken from SIGSTOP must not compute a prefetched task the coordinator has given
    /// to another worker (or that belongs to a finished sweep): it waits to hear from the
    /// coordinator, whose heartbeat lists its leases, and drops the others.
    func testAStaleWorkerWaitsForTheCoordinatorAndDropsTasksNoLongerLeasedToIt() {
        var s = welcomed(prefetch: 2)
        XCTAssertEqual(computed(s.handle(.received(task(1), now: 0.1))), [1])
        _ = s.handle(.received(task(2), now: 0.1))
        _ = s.handle(.received(task(3), now: 0.1))
        // Stopped for a minute (the sweep may have ended meanwhile); task 1 ends as it wakes up.
        let woke = s.handle(.computed(.result(TaskResult(task: 1, attempt: 1, output: [])), now: 60))
        XCTAssertEqual(computed(woke), [], "nothing starts before the coordinator is heard from again")
        let tick = s.handle(.tick(now: 60.05))
        XCTAssertEqual(computed(tick), [])
        XCTAssertTrue(tick.contains(.connect), "silent past the liveness window: a new connection")
        XCTAssertEqual(s.heldTasks, [], "its queued tasks were the old connection's: dropped")

        // Within the liveness window, the coordinator's heartbeat lists its leases.
        var t = welcomed(prefetch: 2)
        _ = t.handle(.received(task(1), now: 0.1))
        _ = t.handle(.received(task(2), now: 0.1))
        _ = t.handle(.received(task(3), now: 0.1))
        let heard = t.handle(.received(.heartbeat(tasks: [1, 3]), now: 1))
        XCTAssertEqual(t.heldTasks, [1, 3], "task 2 was given to another worker")
        XCTAssertTrue(sent(heard).contains(.ready(credit: 1)), "the dropped task's slot is offered again")
        XCTAssertEqual(computed(t.handle(.computed(.result(TaskResult(task: 1, attempt: 1, output: [])), now: 2))), [3])
    }

    func testRejectsAndDone() {
        var s = welcomed()
        XCTAssertTrue(s.handle(.received(.reject(code: .unknownPeer, reason: "say hello"), now: 1)).contains(.connect))
        XCTAssertEqual(s.handle(.received(.reject(code: .versionMismatch, reason: "v"), now: 1)), [.exit(.rejected(.versionMismatch, "v"))])
        XCTAssertEqual(s.handle(.received(.done(reason: "finished"), now: 1)), [.exit(.done("finished"))])
    }
}
