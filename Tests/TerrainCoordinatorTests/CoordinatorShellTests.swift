import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainDataset
import TerrainProtocol
import TerrainSweeps
import TerrainTestSupport
import XCTest

/// The coordinator's shell over a fake transport and a virtual clock: decoding, dispatch with
/// typed inputs, commit-before-ack, liveness, checkpoints and hostile input, in milliseconds
/// (the real-process tests cover the same paths end to end).
final class CoordinatorShellTests: XCTestCase {
    private var dir = ""
    private var clock = VirtualClock()
    private var transport = FakeRouter()
    private var coordinator: Coordinator!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-shell-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        coordinator = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A shell serving a probe sweep (`probe` YAML flow mapping), heartbeats every 100 ms,
    /// dead after 3 missed, commits after 5 ms.
    private func shell(_ probe: String) throws -> CoordinatorShell {
        let spec = try SweepSpec.parse("kind: probe\nprobe: \(probe)\nruntime: {heartbeat_ms: 100, liveness: 3, commit_interval_ms: 5}\n")
        coordinator = try Coordinator(spec: spec, options: CoordinatorOptions(endpoints: [], datasetPath: dir + "/d.sqlite"))
        return try coordinator.makeShell(transport: transport, clock: clock)
    }

    private func deliver(_ shell: CoordinatorShell, _ message: WireMessage, from peer: String) throws {
        try shell.receive([Array(peer.utf8)] + WireCodec.encode(message))
    }

    private func join(_ shell: CoordinatorShell, _ peer: String, credit: UInt64 = 1) throws {
        try deliver(shell, .hello(WorkerHello(worker: peer, host: "h", pid: 1, kinds: ["probe"], slots: 1)), from: peer)
        try deliver(shell, .ready(credit: credit), from: peer)
    }

    private func tasks(to peer: String) -> [TaskAssignment] {
        transport.messages(to: peer).compactMap { if case .task(let t) = $0 { return t } else { return nil } }
    }

    private func acks(to peer: String) -> [UInt64] {
        transport.messages(to: peer).flatMap { m -> [UInt64] in if case .ack(let t) = m { return t } else { return [] } }
    }

    /// The result of `t` as a worker sends it: echoing the attempt and its lease token.
    private func answer(_ t: TaskAssignment, output: [UInt8], credit: UInt64 = 1, blobs: [(name: String, data: [UInt8])] = []) -> WireMessage {
        .result(TaskResult(task: t.task, attempt: t.attempt, output: output, elapsed: 0.5, credit: credit, blobs: blobs, lease: t.lease))
    }

    func testAWorkerIsWelcomedAndGetsAsManyTasksAsItsCredit() throws {
        let s = try shell("{tasks: 5}")
        try join(s, "w1", credit: 2)
        XCTAssertEqual(transport.messages(to: "w1").first, .welcome(sweep: s.spec.hash, heartbeatMilliseconds: 100, liveness: 3))
        XCTAssertEqual(tasks(to: "w1").map(\.task), [1, 2])
        XCTAssertEqual(tasks(to: "w1").map(\.kind), ["probe", "probe"])
        clock.advance(0.1)
        try s.service()
        XCTAssertEqual(try coordinator.dataset.task(1)?.status, .running, "the dispatch is committed with the first tick")
    }

    func testAResultIsAcknowledgedOnlyAfterTheCommitThatMakesItDurable() throws {
        let s = try shell("{tasks: 1, payload_bytes: 3, blob_bytes: 2}")
        try join(s, "w1")
        let t = try XCTUnwrap(tasks(to: "w1").first)
        guard case .result(let result) = answer(t, output: [1, 2, 3], blobs: [("state", [7, 7])]) else { return XCTFail() }
        try deliver(s, .result(result), from: "w1")
        XCTAssertEqual(acks(to: "w1"), [], "not before the commit")
        clock.advance(0.004)
        try s.service()
        XCTAssertEqual(acks(to: "w1"), [], "the commit interval has not passed")
        clock.advance(0.002)
        try s.service()
        XCTAssertEqual(acks(to: "w1"), [1])
        let stored = try coordinator.dataset.loadTasks()[0]
        XCTAssertEqual(stored.status, .done)
        XCTAssertEqual(stored.digest, ReceivedResult(hashing: result).digest)
        XCTAssertEqual(try coordinator.dataset.outputs(of: 1).map(\.hash), [SHA256.hash([7, 7])], "the blob is stored under its hash")
        XCTAssertTrue(s.finished)
        try s.writeProgress(state: "finished")
        XCTAssertEqual(try coordinator.dataset.readProgress().workers, 0, "a finished sweep serves nobody, whoever was connected")
    }

