/// A worker's introduction (`hello`).
public struct WorkerHello: Equatable, Sendable {
    /// Unique per connection (also the DEALER's routing id).
    public var worker: String
    /// The worker's host name.
    public var host: String
    /// Its process id.
    public var pid: UInt64
    /// Task kinds it can run.
    public var kinds: [String]
    /// Tasks it runs at once.
    public var slots: UInt64

    /// Creates a hello.
    public init(worker: String, host: String, pid: UInt64, kinds: [String], slots: UInt64) {
        self.worker = worker
        self.host = host
        self.pid = pid
        self.kinds = kinds
        self.slots = slots
    }
}

/// Why a coordinator refused a peer (`reject`), with stable numeric codes.
public enum RejectCode: UInt64, Sendable {
    case versionMismatch = 1, unknownPeer = 2, noSupportedKinds = 3, malformed = 4, notAuthorized = 5
}

/// A task sent to a worker.
public struct TaskAssignment: Equatable, Sendable {
    /// The task id.
    public var task: UInt64
    /// 1 for the first try.
    public var attempt: UInt64
    /// The task kind (e.g. `probe`).
    public var kind: String
    /// Kind-specific parameters.
    public var params: [UInt8]
    /// SHA-256 hashes of the artifacts it needs.
    public var artifacts: [[UInt8]]
    /// `<dependency> <name> <hash hex>` per line: outputs of the tasks it depends on.
    public var inputs: String

    /// Creates an assignment.
    public init(task: UInt64, attempt: UInt64, kind: String, params: [UInt8], artifacts: [[UInt8]] = [], inputs: String = "") {
        self.task = task
        self.attempt = attempt
        self.kind = kind
        self.params = params
        self.artifacts = artifacts
        self.inputs = inputs
    }
}

/// A finished task's output.
public struct TaskResult: Equatable, Sendable {
    /// The task id.
    public var task: UInt64
    /// The attempt that produced it.
    public var attempt: UInt64
    /// Kind-specific output (small).
    public var output: [UInt8]
    /// Compute time in seconds.
    public var elapsed: Double
    /// Credit returned with the result.
    public var credit: UInt64
    /// Named bulk outputs (stored as artifacts).
    public var blobs: [(name: String, data: [UInt8])]
    /// The step this attempt resumed from (a checkpoint's step; 0 = from the start), for
    /// kinds that checkpoint. Not part of the result's digest.
    public var startStep: UInt64?

    /// Creates a result.
    public init(task: UInt64, attempt: UInt64, output: [UInt8], elapsed: Double = 0, credit: UInt64 = 0,
                blobs: [(name: String, data: [UInt8])] = [], startStep: UInt64? = nil) {
        self.task = task
        self.attempt = attempt
        self.output = output
        self.elapsed = elapsed
        self.credit = credit
        self.blobs = blobs
        self.startStep = startStep
    }

    public static func == (a: TaskResult, b: TaskResult) -> Bool {
        a.task == b.task && a.attempt == b.attempt && a.output == b.output && a.elapsed == b.elapsed
            && a.credit == b.credit && a.blobs.map(\.name) == b.blobs.map(\.name) && a.blobs.map(\.data) == b.blobs.map(\.data)
            && a.startStep == b.startStep
    }
}

/// A task that failed on a worker.
public struct TaskFailure: Equatable, Sendable {
    /// The task id.
    public var task: UInt64
    /// The attempt that failed.
    public var attempt: UInt64
    /// What went wrong.
    public var error: String
    /// Whether another attempt may succeed.
    public var retryable: Bool
    /// Credit returned with the failure.
    public var credit: UInt64

    /// Creates a failure report.
    public init(task: UInt64, attempt: UInt64, error: String, retryable: Bool = true, credit: UInt64 = 0) {
        self.task = task
        self.attempt = attempt
        self.error = error
        self.retryable = retryable
        self.credit = credit
    }
}

/// A running task's saved state (`checkpoint`), sent by a worker so that a retry can resume.
public struct TaskCheckpoint: Equatable, Sendable {
    /// The task id.
    public var task: UInt64
    /// The attempt that reached it.
    public var attempt: UInt64
    /// The progress it represents (optimizer steps for training tasks).
    public var step: UInt64
    /// The state, opaque to the runtime (one blob frame).
    public var data: [UInt8]

    /// Creates a checkpoint message.
    public init(task: UInt64, attempt: UInt64, step: UInt64, data: [UInt8]) {
        self.task = task
        self.attempt = attempt
        self.step = step
        self.data = data
    }
}

/// Every message of the protocol (docs/protocol.md).
public enum WireMessage: Equatable, Sendable {
    case hello(WorkerHello)
    case welcome(sweep: String, heartbeatMilliseconds: UInt64, liveness: UInt64)
    case reject(code: RejectCode, reason: String)
    case ready(credit: UInt64)
    case task(TaskAssignment)
    case heartbeat(tasks: [UInt64])
    case result(TaskResult)
    case failure(TaskFailure)
    case ack(tasks: [UInt64])
    case goodbye(reason: String)
    case done(reason: String)
    case fetch(hashes: [[UInt8]])
    case artifact(hash: [UInt8], data: [UInt8])
    case checkpoint(TaskCheckpoint)

    /// The numeric type code of the header.
    public var typeCode: UInt8 {
        switch self {
        case .hello: return 1
        case .welcome: return 2
        case .reject: return 3
        case .ready: return 4
        case .task: return 5
        case .heartbeat: return 6
        case .result: return 7
        case .failure: return 8
        case .ack: return 9
        case .goodbye: return 10
        case .done: return 11
        case .fetch: return 12
        case .artifact: return 13
        case .checkpoint: return 14
        }
    }
}
