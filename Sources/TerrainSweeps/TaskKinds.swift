import Foundation
import TerrainCore

/// An input a task receives from a task it depends on: one named output artifact.
public struct TaskInput: Sendable, Equatable {
    /// The dependency's id.
    public var task: UInt64
    /// The output's name.
    public var name: String
    /// Its bytes.
    public var data: [UInt8]

    /// Creates an input.
    public init(task: UInt64, name: String, data: [UInt8]) {
        self.task = task
        self.name = name
        self.data = data
    }
}

/// What a task returns: a small output and named bulk outputs (stored as artifacts).
public struct TaskOutput: Sendable, Equatable {
    /// Kind-specific output bytes.
    public var output: [UInt8]
    /// Named artifacts.
    public var blobs: [(name: String, data: [UInt8])]
    /// The step this attempt's training started from: a checkpoint's step when it resumed,
    /// otherwise where a fresh start begins (0, or a rewound lottery level's rewind step);
    /// `nil` for kinds without steps. Travels beside the result, not in its digest: it says
    /// how a result was computed, not what it is.
    public var startStep: Int?

    /// Creates an output.
    public init(output: [UInt8], blobs: [(name: String, data: [UInt8])] = [], startStep: Int? = nil) {
        self.output = output
        self.blobs = blobs
        self.startStep = startStep
    }

    public static func == (a: TaskOutput, b: TaskOutput) -> Bool {
        a.output == b.output && a.blobs.map(\.name) == b.blobs.map(\.name) && a.blobs.map(\.data) == b.blobs.map(\.data)
            && a.startStep == b.startStep
    }
}

/// A task that failed in a way its runner understood.
public struct TaskError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var message: String
    /// Whether another attempt could succeed.
    public var retryable: Bool

    /// Creates an error.
    public init(_ message: String, retryable: Bool = true) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}

/// What a running task may do besides computing: hand progress to the coordinator.
public struct TaskContext: Sendable {
    /// The name of the input under which a retried task receives its last checkpoint (the
    /// input's `task` is the task itself).
    public static let checkpointInput = "checkpoint"

    /// Sends a checkpoint of the task's state, reached at `step`, to the coordinator, which
    /// stores it durably and hands it to the next attempt as input ``checkpointInput`` if
    /// this one is lost. Fire and forget: a checkpoint that does not arrive only means a
    /// retry starts from an earlier one.
    public var checkpoint: @Sendable (_ step: Int, _ data: [UInt8]) -> Void

    /// Creates a context.
    public init(checkpoint: @escaping @Sendable (_ step: Int, _ data: [UInt8]) -> Void) {
        self.checkpoint = checkpoint
    }

    /// A context that drops checkpoints (in-process runs, tests).
    public static let none = TaskContext { _, _ in }
}

/// Runs tasks of one kind inside a worker.
public protocol TaskRunner: Sendable {
    /// The kind name matched against tasks.
    var kind: String { get }
    /// Computes one task. Must be deterministic: the same params and inputs give the same
    /// output on any worker and any attempt.
    func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput]) throws -> TaskOutput
    /// Computes one task with a context for checkpoints. Kinds that checkpoint implement
    /// this; the default ignores the context. A result must not depend on whether the
    /// attempt resumed from a checkpoint.
    func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput], context: TaskContext) throws -> TaskOutput
}

extension TaskRunner {
    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput], context: TaskContext) throws -> TaskOutput {
        try run(task: task, attempt: attempt, params: params, inputs: inputs)
    }
}

/// The registry of task kinds a worker can run and sweep kinds a coordinator can expand.
public enum TaskKinds {
    /// Sweep families a spec's `kind:` may name.
    public static let sweepKinds = ["probe", "surface", "lottery", "training"]

    /// Every runner built into this binary.
    public static func runners() -> [String: any TaskRunner] {
        ["probe": ProbeRunner(), "surface": SurfaceRunner(), "hessian": HessianRunner(), "train": TrainRunner(), "directions": DirectionsRunner(),
         "lottery": LotteryRunner(), "run": RunRunner()]
    }
}

/// The `probe` task kind (see ``ProbeSpec``).
public struct ProbeRunner: TaskRunner {
    public var kind: String { "probe" }

    /// Creates the runner.
    public init() {}

    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput]) throws -> TaskOutput {
        let p: ProbeSpec.Params
        do { p = try JSONDecoder().decode(ProbeSpec.Params.self, from: Data(params)) } catch {
            throw TaskError("probe task \(task): unreadable parameters: \(error)", retryable: false)
        }
        if p.crash || (p.crashOnce && attempt == 1) {
            // Simulate a hard crash of the whole worker process.
            kill(getpid(), SIGKILL)
        }
        if p.sleepMs > 0 { usleep(useconds_t(p.sleepMs) * 1000) }
        if p.fail { throw TaskError("probe task \(task) fails on purpose (probe.fail)") }
        // Deterministic bytes: a SHA-256 stream seeded by the task index and its inputs.
        var seed = SHA256()
        withUnsafeBytes(of: p.index.littleEndian) { seed.update(Array($0)) }
        for input in inputs.sorted(by: { ($0.task, $0.name) < ($1.task, $1.name) }) { seed.update(SHA256.hash(input.data)) }
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
