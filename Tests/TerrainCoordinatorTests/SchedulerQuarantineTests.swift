import TerrainCoordinator
import TerrainWire
import XCTest

/// When a task is given up on (docs/protocol.md, "What counts against a task"): failed
/// attempts apart from lost workers, the streak of healthy workers a task takes down, a
/// non-retryable failure confirmed by a second worker, and `verify: 2`.
extension SchedulerTests {
    func testNonRetryableFailureQuarantinesOnceASecondWorkerConfirmsIt() throws {
        var s = try make(1)
        _ = hello(&s, a)
        _ = hello(&s, b)
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        // One worker's word is not enough: a faulty or hostile worker cannot fail a task for good.
        let first = s.handle(.failure(peer: a, task: 1, attempt: 1, error: "bad params", retryable: false, credit: 0, now: 1))
        XCTAssertEqual(s.status(of: 1), .queued)
        XCTAssertTrue(first.contains(.status(task: 1, status: .queued, attempts: 1, failures: 1, worker: nil, error: "bad params")))
        _ = s.handle(.ready(peer: b, credit: 1, now: 1))
        XCTAssertEqual(s.status(of: 1), .running)
        let d = s.handle(.failure(peer: b, task: 1, attempt: 2, error: "bad params", retryable: false, credit: 0, now: 2))
        XCTAssertEqual(s.status(of: 1), .failed)
        XCTAssertTrue(d.contains(.status(task: 1, status: .failed, attempts: 2, failures: 2, worker: nil, error: "bad params")))
    }

    /// docs/protocol.md, "Liveness, leases and retries": a task is quarantined for lost
    /// workers only when `max_lost_workers` distinct workers, each of which had returned a
    /// result, were lost in a row while computing it.
    func testATaskThatTakesDownSeveralHealthyWorkersInARowIsQuarantined() throws {
        var s = try make(4, config: SchedulerConfig(maxAttempts: 1, maxLostWorkers: 3))
        let d = Array("worker-d".utf8)
        for (i, peer) in [a, b, c, d].enumerated() {
            _ = hello(&s, peer)
            _ = s.handle(.ready(peer: peer, credit: 1, now: 0))
            if i < 3 { _ = complete(&s, peer, UInt64(i + 1), credit: 0) }  // a, b and c have shown they work
        }
        // d never returned a result: its loss says nothing about task 4, and does not count.
        XCTAssertEqual(s.status(of: 4), .running)
        _ = s.handle(.unreachable(peer: d, now: 1))
        for (i, peer) in [a, b, c].enumerated() {
            XCTAssertEqual(s.status(of: 4), .queued)
            XCTAssertEqual(s.failures(of: 4), 0, "a lost worker is not a failed attempt")
            _ = s.handle(.ready(peer: peer, credit: 1, now: 2 + Double(i)))
            XCTAssertEqual(s.status(of: 4), .running)
            _ = s.handle(.unreachable(peer: peer, now: 2.5 + Double(i)))
        }
        XCTAssertEqual(s.status(of: 4), .failed, "three healthy workers lost in a row, each computing task 4")
        XCTAssertTrue(s.isFinished)
    }

    func testALossUnderAnotherTaskOrTheSameWorkerAgainDoesNotLengthenTheStreak() throws {
        var s = try make(5, config: SchedulerConfig(maxLostWorkers: 2))
        for (i, peer) in [a, b, c].enumerated() {
            _ = hello(&s, peer)
            _ = s.handle(.ready(peer: peer, credit: 1, now: 0))
            _ = complete(&s, peer, UInt64(i + 1), credit: 0)
        }
        // Task 4 takes down a; then b is lost under task 5, which ends task 4's streak, so
        // that c lost under task 4 starts a new one instead of completing it.
        _ = s.handle(.ready(peer: a, credit: 1, now: 1))
        XCTAssertEqual(s.leases(of: a), [4])
        _ = s.handle(.unreachable(peer: a, now: 1))
        _ = s.handle(.ready(peer: b, credit: 1, now: 2))
        XCTAssertEqual(s.leases(of: b), [5])
        _ = s.handle(.unreachable(peer: b, now: 2))
        _ = s.handle(.ready(peer: c, credit: 1, now: 3))
        XCTAssertEqual(s.leases(of: c), [4])
        _ = s.handle(.unreachable(peer: c, now: 3))
        XCTAssertEqual(s.status(of: 4), .queued)

        // The same process (host and pid) reconnecting and dying again under the same task
        // is one worker, not two.
        var t = try make(2, config: SchedulerConfig(maxLostWorkers: 2))
        _ = hello(&t, a)
        _ = t.handle(.ready(peer: a, credit: 1, now: 0))
        _ = complete(&t, a, 1, credit: 1)
        XCTAssertEqual(t.leases(of: a), [2])
        for round in 0..<3 {
            _ = t.handle(.unreachable(peer: a, now: Double(round)))
            XCTAssertEqual(t.status(of: 2), .queued, "round \(round)")
            _ = hello(&t, a, now: Double(round))
            _ = t.handle(.result(peer: a, task: 1, attempt: 1, digest: digest1, credit: 0, now: Double(round)))  // it works
            _ = t.handle(.ready(peer: a, credit: 1, now: Double(round)))
            XCTAssertEqual(t.leases(of: a), [2])
        }
    }

