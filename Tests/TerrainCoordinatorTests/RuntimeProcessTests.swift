import Foundation
import TerrainCoordinator
import TerrainTestSupport
import TerrainWire
import XCTest

/// The runtime with real processes: a coordinator, workers, kills, stalls, restarts,
/// hostile peers and CURVE.
final class RuntimeProcessTests: XCTestCase {
    private var harness: ProcessHarness!

    override func setUpWithError() throws {
        _ = try ProcessHarness.terrain
        harness = try ProcessHarness(name: name.filter { $0.isLetter })
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    private func probeSpec(tasks: Int, sleepMs: Int, extraProbe: String = "", runtime: String = "heartbeat_ms: 100\n  liveness: 5") throws -> String {
        try harness.write("spec.yaml", """
        name: rt
        kind: probe
        probe:
          tasks: \(tasks)
          sleep_ms: \(sleepMs)
          \(extraProbe)
        runtime:
          \(runtime)
        """)
    }

    private func assertAllTasksDoneOnce(_ n: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let rows = try harness.open().resultRows()
        XCTAssertEqual(rows.count, n, "results", file: file, line: line)
        XCTAssertEqual(Set(rows.map(\.task)), Set(1...UInt64(n)), "every task exactly once", file: file, line: line)
        let p = try harness.open().readProgress()
        XCTAssertEqual(p.done, n, file: file, line: line)
    }

    func testWorkerKilledMidTaskLosesNothingAndDoublesNothing() throws {
        let spec = try probeSpec(tasks: 60, sleepMs: 40)
        let c = try harness.coordinator(spec)
        let workers = try (0..<3).map { try harness.worker("w\($0)") }
        harness.waitFor("10 results") { harness.resultCount() >= 10 }
        kill(workers[1].processIdentifier, SIGKILL)
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        try assertAllTasksDoneOnce(60)
        XCTAssertFalse(try harness.open().events(kind: "worker-lost").isEmpty, "the kill was noticed")
        for w in [workers[0], workers[2]] { XCTAssertEqual(harness.waitForExit(w), 0) }
    }

    func testCoordinatorKilledAndRestartedResumesWithoutRerunningCommittedTasks() throws {
        let spec = try probeSpec(tasks: 80, sleepMs: 25)
        let c1 = try harness.coordinator(spec, label: "c1")
        let workers = try (0..<2).map { try harness.worker("w\($0)") }
        harness.waitFor("20 results") { harness.resultCount() >= 20 }
        kill(c1.processIdentifier, SIGKILL)
        c1.waitUntilExit()
        let before = try harness.open()
        let committed = try before.resultRows()
        XCTAssertLessThan(committed.count, 80)
        var attemptsBefore = [UInt64: Int]()
        for r in committed { attemptsBefore[r.task] = try before.task(r.task)!.attempts }

        let c2 = try harness.coordinator(spec, label: "c2")
        XCTAssertEqual(harness.waitForExit(c2), 0, harness.output("c2"))
        try assertAllTasksDoneOnce(80)
        let after = try harness.open()
        let rows = Dictionary(uniqueKeysWithValues: try after.resultRows().map { ($0.task, $0) })
        for r in committed {
            XCTAssertEqual(rows[r.task]?.received, r.received, "task \(r.task)'s result was rewritten")
            XCTAssertEqual(try after.task(r.task)?.attempts, attemptsBefore[r.task], "task \(r.task) ran again after the restart")
        }
        for w in workers { XCTAssertEqual(harness.waitForExit(w), 0, harness.output("w0")) }
    }

    func testStalledWorkerReturningLateIsDeduplicated() throws {
        let spec = try probeSpec(tasks: 30, sleepMs: 60, runtime: "heartbeat_ms: 100\n  liveness: 3")
        let c = try harness.coordinator(spec)
        let a = try harness.worker("a")
        harness.waitFor("a running a task") { harness.resultCount() >= 2 }
        let b = try harness.worker("b")
        kill(a.processIdentifier, SIGSTOP)
        // b takes over a's task once a is presumed dead; a task then has two attempts and is done.
        try harness.waitFor("a's task redone by b") {
            let ds = try harness.open()
            return try (1...30).contains { id in
                guard let t = try ds.task(UInt64(id)) else { return false }
                return t.status == .done && t.attempts >= 2
            }
        }
        kill(a.processIdentifier, SIGCONT)
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        try assertAllTasksDoneOnce(30)
        let ds = try harness.open()
        XCTAssertFalse(try ds.events(kind: "duplicate").isEmpty, "a's late result was recognised as a duplicate")
        XCTAssertTrue(try ds.events(kind: "determinism-violation").isEmpty)
        _ = harness.waitForExit(a)
        _ = harness.waitForExit(b)
    }

    func testPoisonTaskIsQuarantinedAndTheRestCompletes() throws {
        let spec = try probeSpec(tasks: 20, sleepMs: 5, extraProbe: "fail: [4]\n  crash: [9]", runtime: "max_attempts: 2\n  heartbeat_ms: 100")
        let c = try harness.coordinator(spec)
        // Task 9 kills its worker on every attempt: keep enough workers around.
        let workers = try (0..<4).map { try harness.worker("w\($0)") }
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        let ds = try harness.open()
        XCTAssertEqual(try ds.task(4)?.status, .failed)
        XCTAssertEqual(try ds.task(4)?.failures, 2)
        XCTAssertTrue(try ds.task(4)?.error?.contains("fails on purpose") ?? false)
        XCTAssertEqual(try ds.task(9)?.status, .failed)
        XCTAssertEqual(try ds.task(9)?.failures, 2, "each crash was reported by its worker, which lived on")
        let crash = try ds.task(9)?.error ?? ""
        XCTAssertTrue(crash.contains("crashed its worker's compute process (killed by signal 9)"), crash)
        XCTAssertEqual(try ds.resultRows().count, 18)
        for w in workers { _ = harness.waitForExit(w) }
    }

    func testProtocolVersionMismatchGivesTheWorkerAClearErrorAndExitCode3() throws {
        let spec = try probeSpec(tasks: 3, sleepMs: 0)
        let c = try harness.coordinator(spec)
        let bad = try harness.worker("bad", extra: ["--protocol-version", "9"])
        XCTAssertEqual(harness.waitForExit(bad), 3)
        XCTAssertTrue(harness.output("bad").contains("protocol version"), harness.output("bad"))
        let good = try harness.worker("good")
        XCTAssertEqual(harness.waitForExit(c), 0)
        XCTAssertEqual(harness.waitForExit(good), 0)
    }

    func testGarbageFramesLeaveTheCoordinatorServingOthers() throws {
        let spec = try probeSpec(tasks: 40, sleepMs: 2)
        let c = try harness.coordinator(spec)
        harness.waitFor("coordinator socket") { FileManager.default.fileExists(atPath: String(harness.endpoint.dropFirst(6))) }
        let context = try ZMQContext()
        let junk = try ZMQSocket(context, .dealer)
        defer { junk.close() }
        try junk.connect(harness.endpoint)
        var rng = SystemRandomNumberGeneratorFree(seed: 7)
        let valid = WireCodec.encode(.hello(WorkerHello(worker: "x", host: "h", pid: 1, kinds: ["probe"], slots: 1)))
        var messages: [[[UInt8]]] = [
            [[]], [[0x54]], [[0x54, 0x52]], [[0x54, 0x52, 1, 99]],                    // empty, truncated, unknown type
            [Array(valid[0].prefix(valid[0].count - 3))],                              // truncated fields
            [[0x54, 0x52, 1, 5] + [UInt8](repeating: 0xFF, count: 40)],               // bad field lengths
            [[0x54, 0x52, 1, 4, 6] + Array("credit".utf8) + [1, 1, 2, 3]],            // truncated u64
            Array(repeating: [0x54, 0x52, 1, 6], count: 70),                           // too many frames
            [[0x54, 0x52, 1, 6] + [UInt8](repeating: 0, count: 70_000)],               // oversized header
            WireCodec.encode(.ack(tasks: [1])),                                        // coordinator-only type
            WireCodec.encode(.result(TaskResult(task: 999_999, attempt: 1, output: [1]))), // unknown task, unknown peer
        ]
        for _ in 0..<200 {
            messages.append((0..<(1 + Int(rng.next() % 3))).map { _ in (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } })
        }
        for m in messages { _ = try junk.send(m) }
        let w = try harness.worker("w")
        for m in messages.prefix(20) { _ = try junk.send(m) }
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        try assertAllTasksDoneOnce(40)
        XCTAssertFalse(try harness.open().events(kind: "malformed").isEmpty)
        XCTAssertEqual(harness.waitForExit(w), 0)
    }

    func testOnlyWorkersWithAnAllowedCurveKeyAreServed() throws {
        for name in ["coordinator", "good", "bad"] {
            let r = try harness.start(["keys", "generate", name, "--directory", harness.dir + "/keys"], label: "keys-\(name)")
            XCTAssertEqual(harness.waitForExit(r), 0, harness.output("keys-\(name)"))
        }
        try FileManager.default.createDirectory(atPath: harness.dir + "/allowed", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: harness.dir + "/keys/good.key", toPath: harness.dir + "/allowed/good.key")
        let spec = try probeSpec(tasks: 10, sleepMs: 5)
        let c = try harness.coordinator(spec, extra: ["--curve-key", harness.dir + "/keys/coordinator", "--allowed-keys", harness.dir + "/allowed"])
        let server = ["--server-key", harness.dir + "/keys/coordinator.key"]
        let bad = try harness.start(["worker", "--connect", harness.endpoint, "--give-up-after", "3", "--curve-key", harness.dir + "/keys/bad"] + server, label: "bad")
        let plain = try harness.start(["worker", "--connect", harness.endpoint, "--give-up-after", "3"], label: "plain")
        XCTAssertEqual(harness.waitForExit(bad), 4, harness.output("bad"))
        XCTAssertEqual(harness.waitForExit(plain), 4, harness.output("plain"))
        XCTAssertEqual(harness.resultCount(), 0, "refused peers got no work")
        let good = try harness.start(["worker", "--connect", harness.endpoint, "--give-up-after", "30", "--curve-key", harness.dir + "/keys/good"] + server, label: "good")
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        XCTAssertEqual(harness.waitForExit(good), 0, harness.output("good"))
        try assertAllTasksDoneOnce(10)
    }

    func testSIGTERMStopsTheCoordinatorCleanlyAndARestartFinishes() throws {
        let spec = try probeSpec(tasks: 50, sleepMs: 30)
        let c1 = try harness.coordinator(spec, label: "c1")
        let w = try harness.worker("w")
        harness.waitFor("5 results") { harness.resultCount() >= 5 }
        kill(c1.processIdentifier, SIGTERM)
        XCTAssertEqual(harness.waitForExit(c1), 130, harness.output("c1"))
        let p = try harness.open().readProgress()
        XCTAssertEqual(p.state, "stopped")
        XCTAssertEqual(p.running, 0, "running tasks were handed back or finished")
        XCTAssertLessThan(p.done, 50)
        let c2 = try harness.coordinator(spec, label: "c2")
        XCTAssertEqual(harness.waitForExit(c2), 0, harness.output("c2"))
        try assertAllTasksDoneOnce(50)
        _ = harness.waitForExit(w)
    }

    func testAnotherSpecOnAnExistingDatasetIsRefused() throws {
        let spec = try probeSpec(tasks: 2, sleepMs: 0)
        let c = try harness.coordinator(spec)
        let w = try harness.worker("w")
        XCTAssertEqual(harness.waitForExit(c), 0)
        _ = harness.waitForExit(w)
        let other = try harness.write("other.yaml", "kind: probe\nprobe: {tasks: 3}\n")
        let c2 = try harness.coordinator(other, label: "c2")
        XCTAssertEqual(harness.waitForExit(c2), 1)
        XCTAssertTrue(harness.output("c2").contains("holds another sweep"), harness.output("c2"))
        XCTAssertEqual(try harness.open().resultRows().count, 2, "the dataset is untouched")
    }
}

extension RuntimeProcessTests {
    func testASecondCoordinatorOnTheSameDatasetIsRefused() throws {
        let spec = try probeSpec(tasks: 5, sleepMs: 1)
        let c1 = try harness.coordinator(spec, label: "c1")
        harness.waitFor("the first coordinator's dataset") { FileManager.default.fileExists(atPath: harness.dataset) }
        let c2 = try harness.start(["coordinator", spec, "--bind", harness.endpoint + "2", "--dataset", harness.dataset, "--quiet"], label: "c2")
        XCTAssertEqual(harness.waitForExit(c2), 1)
        XCTAssertTrue(harness.output("c2").contains("in use by another coordinator (pid \(c1.processIdentifier))"), harness.output("c2"))
        let w = try harness.worker("w")
        XCTAssertEqual(harness.waitForExit(c1), 0)
        _ = harness.waitForExit(w)
        XCTAssertEqual(try harness.open().events(kind: "coordinator-started").count, 1)
    }