    /// Values at the ends of their ranges, from a welcomed peer holding real leases, pass
    /// through the shell and the scheduler without trapping (no overflow, no failed conversion).
    func testExtremeButWellFormedValuesNeverTrap() throws {
        let s = try shell("{tasks: 3}")
        try deliver(s, .hello(WorkerHello(worker: "w", host: "h", pid: .max, kinds: ["probe"], slots: 64)), from: "w")
        for _ in 0..<3 { try deliver(s, .ready(credit: .max), from: "w") }
        let t = tasks(to: "w")
        XCTAssertEqual(t.count, 3)
        let top = UInt64(Int64.max)
        try deliver(s, .heartbeat(tasks: Array(top - 4095 ... top)), from: "w")
        try deliver(s, .checkpoint(TaskCheckpoint(task: t[0].task, attempt: t[0].attempt, step: top, data: [1], lease: t[0].lease)), from: "w")
        try deliver(s, .failure(TaskFailure(task: t[1].task, attempt: t[1].attempt, error: "e", credit: .max, lease: t[1].lease)), from: "w")
        try deliver(s, .result(TaskResult(task: top, attempt: top, output: [], elapsed: 1e9, credit: .max, startStep: top, lease: t[0].lease)),
                    from: "w")
        try deliver(s, .result(TaskResult(task: t[2].task, attempt: t[2].attempt, output: [UInt8](repeating: 1, count: 32), elapsed: 1e9,
                                          credit: .max, startStep: top, lease: t[2].lease)), from: "w")
        try deliver(s, .fetch(hashes: Array(repeating: [UInt8](repeating: 0xFF, count: 32), count: 256)), from: "w")
        clock.advance(1)
        try s.service()
        try s.commit()
        XCTAssertEqual(s.malformed, 0)
        XCTAssertEqual(try coordinator.dataset.checkpoint(of: t[0].task)?.step, top)
        XCTAssertEqual(s.scheduler.status(of: t[2].task), .done)
    }

    func testADependentTaskReceivesItsDependencysOutputsAsTypedInputsAndCanFetchThem() throws {
        let s = try shell("{tasks: 2, chain: 2, payload_bytes: 0, blob_bytes: 32}")
        try join(s, "w1")
        let blob = [UInt8](repeating: 9, count: 32)
        try deliver(s, answer(try XCTUnwrap(tasks(to: "w1").first), output: [], blobs: [("state", blob)]), from: "w1")
        clock.advance(0.01)
        try s.service()
        let second = try XCTUnwrap(tasks(to: "w1").last)
        XCTAssertEqual(second.task, 2)
        XCTAssertEqual(second.inputs, [TaskInputRef(dependency: 1, name: "state", hash: SHA256.hash(blob))])
        try deliver(s, .fetch(hashes: [SHA256.hash(blob)]), from: "w1")
        XCTAssertEqual(transport.messages(to: "w1").last, .artifact(hash: SHA256.hash(blob), data: blob))
    }

    func testASilentWorkersTaskGoesToAnotherWorkerWithItsAttemptCounted() throws {
        let s = try shell("{tasks: 1}")
        try join(s, "w1")
        try deliver(s, .hello(WorkerHello(worker: "w2", host: "h", pid: 2, kinds: ["probe"], slots: 1)), from: "w2")
        try deliver(s, .ready(credit: 1), from: "w2")
        for _ in 0..<4 {
            clock.advance(0.1)
            try deliver(s, .heartbeat(tasks: []), from: "w2")
            try s.service()
        }
        XCTAssertEqual(tasks(to: "w2").map { [$0.task, $0.attempt] }, [[1, 2]], "w1 was silent for more than 3 heartbeats")
        clock.advance(0.01)
        try s.commit()
        XCTAssertEqual(try coordinator.dataset.events(kind: "worker-lost").map(\.worker), ["w1"])
        XCTAssertEqual(try coordinator.dataset.task(1)?.attempts, 2)
    }

