import TerrainProtocol
import XCTest

/// docs/protocol.md, "Field ranges": every number and list of every message at its limits —
/// 0, 1, 2^63−1, 2^63, 2^64−1 for the u64 fields, negative, NaN and infinite values for the
/// f64 one, a signed value where an unsigned one belongs — is either decoded as sent or
/// refused as malformed naming the field; never anything else.
final class WireRangeTests: XCTestCase {
    private let extremes: [UInt64] = [0, 1, UInt64(Int64.max), UInt64(Int64.max) + 1, .max]
    private let lease = [UInt8](repeating: 7, count: WireCodec.leaseBytes)

    /// Asserts that `m` decodes to itself when `valid`, else that decoding refuses it naming `field`.
    private func check(_ m: WireMessage, valid: Bool, field: String, _ what: String, line: UInt = #line) {
        let frames = WireCodec.encode(m)
        if valid {
            XCTAssertEqual(try WireCodec.decode(frames), m, what, line: line)
        } else {
            XCTAssertThrowsError(try WireCodec.decode(frames), what, line: line) { e in
                guard case .malformed(let reason)? = e as? WireError else { return XCTFail("\(what): \(e)", line: line) }
                XCTAssertTrue(reason.contains(field), "\(what): \(reason)", line: line)
            }
        }
    }

    func testEveryU64FieldAtItsExtremes() {
        for v in extremes {
            let id = WireRanges.ids.contains(v), step = WireRanges.steps.contains(v)
            check(.hello(WorkerHello(worker: "w", host: "h", pid: v, kinds: ["probe"], slots: 1)), valid: true, field: "pid", "hello.pid \(v)")
            check(.hello(WorkerHello(worker: "w", host: "h", pid: 1, kinds: ["probe"], slots: v)), valid: WireRanges.slots.contains(v),
                  field: "slots", "hello.slots \(v)")
            check(.welcome(sweep: "s", heartbeatMilliseconds: v, liveness: 5), valid: WireRanges.heartbeatMilliseconds.contains(v),
                  field: "heartbeat_ms", "welcome.heartbeat_ms \(v)")
            check(.welcome(sweep: "s", heartbeatMilliseconds: 1000, liveness: v), valid: WireRanges.liveness.contains(v),
                  field: "liveness", "welcome.liveness \(v)")
            check(.ready(credit: v), valid: true, field: "credit", "ready.credit \(v)")
            check(.task(TaskAssignment(task: v, attempt: 1, kind: "k", params: [], lease: lease)), valid: id, field: "task", "task.task \(v)")
            check(.task(TaskAssignment(task: 1, attempt: v, kind: "k", params: [], lease: lease)), valid: id, field: "attempt", "task.attempt \(v)")
            check(.heartbeat(tasks: [1, v]), valid: id, field: "tasks", "heartbeat.tasks \(v)")
            check(.ack(tasks: [v]), valid: id, field: "tasks", "ack.tasks \(v)")
            check(.result(TaskResult(task: v, attempt: 1, output: [], lease: lease)), valid: id, field: "task", "result.task \(v)")
            check(.result(TaskResult(task: 1, attempt: v, output: [], lease: lease)), valid: id, field: "attempt", "result.attempt \(v)")
            check(.result(TaskResult(task: 1, attempt: 1, output: [], credit: v, lease: lease)), valid: true, field: "credit", "result.credit \(v)")
            check(.result(TaskResult(task: 1, attempt: 1, output: [], startStep: v, lease: lease)), valid: step, field: "start_step",
                  "result.start_step \(v)")
            check(.failure(TaskFailure(task: v, attempt: 1, error: "e", lease: lease)), valid: id, field: "task", "failure.task \(v)")
            check(.failure(TaskFailure(task: 1, attempt: v, error: "e", lease: lease)), valid: id, field: "attempt", "failure.attempt \(v)")
            check(.failure(TaskFailure(task: 1, attempt: 1, error: "e", credit: v, lease: lease)), valid: true, field: "credit", "failure.credit \(v)")
            check(.checkpoint(TaskCheckpoint(task: v, attempt: 1, step: 0, data: [1], lease: lease)), valid: id, field: "task", "checkpoint.task \(v)")
            check(.checkpoint(TaskCheckpoint(task: 1, attempt: v, step: 0, data: [1], lease: lease)), valid: id, field: "attempt",
                  "checkpoint.attempt \(v)")
            check(.checkpoint(TaskCheckpoint(task: 1, attempt: 1, step: v, data: [1], lease: lease)), valid: step, field: "step",
                  "checkpoint.step \(v)")
        }
    }

