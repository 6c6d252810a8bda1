import TerrainWire
import XCTest

/// The message codec: every message round-trips; malformed frames are refused with a reason.
final class WireCodecTests: XCTestCase {
    func testEveryMessageRoundTrips() throws {
        let messages: [WireMessage] = [
            .hello(WorkerHello(worker: "w-1", host: "h", pid: 42, kinds: ["probe", "run"], slots: 1)),
            .welcome(sweep: "abc", heartbeatMilliseconds: 1000, liveness: 5),
            .reject(code: .versionMismatch, reason: "old"),
            .ready(credit: 2),
            .task(TaskAssignment(task: 7, attempt: 2, kind: "run", params: [1, 2, 3], artifacts: [[UInt8](repeating: 9, count: 32)],
                                 inputs: "7 checkpoint 0909")),
            .heartbeat(tasks: [1, 2]),
            .result(TaskResult(task: 7, attempt: 2, output: [5], elapsed: 1.5, credit: 1, blobs: [("weights", [1, 2]), ("mask", [3])],
                               startStep: 128)),
            .result(TaskResult(task: 8, attempt: 1, output: [], blobs: [])),
            .failure(TaskFailure(task: 3, attempt: 1, error: "boom", retryable: false, credit: 1)),
            .ack(tasks: [3]),
            .goodbye(reason: "bye"),
            .done(reason: "finished"),
            .fetch(hashes: [[UInt8](repeating: 1, count: 32)]),
            .artifact(hash: [UInt8](repeating: 1, count: 32), data: [1, 2, 3]),
            .checkpoint(TaskCheckpoint(task: 7, attempt: 2, step: 640, data: [UInt8](repeating: 4, count: 1000))),
        ]
        for m in messages {
            XCTAssertEqual(try WireCodec.decode(WireCodec.encode(m)), m, "\(m.typeCode)")
        }
        // A result without a start step decodes with none (results of kinds that do not checkpoint).
        guard case .result(let r) = try WireCodec.decode(WireCodec.encode(messages[7])) else { return XCTFail() }
        XCTAssertNil(r.startStep)
    }

    func testACheckpointWithoutItsBlobFrameIsMalformed() {
        var frames = WireCodec.encode(.checkpoint(TaskCheckpoint(task: 1, attempt: 1, step: 2, data: [1])))
        frames.removeLast()
        XCTAssertThrowsError(try WireCodec.decode(frames)) { e in
            XCTAssertTrue("\(e)".contains("checkpoint"), "\(e)")
        }
        frames = WireCodec.encode(.checkpoint(TaskCheckpoint(task: 1, attempt: 1, step: 2, data: [1]))) + [[2]]
        XCTAssertThrowsError(try WireCodec.decode(frames))
    }
}