    func testACheckpointIsKeptAndTheRetryResumesFromIt() throws {
        let s = try shell("{tasks: 1}")
        try join(s, "w1")
        let state = [UInt8](repeating: 5, count: 64)
        let lease = try XCTUnwrap(tasks(to: "w1").first).lease
        try deliver(s, .checkpoint(TaskCheckpoint(task: 1, attempt: 1, step: 40, data: state, lease: lease)), from: "w1")
        try deliver(s, .goodbye(reason: "SIGTERM"), from: "w1")
        try join(s, "w2")
        let retry = try XCTUnwrap(tasks(to: "w2").first)
        XCTAssertEqual(retry.attempt, 2)
        XCTAssertEqual(retry.inputs, [TaskInputRef(dependency: 1, name: TaskContext.checkpointInput, hash: SHA256.hash(state))])
        try deliver(s, .fetch(hashes: [SHA256.hash(state)]), from: "w2")
        XCTAssertEqual(transport.messages(to: "w2").last, .artifact(hash: SHA256.hash(state), data: state), "served before its commit")
        try s.commit()
        XCTAssertEqual(try coordinator.dataset.checkpoint(of: 1)?.step, 40)
        XCTAssertEqual(try coordinator.dataset.events(kind: "resume").first?.detail, "attempt 2 resumes from step 40 (checkpoint of attempt 1)")
    }

    func testHostileInputIsCountedAndLoggedAndAnotherVersionIsToldWhy() throws {
        let s = try shell("{tasks: 1}")
        try s.receive([Array("x".utf8)])
        try s.receive([Array("x".utf8), [0x54, 0x52, WireCodec.version, 99]])
        try deliver(s, .ack(tasks: [1]), from: "x")
        let old = WireCodec.encode(.hello(WorkerHello(worker: "v1", host: "h", pid: 1, kinds: ["probe"], slots: 1)), version: 1)
        try s.receive([Array("v1".utf8)] + old)
        XCTAssertEqual(s.malformed, 4)
        guard case .reject(.versionMismatch, let reason)? = transport.messages(to: "v1").first else { return XCTFail("no reject") }
        XCTAssertTrue(reason.contains("version 1") && reason.contains("version \(WireCodec.version)"), reason)
        try s.commit()
        XCTAssertEqual(try coordinator.dataset.events(kind: "malformed").count, 2)
        XCTAssertEqual(try coordinator.dataset.events(kind: "reject").count, 1)
        try join(s, "w")
        XCTAssertEqual(tasks(to: "w").count, 1, "the coordinator still serves")
    }

    func testAnUnreachableWorkerIsDroppedAndItsTaskRequeued() throws {
        let s = try shell("{tasks: 1}")
        try deliver(s, .hello(WorkerHello(worker: "w1", host: "h", pid: 1, kinds: ["probe"], slots: 1)), from: "w1")
        transport.unreachable.insert("w1")
        try deliver(s, .ready(credit: 1), from: "w1")
        XCTAssertEqual(s.scheduler.workerCount, 0)
        XCTAssertEqual(s.scheduler.status(of: 1), .queued)
        XCTAssertEqual(s.scheduler.attempts(of: 1), 1, "the attempt was made")
        XCTAssertEqual(s.scheduler.failures(of: 1), 0, "a lost worker is not a failure of its task (docs/protocol.md)")
        try join(s, "w2")
        XCTAssertEqual(tasks(to: "w2").map { [$0.task, $0.attempt] }, [[1, 2]])
    }
}

/// A ROUTER that records what the shell sends, per peer, and can refuse peers.
final class FakeRouter: CoordinatorTransport {
    private(set) var sent: [(peer: String, frames: [[UInt8]])] = []
    var unreachable = Set<String>()

    func send(_ frames: [[UInt8]], to peer: PeerID) throws -> Bool {
        let name = String(decoding: peer, as: UTF8.self)
        guard !unreachable.contains(name) else { return false }
        sent.append((name, frames))
        return true
    }

    /// The decoded messages sent to `peer`, in order.
    func messages(to peer: String) -> [WireMessage] {
        sent.filter { $0.peer == peer }.compactMap { try? WireCodec.decode($0.frames) }
    }
}

/// Time that moves only when a test says so.
final class VirtualClock: CoordinatorClock {
    var now = 1000.0
    var wall = 1_700_000_000.0

    func advance(_ seconds: Double) {
        now += seconds
        wall += seconds
    }
}
