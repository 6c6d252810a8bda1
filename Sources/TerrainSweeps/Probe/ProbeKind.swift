import Foundation
import TerrainCore

/// The `probe` task kind (see ``ProbeSpec``): sleeps, fails or crashes on demand and returns
/// deterministic bytes, for exercising the runtime.
public struct ProbeKind: TaskKind {
    public static let name = "probe"

    /// The parameters one probe task receives.
    public struct Params: Codable, Sendable, Equatable {
        public var index: UInt64
        public var sleepMs: Int
        public var payloadBytes: Int
        public var blobBytes: Int
        public var fail: Bool
        public var crash: Bool
        public var crashOnce: Bool
    }

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        guard p.index >= 1, (0...SweepLimits.probeSleepMs).contains(p.sleepMs), (0...(64 << 20)).contains(p.payloadBytes),
              (0...(256 << 20)).contains(p.blobBytes) else {
            return "sleep_ms \(p.sleepMs), payload_bytes \(p.payloadBytes), blob_bytes \(p.blobBytes) (index \(p.index))"
        }
        return nil
    }

    /// The output has `payload_bytes` bytes and, with `blob_bytes`, one `state` blob of that size.
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        guard result.output.count == p.payloadBytes else { return .reject("the output has \(result.output.count) bytes, not \(p.payloadBytes)") }
        if let problem = Self.blobProblem(result, expected: p.blobBytes > 0 ? ["state"] : []) { return .reject(problem) }
        if p.blobBytes > 0, result.blobs[0].data.count != p.blobBytes {
            return .reject("blob 'state' has \(result.blobs[0].data.count) bytes, not \(p.blobBytes)")
        }
        return .accept(nil)
    }

    public func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = task.params
        if p.crash || (p.crashOnce && task.attempt == 1) {
            // Simulate a hard crash of the process computing the task (a worker's `terrain
            // compute` child, which the worker reports; the whole process for in-process runs).
            kill(getpid(), SIGKILL)
        }
        if p.sleepMs > 0 { Thread.sleep(forTimeInterval: Double(p.sleepMs) / 1000) }
        if p.fail { throw TaskError("probe task \(task.task) fails on purpose (probe.fail)") }
        // Deterministic bytes: a SHA-256 stream seeded by the task index and its inputs.
        var seed = SHA256()
        withUnsafeBytes(of: p.index.littleEndian) { seed.update(Array($0)) }
        for input in task.inputs.sorted(by: { ($0.task, $0.name) < ($1.task, $1.name) }) { seed.update(SHA256.hash(input.data)) }
        let root = seed.finalize()
        func stream(_ label: UInt8, _ count: Int) -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(count)
            var block: UInt64 = 0
            while out.count < count {
                var h = SHA256()
                h.update(root)
                h.update([label])
                withUnsafeBytes(of: block.littleEndian) { h.update(Array($0)) }
                out += h.finalize().prefix(count - out.count)
                block += 1
            }
            return out
        }
        var blobs: [(name: String, data: [UInt8])] = []
        if p.blobBytes > 0 { blobs.append(("state", stream(1, p.blobBytes))) }
        return TaskOutput(output: stream(0, p.payloadBytes), blobs: blobs)
    }
}
