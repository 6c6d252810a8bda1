import Foundation
import TerrainCore
import TerrainDataset

/// One kind of task (docs/architecture.md, "How to add a task kind"): its parameters, how a
/// worker runs one, and how the coordinator tabulates its output. The wire names the kind
/// (``name``); ``TaskKinds`` maps names to kinds.
///
/// A kind is run through ``run(task:attempt:params:inputs:context:)``, which decodes the
/// parameters — the one place where unreadable parameters become a non-retryable failure —
/// and calls the typed ``run(_:context:)``.
public protocol TaskKind: Sendable {
    /// The parameters of one task, stored in the dataset and sent on the wire as JSON.
    associatedtype Params: Codable & Sendable

    /// The name on the wire and in the dataset (`probe`, `surface`, …).
    static var name: String { get }

    /// Computes one task. Must be deterministic: the same parameters and inputs give the same
    /// output on any worker and any attempt, whether or not the attempt resumed from a
    /// checkpoint. Throws ``TaskError`` for failures it understands.
    func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput

    /// Judges a result that arrived from the wire before the coordinator accepts it: the
    /// output's length and values, the blobs' names and sizes, a decodable record — and what
    /// it adds to the dataset besides itself (table rows). A rejected result never becomes
    /// the task's result (docs/protocol.md, "Results are judged by their kind"). Runs on the
    /// coordinator's I/O thread: keep it cheap.
    func judge(_ result: TaskOutput, params: Params, task: UInt64) -> Judgement

    /// Why decoded parameters cannot be run (they arrive over the wire), or `nil`. Checked
    /// before ``run(_:context:)``; a problem is a non-retryable failure. The default accepts.
    static func problem(in params: Params) -> String?
}

/// What the coordinator makes of a result (``TaskKind/judge(_:params:task:)``).
public enum Judgement: Sendable, Equatable {
    /// Accept it, with the rows of the `runs` and `curve_points` tables it adds (or none).
    case accept(RunRows?)
    /// Accept it, with the rows of the `paths` and `path_points` tables it adds.
    case acceptPath(PathRows)
    /// Refuse it, with the reason.
    case reject(String)
}

extension TaskKind {
    public static func problem(in params: Params) -> String? { nil }

    /// Judges a result against the task's stored parameters (``judge(_:params:task:)``).
    public func judge(_ result: TaskOutput, params: [UInt8], task: UInt64) -> Judgement {
        guard let p = try? JSONDecoder.runState.decode(Params.self, from: Data(params)) else {
            return .reject("the \(Self.name) task's stored parameters do not decode")
        }
        return judge(result, params: p, task: task)
    }

    /// Checks that a result carries exactly the blobs `expected` names, in that order.
    public static func blobProblem(_ result: TaskOutput, expected: [String]) -> String? {
        let names = result.blobs.map(\.name)
        guard names == expected else {
            return "carries blobs [\(names.map { "'\($0)'" }.joined(separator: ", "))], expected [\(expected.joined(separator: ", "))]"
        }
        if let empty = result.blobs.first(where: { $0.data.isEmpty }) { return "blob '\(empty.name)' is empty" }
        return nil
    }

    /// The kind's name.
    public var name: String { Self.name }

    /// Encodes parameters as stored and sent (JSON, sorted keys; non-finite numbers as strings).
    public static func encode(_ params: Params) throws -> [UInt8] { [UInt8](try JSONEncoder.runState.encode(params)) }

    /// Decodes parameters; a failure is a non-retryable ``TaskError`` naming the task.
    public static func decode(_ params: [UInt8], task: UInt64) throws -> Params {
        let p: Params
        do { p = try JSONDecoder.runState.decode(Params.self, from: Data(params)) } catch {
            throw TaskError("\(name) task \(task): unreadable parameters: \(error)", retryable: false)
        }
        if let problem = problem(in: p) { throw TaskError("\(name) task \(task): parameters out of range: \(problem)", retryable: false) }
        return p
    }

    /// Runs one task from its wire form: decodes the parameters and calls ``run(_:context:)``.
    /// Data-file inputs (``DataFiles``) are taken out of the inputs and set as the local
    /// paths of the data while the task runs.
    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput], context: TaskContext = .none) throws -> TaskOutput {
        let p = try Self.decode(params, task: task)
        let (files, rest) = DataFiles.split(inputs)
        return try DataFiles.$local.withValue(files) {
            try run(TaskRun(kind: Self.name, task: task, attempt: attempt, params: p, inputs: rest), context: context)
        }
    }
}

/// One task as its kind runs it: identity, decoded parameters and inputs.
public struct TaskRun<Params: Sendable>: Sendable {
    /// The kind's name (for messages).
    public let kind: String
    /// The task id.
    public var task: UInt64
    /// 1 for the first try.
    public var attempt: UInt64
    /// The decoded parameters.
    public var params: Params
    /// The artifacts it received, in the order the coordinator listed them.
    public var inputs: [TaskInput]

    /// Creates a task run.
    public init(kind: String, task: UInt64, attempt: UInt64, params: Params, inputs: [TaskInput]) {
        self.kind = kind
        self.task = task
        self.attempt = attempt
        self.params = params
        self.inputs = inputs
    }

    /// A failure of this task: `<kind> task <id>: message`, not retryable unless asked.
    public func failure(_ message: String, retryable: Bool = false) -> TaskError {
        TaskError("\(kind) task \(task): \(message)", retryable: retryable)
    }

    /// The bytes of the first input named `name` (from any dependency); a missing one is a
    /// non-retryable failure.
    public func input(_ name: String) throws -> [UInt8] {
        guard let i = inputs.first(where: { $0.name == name }) else { throw failure("missing input \(name)") }
        return i.data
    }

    /// The task's own last checkpoint, when a retry received one.
    public var checkpoint: [UInt8]? {
        inputs.first { $0.name == TaskContext.checkpointInput && $0.task == task }?.data
    }
}

/// An input a task receives: one named artifact of a task it depends on (0: a fixed input of
/// the sweep; the task itself: its checkpoint).
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

/// A task that failed in a way its kind understood.
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
