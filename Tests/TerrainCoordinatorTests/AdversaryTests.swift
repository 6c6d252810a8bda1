import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainProtocol
import TerrainSweeps
import TerrainTestSupport
import TerrainWire
import XCTest

/// A hostile peer without CURVE, written with the codec, against a real coordinator process
/// and honest worker processes (docs/security.md, "What a peer that reaches the port can do").
/// It may say hello and take work like any worker; it must not be able to crash, stall or
/// poison the sweep.
final class AdversaryTests: XCTestCase {
    private var harness: ProcessHarness!
    private var context: ZMQContext!

    override func setUpWithError() throws {
        _ = try ProcessHarness.terrain
        harness = try ProcessHarness(name: name.filter { $0.isLetter })
        context = try ZMQContext()
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    /// A probe sweep with fast heartbeats (100 ms, dead after 5 missed).
    private func start(tasks: Int, sleepMs: Int, runtime: String = "") throws -> Process {
        let spec = try harness.write("spec.yaml", """
            name: adversary
            kind: probe
            probe: {tasks: \(tasks), sleep_ms: \(sleepMs)}
            runtime: {heartbeat_ms: 100, liveness: 5\(runtime)}
            """)
        let c = try harness.coordinator(spec)
        harness.waitFor("the coordinator's socket") { FileManager.default.fileExists(atPath: String(harness.endpoint.dropFirst(6))) }
        return c
    }

    private func assertEveryTaskDoneOnceByHonestWorkers(_ n: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let ds = try harness.open()
        let rows = try ds.resultRows()
        XCTAssertEqual(rows.count, n, file: file, line: line)
        XCTAssertEqual(Set(rows.map(\.task)), Set(1...UInt64(n)), file: file, line: line)
        XCTAssertFalse(rows.contains { $0.worker.hasPrefix("mallory") }, "no result of the adversary was stored", file: file, line: line)
        XCTAssertEqual(try ds.readProgress().failed, 0, file: file, line: line)
        // Every stored result is the probe's deterministic output.
        let outputs = try ds.completedOutputs()
        for o in outputs {
            let expected = try ProbeKind().run(task: o.task, attempt: 1, params: o.params, inputs: []).output
            XCTAssertEqual(o.output, expected, "task \(o.task)", file: file, line: line)
        }
        XCTAssertEqual(try ds.eventCounts()["determinism-violation"] ?? 0, 0, file: file, line: line)
    }

    func testCreditOf2To64Minus1NeitherCrashesTheCoordinatorNorHandsOnePeerTheSweep() throws {
        let c = try start(tasks: 60, sleepMs: 10)
        let mallory = try Adversary(context, harness.endpoint, name: "mallory")
        try mallory.hello(slots: 1)
        try mallory.send(.ready(credit: .max))
        try mallory.send(.ready(credit: .max))
        try mallory.pump(seconds: 1, keepLeases: true)
        XCTAssertTrue(c.isRunning, "the coordinator survived credit overflow")
        XCTAssertEqual(mallory.received.count, 3, "one slot plus the default max_prefetch of 2, whatever credit it announced")
        // Honest workers finish everything but what the peer still holds, while it holds on.
        let workers = try (0..<2).map { try harness.worker("w\($0)") }
        try mallory.pump(until: { [harness] in harness!.resultCount() >= 59 }, seconds: 120, keepLeases: true)
        XCTAssertLessThanOrEqual(mallory.held.count, 1, "idle workers took the two it only had in its prefetch queue")
        try mallory.send(.goodbye(reason: "done hoarding"))
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        for w in workers { _ = harness.waitForExit(w) }
        try assertEveryTaskDoneOnceByHonestWorkers(60)
    }

    func testAHoarderListingItsTasksHoldsAtMostOneWhileIdleWorkersTakeTheRest() throws {
        let c = try start(tasks: 200, sleepMs: 2)
        let mallory = try Adversary(context, harness.endpoint, name: "mallory")
        try mallory.hello(slots: 1)
        try mallory.send(.ready(credit: 1000))
        try mallory.pump(seconds: 0.3, keepLeases: true)
        let workers = try (0..<2).map { try harness.worker("w\($0)") }
        // It keeps asking for more and listing everything it ever got; the sweep still moves.
        var most = 0
        try mallory.pump(until: { [harness] in harness!.resultCount() >= 199 }, seconds: 120, keepLeases: true) { m in
            most = max(most, m.held.count)
            try m.send(.ready(credit: 1000))
        }
        XCTAssertLessThanOrEqual(most, 3, "never more than its slot and the prefetch")
        XCTAssertLessThanOrEqual(mallory.held.count, 1, "idle workers took what it only held in its prefetch queue")
        XCTAssertGreaterThan(try harness.open().eventCounts()["task-moved"] ?? 0, 0)
        try mallory.send(.goodbye(reason: "bye"))
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        for w in workers { _ = harness.waitForExit(w) }
        try assertEveryTaskDoneOnceByHonestWorkers(200)
    }

    func testFailuresForTasksNotLeasedToThePeerAndOneWorkersWordAreNotEnoughToFailATask() throws {
        let c = try start(tasks: 200, sleepMs: 2)
        let mallory = try Adversary(context, harness.endpoint, name: "mallory")
        try mallory.hello(slots: 1)
        try mallory.send(.ready(credit: 3))
        try mallory.pump(seconds: 0.3, keepLeases: true)
        // Non-retryable failures for every task: with guessed leases, and for the ones it holds with the real lease.
        for id in 1...UInt64(200) {
            try mallory.send(.failure(TaskFailure(task: id, attempt: 1, error: "forged", retryable: false,
                                                  lease: [UInt8](repeating: UInt8(id % 256), count: WireCodec.leaseBytes))))
        }
        for t in mallory.received {
            try mallory.send(.failure(TaskFailure(task: t.task, attempt: t.attempt, error: "refused", retryable: false, credit: 1, lease: t.lease)))
        }
        try mallory.pump(seconds: 0.3, keepLeases: false)
        try mallory.send(.goodbye(reason: "bye"))
        let workers = try (0..<2).map { try harness.worker("w\($0)") }
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        for w in workers { _ = harness.waitForExit(w) }
        try assertEveryTaskDoneOnceByHonestWorkers(200)
        let events = try harness.open().eventCounts()
        XCTAssertGreaterThan(events["bad-lease"] ?? 0, 0)
        XCTAssertEqual(events["task-failed"], 3, "its own three leases were failed attempts, and were retried")
    }

    func testForgedAndMisshapenResultsAreNeverStoredAndRepeatedBadEventsAreAggregated() throws {
        let c = try start(tasks: 100, sleepMs: 20)
        // One takes a real lease and answers with 8 bytes where the probe's output has 32.
        let holder = try Adversary(context, harness.endpoint, name: "mallory-0")
        try holder.hello(slots: 1)
        try holder.send(.ready(credit: 1))
        try holder.pump(until: { !$0.received.isEmpty }, seconds: 30, keepLeases: true)
        let leased = try XCTUnwrap(holder.received.first)
        try holder.send(.result(TaskResult(task: leased.task, attempt: leased.attempt, output: [1, 2, 3, 4, 5, 6, 7, 8], credit: 0,
                                           lease: leased.lease)))
        try holder.pump(until: { $0.acked.contains(leased.task) }, seconds: 30, keepLeases: true)
        XCTAssertTrue(holder.acked.contains(leased.task), "an invalid result is acknowledged (nothing to resend) but not stored")
        // Twenty identities, each forging results for every task and attempt without the lease.
        var mallories = [holder]
        for i in 1..<20 {
            let m = try Adversary(context, harness.endpoint, name: "mallory-\(i)")
            try m.hello(slots: 1)
            mallories.append(m)
        }
        for round in 0..<5 {
            for m in mallories {
                for id in 1...UInt64(100) {
                    try m.send(.result(TaskResult(task: id, attempt: UInt64(1 + round % 2), output: [UInt8](repeating: 0xEE, count: 32),
                                                  lease: [UInt8](repeating: UInt8(round), count: WireCodec.leaseBytes))))
                }
                try m.pump(seconds: 0, keepLeases: true)
            }
        }
        let workers = try (0..<2).map { try harness.worker("w\($0)") }
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        for w in workers { _ = harness.waitForExit(w) }
        try assertEveryTaskDoneOnceByHonestWorkers(100)
        let ds = try harness.open()
        let events = try ds.eventCounts()
        XCTAssertEqual(try ds.events(kind: "invalid-result").filter { $0.task == leased.task }.count, 1)
        // 10,000 forged results: at most 100 `bad-lease` rows in the interval, the rest counted.
        XCTAssertLessThanOrEqual(events["bad-lease"] ?? 0, 100, "\(events)")
        let rows = events.values.reduce(0, +)
        print("forged results: \(rows) event rows in all: \(events.sorted { $0.key < $1.key })")
        XCTAssertLessThan(rows, 300, "the whole sweep's event log, flood included")
        let suppressed = try ds.events(kind: "suppressed")
        XCTAssertTrue(suppressed.contains { $0.detail.contains("more bad-lease events") }, "the rest is counted: \(suppressed.map(\.detail))")
        let bytes = [ds.path, ds.path + "-wal"].compactMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int }.reduce(0, +)
        XCTAssertLessThan(bytes, 2 << 20, "the dataset stays small")
    }