    /// Three coordinators at once on one file through its path, a symlink and a hard link: one
    /// serves it, the others are refused; a hard link cannot pick up a killed coordinator's
    /// dataset while its write-ahead log (beside the other name) holds transactions; the file
    /// stays intact throughout.
    func testCoordinatorsReachingOneDatasetThroughOtherNamesAreRefusedAndNothingIsCorrupted() throws {
        let spec = try probeSpec(tasks: 400, sleepMs: 5)
        let link = harness.dir + "/link.sqlite", hard = harness.dir + "/hard.sqlite"
        let c1 = try harness.coordinator(spec, label: "c1")
        harness.waitFor("the dataset") { FileManager.default.fileExists(atPath: harness.dataset) }
        XCTAssertEqual(symlink(harness.dataset, link), 0)
        XCTAssertEqual(Glibc.link(harness.dataset, hard), 0)
        let others = try [("via-link", link), ("via-hard", hard), ("via-relative", "../\((harness.dir as NSString).lastPathComponent)/sweep.sqlite")]
            .map { label, path in
                try harness.start(["coordinator", spec, "--bind", harness.endpoint + label, "--dataset", path, "--quiet"], label: label,
                                  directory: harness.dir)
            }
        for (p, label) in zip(others, ["via-link", "via-hard", "via-relative"]) {
            XCTAssertEqual(harness.waitForExit(p), 1, harness.output(label))
            XCTAssertTrue(harness.output(label).contains("in use by another coordinator (pid \(c1.processIdentifier))"), harness.output(label))
        }
        let w = try harness.worker("w")
        harness.waitFor("50 results") { harness.resultCount() >= 50 }
        kill(c1.processIdentifier, SIGKILL)
        c1.waitUntilExit()
        kill(w.processIdentifier, SIGKILL)
        w.waitUntilExit()
        // The killed coordinator's write-ahead log lies beside sweep.sqlite: through hard.sqlite
        // a coordinator would not see it (it used to start the sweep over). Neither name may
        // write while both exist.
        XCTAssertGreaterThan((try? FileManager.default.attributesOfItem(atPath: harness.dataset + "-wal")[.size] as? Int) ?? 0, 0)
        for (label, path) in [("hard-after", hard), ("path-after", harness.dataset)] {
            let c = try harness.start(["coordinator", spec, "--bind", harness.endpoint + label, "--dataset", path, "--quiet"], label: label)
            XCTAssertEqual(harness.waitForExit(c), 1, harness.output(label))
            XCTAssertTrue(harness.output(label).contains("has 2 hard links"), harness.output(label))
        }
        XCTAssertEqual(unlink(hard), 0)
        let c2 = try harness.coordinator(spec, label: "c2")
        let w2 = try harness.worker("w2")
        XCTAssertEqual(harness.waitForExit(c2), 0, harness.output("c2"))
        _ = harness.waitForExit(w2)
        try assertAllTasksDoneOnce(400)
        XCTAssertEqual(try harness.open().table("PRAGMA integrity_check").rows, [[.text("ok")]])
    }

