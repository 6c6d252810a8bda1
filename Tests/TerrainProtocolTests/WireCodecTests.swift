import TerrainProtocol
import XCTest

/// The message codec: every message round-trips; malformed frames are refused with a reason.
final class WireCodecTests: XCTestCase {
    func testEveryMessageRoundTrips() throws {
        let messages: [WireMessage] = [
            .hello(WorkerHello(worker: "w-1", host: "h", pid: 42, kinds: ["probe", "run"], slots: 1)),
            .welcome(sweep: "abc", heartbeatMilliseconds: 1000, liveness: 5),
            .reject(code: .versionMismatch, reason: "old"),
            .ready(credit: 2),
            .task(TaskAssignment(task: 7, attempt: 2, kind: "run", params: [1, 2, 3],
                                 inputs: [TaskInputRef(dependency: 7, name: "checkpoint", hash: [UInt8](repeating: 9, count: 32))])),
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

/// The list fields (since version 2), byte for byte as docs/protocol.md describes them, and hostile input.
final class WireListFieldTests: XCTestCase {
    private func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * UInt64($0))) & 0xFF) } }
    private func key(_ k: String, _ tag: UInt8) -> [UInt8] { [UInt8(k.utf8.count)] + Array(k.utf8) + [tag] }
    private func string(_ s: String) -> [UInt8] { le32(s.utf8.count) + Array(s.utf8) }

    func testAHelloListsItsKindsAsAStringList() throws {
        let frames = WireCodec.encode(.hello(WorkerHello(worker: "w", host: "h", pid: 9, kinds: ["probe", "run"], slots: 1)))
        let expected: [UInt8] = [0x54, 0x52, WireCodec.version, 1]
            + key("worker", 5) + string("w") + key("host", 5) + string("h") + key("pid", 1) + le64(9)
            + key("kinds", 8) + le32(2) + string("probe") + string("run") + key("slots", 1) + le64(1)
        XCTAssertEqual(frames, [expected])
    }

    func testATaskCarriesItsInputsAsRecordsOfDependencyNameAndHash() throws {
        let hash = [UInt8](repeating: 0xAB, count: 32)
        let lease = [UInt8](repeating: 0x5A, count: WireCodec.leaseBytes)
        let task = TaskAssignment(task: 3, attempt: 1, kind: "surface", params: [7],
                                  inputs: [TaskInputRef(dependency: 0, name: "d1", hash: hash)], lease: lease)
        let record = key("task", 1) + le64(0) + key("name", 5) + string("d1") + key("hash", 4) + le32(32) + hash
        let expected: [UInt8] = [0x54, 0x52, WireCodec.version, 5]
            + key("task", 1) + le64(3) + key("attempt", 1) + le64(1) + key("kind", 5) + string("surface")
            + key("params", 4) + le32(1) + [7] + key("lease", 4) + le32(16) + lease + key("inputs", 9) + le32(1) + le32(record.count) + record
        XCTAssertEqual(WireCodec.encode(.task(task)), [expected])
        XCTAssertEqual(task.artifacts, [hash])
    }

    func testTheSameArtifactIsNeededOnceWhateverTheInputsThatNameIt() {
        let a = [UInt8](repeating: 1, count: 32), b = [UInt8](repeating: 2, count: 32)
        let t = TaskAssignment(task: 1, attempt: 1, kind: "k", params: [], inputs: [
            TaskInputRef(dependency: 0, name: "x", hash: a), TaskInputRef(dependency: 2, name: "y", hash: b),
            TaskInputRef(dependency: 3, name: "z", hash: a),
        ])
        XCTAssertEqual(t.artifacts, [a, b])
    }

    func testResultBlobNamesMayHoldAnyCharacter() throws {
        let r = TaskResult(task: 1, attempt: 1, output: [], blobs: [("a\nb", [1]), ("", [2])])
        XCTAssertEqual(try WireCodec.decode(WireCodec.encode(.result(r))), .result(r))
    }

    func testAVersion1MessageIsRefusedButItsRejectIsRead() throws {
        let hello = WireCodec.encode(.hello(WorkerHello(worker: "w", host: "h", pid: 1, kinds: ["probe"], slots: 1)), version: 1)
        XCTAssertThrowsError(try WireCodec.decode(hello)) { XCTAssertEqual($0 as? WireError, .unsupportedVersion(1)) }
        let reject = WireCodec.encode(.reject(code: .versionMismatch, reason: "old"), version: 1)
        XCTAssertEqual(try WireCodec.decode(reject), .reject(code: .versionMismatch, reason: "old"))
    }

    func testHostileListsAreMalformedNotCrashes() {
        let header: [UInt8] = [0x54, 0x52, WireCodec.version, 5] + key("task", 1) + le64(1) + key("attempt", 1) + le64(1)
            + key("kind", 5) + string("k") + key("params", 4) + le32(0) + key("lease", 4) + le32(16) + [UInt8](repeating: 0, count: 16)
        let hash = [UInt8](repeating: 0, count: 32)
        let goodRecord = key("task", 1) + le64(0) + key("name", 5) + string("x") + key("hash", 4) + le32(32) + hash
        let cases: [(String, [UInt8])] = [
            ("a count beyond the frame", key("inputs", 9) + le32(1_000_000)),
            ("a record longer than the frame", key("inputs", 9) + le32(1) + le32(500) + goodRecord),
            ("a nested record list", key("inputs", 9) + le32(1) + le32(8 + 4) + key("inputs", 9) + le32(0)),
            ("a short hash", key("inputs", 9) + le32(1) + le32(goodRecord.count - 31)
                + key("task", 1) + le64(0) + key("name", 5) + string("x") + key("hash", 4) + le32(1) + [0]),
            ("a record without its name", key("inputs", 9) + le32(1) + le32(13 + 43)
                + key("task", 1) + le64(0) + key("hash", 4) + le32(32) + hash),
            ("a string list that is not UTF-8", key("kinds", 8) + le32(1) + le32(1) + [0xFF]),
        ]
        for (what, tail) in cases {
            XCTAssertThrowsError(try WireCodec.decode([header + tail]), what) { e in
                guard case .malformed = e as? WireError else { return XCTFail("\(what): \(e)") }
            }
        }
        XCTAssertNoThrow(try WireCodec.decode([header + key("inputs", 9) + le32(1) + le32(goodRecord.count) + goodRecord]))
    }
}