    func testVerifyTwoAcceptsOnlyResultsTwoWorkersAgreeOnAndNamesTheFaultyOne() throws {
        let c = try start(tasks: 30, sleepMs: 5, runtime: ", verify: 2")
        let faulty = try Adversary(context, harness.endpoint, name: "mallory-faulty")
        try faulty.hello(slots: 1)
        try faulty.send(.ready(credit: 1))
        let workers = try (0..<2).map { try harness.worker("w\($0)") }
        // It answers every task it gets with bytes of the right size and the wrong content.
        try faulty.pump(until: { _ in !c.isRunning }, seconds: 120, keepLeases: true) { m in
            for t in m.received where !m.answered.contains(t.task) {
                m.answered.insert(t.task)
                try m.send(.result(TaskResult(task: t.task, attempt: t.attempt, output: [UInt8](repeating: 0xBA, count: 32), credit: 1,
                                              lease: t.lease)))
            }
        }
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        for w in workers { _ = harness.waitForExit(w) }
        try assertEveryTaskDoneOnceByHonestWorkers(30)
        let mismatches = try harness.open().events(kind: "verification-mismatch")
        XCTAssertFalse(faulty.answered.isEmpty, "the faulty worker was given tasks")
        XCTAssertFalse(mismatches.isEmpty)
        XCTAssertTrue(mismatches.allSatisfy { $0.detail.contains("pid 4242") }, "the faulty worker is named: \(mismatches.map(\.detail))")
    }