    func testRetryPutsAQuarantinedTaskAndItsDependentsBackAndARerunCompletesThem() throws {
        // Chains 1 → 2 → 3 and 4 → 5 → 6; task 1 crashes its first attempt, and one failed
        // attempt is all it is allowed.
        let spec = try probeSpec(tasks: 6, sleepMs: 1, extraProbe: "chain: 3\n  crash_once: [1]", runtime: "max_attempts: 1\n  heartbeat_ms: 100")
        try harness.runToEnd(spec)
        var ds = try harness.open()
        XCTAssertEqual(try [1, 2, 3, 4].map { try ds.task($0)?.status }, [.failed, .failed, .failed, .done])
        let status = try harness.start(["status", harness.dataset], label: "status")
        XCTAssertEqual(harness.waitForExit(status), 0)
        XCTAssertTrue(harness.output("status").contains("task 2: dependency 1 failed"), harness.output("status"))
        XCTAssertTrue(harness.output("status").contains("terrain retry"), harness.output("status"))

        let refused = try harness.start(["retry", harness.dataset, "--task", "2"], label: "refused")
        XCTAssertEqual(harness.waitForExit(refused), 1)
        XCTAssertTrue(harness.output("refused").contains("task 2 depends on task 1, which failed; retry task 1"), harness.output("refused"))
        let retry = try harness.start(["retry", harness.dataset, "--task", "1"], label: "retry")
        XCTAssertEqual(harness.waitForExit(retry), 0, harness.output("retry"))
        XCTAssertTrue(harness.output("retry").contains("re-queued 3 tasks (1, 2, 3)"), harness.output("retry"))

        try harness.runToEnd(spec)
        ds = try harness.open()
        XCTAssertEqual(try ds.resultRows().count, 6, "the sweep is complete")
        XCTAssertEqual(try ds.task(1)?.attempts, 2)
        XCTAssertEqual(try ds.readProgress().workers, 0, "a finished sweep shows no workers")
    }

