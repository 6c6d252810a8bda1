import TerrainCore
import TerrainProtocol
import TerrainWorker
import XCTest

/// The worker's state machine for batch systems: a second signal (or the end of `--grace`)
/// hands the running task back at once, and an endpoint file naming a new coordinator makes it
/// connect there under a new identity.
final class WorkerStopStateTests: XCTestCase {
    private func welcomed() -> WorkerState {
        var s = WorkerState(config: .init(endpoint: "@/shared/ep", prefetch: 1, giveUpAfter: 600))
        _ = s.handle(.start(now: 0))
        _ = s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: 3), now: 0))
        return s
    }

    private func task(_ id: UInt64) -> WireMessage { .task(TaskAssignment(task: id, attempt: 1, kind: "probe", params: [], inputs: [])) }

    func testAbandonAfterASignalSaysGoodbyeNamingTheTaskAndExits() {
        var s = welcomed()
        _ = s.handle(.received(task(7), now: 0.1))
        _ = s.handle(.received(task(8), now: 0.1))
        _ = s.handle(.signal(now: 0.2))
        XCTAssertEqual(s.heldTasks, [7])
        let out = s.handle(.abandon(reason: "second signal", now: 0.3))
        XCTAssertEqual(out, [.send(.goodbye(reason: "worker stopping now (second signal); task 7 handed back unfinished")),
                             .exit(.abandoned("second signal; task 7 handed back unfinished"))])
        XCTAssertEqual(WorkerExit.abandoned("x").status, 130)
        XCTAssertEqual(WorkerExit.signalled.status, 130)
        XCTAssertEqual(WorkerExit.done("d").status, 0)
    }

    func testAbandonWithNothingRunningStillLeaves() {
        var s = welcomed()
        XCTAssertEqual(s.handle(.abandon(reason: "the 5.0 s grace period ran out", now: 1)),
                       [.send(.goodbye(reason: "worker stopping now (the 5.0 s grace period ran out); no task running")),
                        .exit(.abandoned("the 5.0 s grace period ran out; no task running"))])
    }

    func testAMovedCoordinatorIsJoinedAnewAndUnacknowledgedResultsFollow() {
        var s = welcomed()
        _ = s.handle(.received(task(1), now: 0.1))
        _ = s.handle(.received(task(2), now: 0.1))
        _ = s.handle(.computed(.result(TaskResult(task: 1, attempt: 1, output: [9])), now: 0.5))
        let moved = s.handle(.endpointChanged("tcp://n3:41000", now: 0.6))
        XCTAssertEqual(moved.last, .connect)
        XCTAssertFalse(s.isWelcomed)
        XCTAssertEqual(s.heldTasks, [2], "task 2 keeps computing; nothing is queued for the old coordinator")
        let welcome = s.handle(.received(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: 3), now: 0.7))
        XCTAssertTrue(welcome.contains(.send(.result(TaskResult(task: 1, attempt: 1, output: [9], credit: 1)))), "\(welcome)")
    }
}