    func testElapsedSecondsMustBeFiniteAndNotNegative() {
        for e in [-1.0, -Double.greatestFiniteMagnitude, .nan, .infinity, -.infinity, 2e9] {
            check(.result(TaskResult(task: 1, attempt: 1, output: [], elapsed: e, lease: lease)), valid: false, field: "elapsed", "elapsed \(e)")
        }
        for e in [0.0, 0.5, 1e9] {
            check(.result(TaskResult(task: 1, attempt: 1, output: [], elapsed: e, lease: lease)), valid: true, field: "elapsed", "elapsed \(e)")
        }
    }

    func testListsNamesAndLeasesHaveBoundedSizes() {
        check(.heartbeat(tasks: Array(1...UInt64(WireRanges.listedTasks))), valid: true, field: "tasks", "4096 ids")
        check(.heartbeat(tasks: Array(1...UInt64(WireRanges.listedTasks + 1))), valid: false, field: "tasks", "4097 ids")
        check(.heartbeat(tasks: []), valid: true, field: "tasks", "no ids")
        let hash = [UInt8](repeating: 1, count: 32)
        check(.fetch(hashes: []), valid: false, field: "hashes", "no hashes")
        check(.fetch(hashes: Array(repeating: hash, count: 256)), valid: true, field: "hashes", "256 hashes")
        check(.fetch(hashes: Array(repeating: hash, count: 257)), valid: false, field: "hashes", "257 hashes")
        for (kinds, valid) in [([String](), false), (Array(repeating: "k", count: 64), true), (Array(repeating: "k", count: 65), false),
                               ([""], false), ([String(repeating: "k", count: 255)], true), ([String(repeating: "k", count: 256)], false)] {
            check(.hello(WorkerHello(worker: "w", host: "h", pid: 1, kinds: kinds, slots: 1)), valid: valid, field: "kinds",
                  "\(kinds.count) kinds of \(kinds.first?.count ?? 0) bytes")
        }
        check(.hello(WorkerHello(worker: "", host: "h", pid: 1, kinds: ["k"], slots: 1)), valid: false, field: "worker", "empty worker name")
        check(.hello(WorkerHello(worker: "w", host: String(repeating: "h", count: 256), pid: 1, kinds: ["k"], slots: 1)), valid: false,
              field: "host", "long host")
        for n in [0, 15, 17, 64] {
            let bad = [UInt8](repeating: 1, count: n)
            check(.result(TaskResult(task: 1, attempt: 1, output: [], lease: bad)), valid: false, field: "lease", "result lease of \(n) bytes")
            check(.failure(TaskFailure(task: 1, attempt: 1, error: "e", lease: bad)), valid: false, field: "lease", "failure lease of \(n) bytes")
            check(.task(TaskAssignment(task: 1, attempt: 1, kind: "k", params: [], lease: bad)), valid: false, field: "lease", "task lease of \(n) bytes")
        }
    }

    func testASignedValueWhereAnUnsignedOneBelongsIsMalformed() {
        // ready with credit tagged i64 (tag 2) = −1: the wrong tag for the field.
        let frame: [UInt8] = [0x54, 0x52, WireCodec.version, 4, 6] + Array("credit".utf8) + [2] + [UInt8](repeating: 0xFF, count: 8)
        XCTAssertThrowsError(try WireCodec.decode([frame])) { e in
            guard case .malformed(let reason)? = e as? WireError else { return XCTFail("\(e)") }
            XCTAssertTrue(reason.contains("credit"), reason)
        }
    }
}