    func testAPlaintextCoordinatorRefusesANonLoopbackAddressWithoutInsecure() throws {
        let spec = try harness.write("spec.yaml", "kind: probe\nprobe: {tasks: 2}\n")
        let open = try harness.start(["coordinator", spec, "--bind", "tcp://0.0.0.0:0", "--dataset", harness.dataset, "--quiet"], label: "open")
        XCTAssertEqual(harness.waitForExit(open), 1)
        XCTAssertTrue(harness.output("open").contains("refusing to serve tcp://0.0.0.0:0 in plaintext"), harness.output("open"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.dataset), "nothing was created")
        // Loopback is fine; and --insecure is the explicit opt-in for a trusted network.
        for (label, bind, extra) in [("loopback", "tcp://127.0.0.1:0", [String]()), ("insecure", "tcp://0.0.0.0:0", ["--insecure"])] {
            let dataset = harness.dir + "/\(label).sqlite"
            let c = try harness.start(["coordinator", spec, "--bind", bind, "--dataset", dataset, "--quiet"] + extra, label: label)
            harness.waitFor("\(label) to listen") { harness.output(label).contains("listening on tcp://") }
            let line = harness.output(label).split(separator: "\n").first { $0.contains("listening on") } ?? ""
            let port = line.split(separator: ":").last.map(String.init) ?? ""
            let w = try harness.start(["worker", "--connect", "tcp://127.0.0.1:\(port)", "--give-up-after", "30"], label: "w-\(label)")
            XCTAssertEqual(harness.waitForExit(c), 0, harness.output(label))
            _ = harness.waitForExit(w)
        }
    }
}

/// A peer speaking the protocol with its own intentions, through the codec and a DEALER.
final class Adversary {
    let socket: ZMQSocket
    let name: String
    /// Every task sent to it.
    private(set) var received: [TaskAssignment] = []
    /// The tasks the coordinator says it holds (its latest heartbeat), and those received since.
    private(set) var held: [UInt64] = []
    private(set) var acked: Set<UInt64> = []
    private(set) var rejects: [String] = []
    var answered: Set<UInt64> = []

    init(_ context: ZMQContext, _ endpoint: String, name: String) throws {
        self.name = name
        socket = try ZMQSocket(context, .dealer)
        try socket.setSendHighWaterMark(100_000)
        try socket.setRoutingID(Array("\(name)-\(UInt32.random(in: 0 ... .max))".utf8))
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    /// Sends without blocking (a message that cannot be queued is dropped: the coordinator may be gone).
    func send(_ m: WireMessage) throws { _ = try socket.send(WireCodec.encode(m), dontWait: true) }

    func hello(slots: UInt64) throws {
        try send(.hello(WorkerHello(worker: name, host: "evil", pid: 4242, kinds: ["probe"], slots: slots)))
    }

    /// Reads what arrived; with `keepLeases`, heartbeats listing everything it holds (so that
    /// its leases never end). `each` runs once per round.
    func pump(until done: (Adversary) throws -> Bool = { _ in false }, seconds: Double, keepLeases: Bool,
              each: ((Adversary) throws -> Void)? = nil) throws {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            while let frames = try socket.receive(dontWait: true) {
                guard let m = try? WireCodec.decode(frames) else { continue }
                switch m {
                case .task(let t):
                    received.append(t)
                    held.append(t.task)
                case .heartbeat(let leases): held = leases
                case .ack(let ids): acked.formUnion(ids)
                case .reject(_, let reason): rejects.append(reason)
                default: break
                }
            }
            if keepLeases { try send(.heartbeat(tasks: held)) }
            try each?(self)
            if try done(self) { return }
            usleep(50_000)
        } while Date() < deadline
    }

    func pump(until done: @escaping () -> Bool, seconds: Double, keepLeases: Bool, each: ((Adversary) throws -> Void)? = nil) throws {
        try pump(until: { _ in done() }, seconds: seconds, keepLeases: keepLeases, each: each)
    }
}