    func testTerrainRunRemovesSocketDirectoriesOfRunsThatNoLongerExist() throws {
        let tmp = harness.dir + "/tmp"
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let stale = tmp + "/terrain-\(gone.processIdentifier)", live = tmp + "/terrain-\(getpid())", other = tmp + "/terrain-1234567"
        for d in [stale, live, other] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            XCTAssertTrue(FileManager.default.createFile(atPath: d + "/coordinator.sock", contents: nil))
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: other + "/notes.txt", contents: nil))
        let spec = try probeSpec(tasks: 2, sleepMs: 0)
        let run = try harness.start(["run", spec, "--workers", "1", "--dataset", harness.dataset, "--quiet"], label: "run",
                                    environment: ["TMPDIR": tmp])
        XCTAssertEqual(harness.waitForExit(run), 0, harness.output("run"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "a SIGKILLed run's directory is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a running process's directory is kept")
        XCTAssertTrue(FileManager.default.fileExists(atPath: other), "a directory holding anything else is kept")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/terrain-\(run.processIdentifier)"), "its own is removed at the end")
    }

    func testASpecThatCannotBeExpandedLeavesNoDatasetBehind() throws {
        let spec = try harness.write("bad.yaml", """
        kind: surface
        model: {kind: mlp, hidden: [4]}
        data: {path: /nonexistent/data.npz}
        surface: {checkpoint: /nonexistent/c.safetensors, x: "-1:1:3"}
        """)
        let c = try harness.coordinator(spec)
        XCTAssertEqual(harness.waitForExit(c), 1)
        XCTAssertTrue(harness.output("coordinator").contains("/nonexistent"), harness.output("coordinator"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.dataset))
    }
}