    /// `runtime.verify: 2`: a result is stored only once two distinct workers returned the same
    /// digest; a worker is never asked twice; disagreements are logged naming the workers.
    func testVerifyTwoStoresAResultOnlyWhenTwoDistinctWorkersAgree() throws {
        var s = try make(1, config: SchedulerConfig(verify: 2))
        for p in [a, b, c] { _ = hello(&s, p) }
        _ = s.handle(.ready(peer: a, credit: 1, now: 0))
        var d = s.handle(.result(peer: a, task: 1, attempt: 1, digest: digest2, credit: 1, now: 1))  // a is faulty
        XCTAssertTrue(stored(d).isEmpty)
        XCTAssertTrue(sent(d, to: a).contains(.ack(tasks: [1])), "an opinion is acknowledged: there is nothing to re-send")
        XCTAssertEqual(s.status(of: 1), .queued)
        XCTAssertEqual(s.leases(of: a), [], "a worker does not give a second opinion on the same task")
        _ = s.handle(.ready(peer: b, credit: 1, now: 1))
        d = s.handle(.result(peer: b, task: 1, attempt: 2, digest: digest1, credit: 0, now: 2))
        XCTAssertTrue(stored(d).isEmpty, "two opinions, no agreement yet")
        XCTAssertTrue(d.contains { if case .log("verification-mismatch", 1, _, _) = $0 { return true } else { return false } })
        _ = s.handle(.ready(peer: c, credit: 1, now: 2))
        d = s.handle(.result(peer: c, task: 1, attempt: 3, digest: digest1, credit: 0, now: 3))
        XCTAssertEqual(stored(d), [1], "b and c agree")
        let detail = d.compactMap { if case .log("verification-mismatch", _, _, let m) = $0 { return m } else { return nil } }.first ?? ""
        XCTAssertTrue(detail.contains("differed: h pid 97"), detail)

        // Opinions that never agree: quarantined after verify + 2 of them.
        var t = try make(1, config: SchedulerConfig(verify: 2))
        for (i, p) in [a, b, c, Array("worker-d".utf8)].enumerated() {
            _ = hello(&t, p)
            _ = t.handle(.ready(peer: p, credit: 1, now: Double(i)))
            _ = t.handle(.result(peer: p, task: 1, attempt: UInt64(i + 1), digest: [UInt8](repeating: UInt8(i), count: 32), credit: 0,
                                 now: Double(i)))
        }
        XCTAssertEqual(t.status(of: 1), .failed)
    }

    /// A lost worker is not evidence against its tasks: they go back to the queue with their
    /// failures unchanged, however often it happens to workers that never showed they work.
    func testALostWorkerIsNotEvidenceAgainstItsTasks() throws {
        var s = try make(3, config: SchedulerConfig(maxAttempts: 1))
        _ = hello(&s, a)
        XCTAssertEqual(dispatched(s.handle(.ready(peer: a, credit: 2, now: 0))).map(\.1), [1, 2])
        _ = s.handle(.unreachable(peer: a, now: 1))
        XCTAssertEqual(s.status(of: 1), .queued, "the computing task is retried")
        XCTAssertEqual(s.failures(of: 1), 0)
        XCTAssertEqual(s.attempts(of: 1), 1, "the attempt is still counted as made")
        XCTAssertEqual(s.status(of: 2), .queued)
        for i in 0..<20 {
            let peer = Array("fresh-\(i)".utf8)
            _ = hello(&s, peer, now: Double(i))
            _ = s.handle(.ready(peer: peer, credit: 1, now: Double(i)))
            _ = s.handle(.unreachable(peer: peer, now: Double(i) + 0.5))
        }
        XCTAssertEqual(s.statusCounts[.failed] ?? 0, 0, "twenty workers that never returned a result prove nothing")
    }
}
