import Foundation
import Logging
import TerrainCore
import TerrainProtocol
import TerrainSweeps
import TerrainWorker
import XCTest

/// The worker's shell over a fake DEALER, a fake compute thread and a virtual clock: a whole
/// conversation, reconnecting and resending, in milliseconds.
final class WorkerShellTests: XCTestCase {
    private let dealer = FakeDealer()
    private let executor = FakeExecutor()
    private var now = 0.0

    private func shell(prefetch: Int = 1) -> WorkerShell {
        WorkerShell(config: .init(endpoint: "tcp://c:1", prefetch: prefetch), kinds: ["probe", "run"], transport: dealer, executor: executor,
                    clock: { [unowned self] in self.now }, logger: Logger(label: "test"))
    }

    private func deliver(_ s: WorkerShell, _ m: WireMessage) throws -> WorkerExit? { try s.receive(WireCodec.encode(m)) }

    func testAConversationFromHelloToAResultResentAfterTheCoordinatorWentSilent() throws {
        let s = shell()
        XCTAssertNil(try s.start())
        XCTAssertEqual(dealer.sent, [.hello(WorkerHello(worker: "w-1", host: ProcessInfo.processInfo.hostName, pid: UInt64(getpid()),
                                                          kinds: ["probe", "run"], slots: 1))])
        _ = try deliver(s, .welcome(sweep: "s", heartbeatMilliseconds: 100, liveness: 3))
        XCTAssertEqual(dealer.sent.last, .ready(credit: 2))
        let bytes: [UInt8] = [1, 2, 3, 4]
        let input = TaskInputRef(dependency: 0, name: "centre", hash: SHA256.hash(bytes))
        _ = try deliver(s, .task(TaskAssignment(task: 5, attempt: 1, kind: "probe", params: [], inputs: [input])))
        XCTAssertEqual(dealer.sent.last, .fetch(hashes: [input.hash]))
        _ = try deliver(s, .artifact(hash: input.hash, data: bytes))
        XCTAssertEqual(executor.started.map(\.task.task), [5])
        XCTAssertEqual(executor.started.first?.inputs, [TaskInput(task: 0, name: "centre", data: bytes)])
        now = 0.2
        _ = try s.computed(.checkpoint(TaskCheckpoint(task: 5, attempt: 1, step: 10, data: [9])))
        XCTAssertEqual(dealer.sent.last, .checkpoint(TaskCheckpoint(task: 5, attempt: 1, step: 10, data: [9])), "forwarded as it is")
        _ = try s.computed(.result(TaskResult(task: 5, attempt: 1, output: [42])))
        XCTAssertEqual(dealer.sent.last, .result(TaskResult(task: 5, attempt: 1, output: [42], credit: 1)))
        // No acknowledgement and no word for more than 3 × 100 ms: a new identity, a new hello,
        // and the result goes out again once welcomed.
        now = 0.55
        XCTAssertNil(try s.tick())
        XCTAssertEqual(s.identity, "w-2")
        guard case .hello(let h)? = dealer.sent.last else { return XCTFail("no hello after reconnecting") }
        XCTAssertEqual(h.worker, "w-2")
        _ = try deliver(s, .welcome(sweep: "s", heartbeatMilliseconds: 100, liveness: 3))
        XCTAssertEqual(Array(dealer.sent.suffix(2)), [.result(TaskResult(task: 5, attempt: 1, output: [42], credit: 1)), .ready(credit: 2)])
        XCTAssertEqual(try deliver(s, .done(reason: "finished")), .done("finished"))
        XCTAssertEqual(s.artifacts[input.hash], bytes)
    }

    func testGarbageFromTheCoordinatorIsLoggedAndStillCountsAsLife() throws {
        let s = shell()
        _ = try s.start()
        _ = try deliver(s, .welcome(sweep: "s", heartbeatMilliseconds: 100, liveness: 3))
        for t in stride(from: 0.1, through: 1.0, by: 0.1) {
            now = t
            XCTAssertNil(try s.receive([[0x54, 0x52, 2, 99]]))
            XCTAssertNil(try s.tick())
        }
        XCTAssertEqual(dealer.reconnects, 1, "undecodable frames are still a live coordinator")
    }
}

/// A DEALER that records the decoded messages the shell sends.
final class FakeDealer: WorkerTransport {
    private(set) var sent: [WireMessage] = []
    private(set) var reconnects = 0

    func reconnect() throws -> String {
        reconnects += 1
        return "w-\(reconnects)"
    }

    func send(_ frames: [[UInt8]]) {
        if let m = try? WireCodec.decode(frames) { sent.append(m) }
    }
}

/// A compute thread that records what it was asked to run; tests report the outcome.
final class FakeExecutor: TaskExecutor {
    private(set) var started: [(task: TaskAssignment, inputs: [TaskInput])] = []
    func start(_ task: TaskAssignment, inputs: [TaskInput]) { started.append((task, inputs)) }
}
