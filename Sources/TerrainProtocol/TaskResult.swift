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
    /// Named bulk outputs (stored as artifacts), one blob frame each.
    public var blobs: [(name: String, data: [UInt8])]
    /// The step this attempt resumed from (a checkpoint's step; 0 = from the start), for
    /// kinds that checkpoint. Not part of the result's digest.
    public var startStep: UInt64?
    /// The attempt's lease token, as its `task` message carried it.
    public var lease: [UInt8]

    /// Creates a result.
    public init(task: UInt64, attempt: UInt64, output: [UInt8], elapsed: Double = 0, credit: UInt64 = 0,
                blobs: [(name: String, data: [UInt8])] = [], startStep: UInt64? = nil,
                lease: [UInt8] = [UInt8](repeating: 0, count: WireCodec.leaseBytes)) {
        self.task = task
        self.attempt = attempt
        self.output = output
        self.elapsed = elapsed
        self.credit = credit
        self.blobs = blobs
        self.startStep = startStep
        self.lease = lease
    }

    public static func == (a: TaskResult, b: TaskResult) -> Bool {
        a.task == b.task && a.attempt == b.attempt && a.output == b.output && a.elapsed == b.elapsed
            && a.credit == b.credit && a.blobs.map(\.name) == b.blobs.map(\.name) && a.blobs.map(\.data) == b.blobs.map(\.data)
            && a.startStep == b.startStep && a.lease == b.lease
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
    /// The attempt's lease token.
    public var lease: [UInt8]

    /// Creates a failure report.
    public init(task: UInt64, attempt: UInt64, error: String, retryable: Bool = true, credit: UInt64 = 0,
                lease: [UInt8] = [UInt8](repeating: 0, count: WireCodec.leaseBytes)) {
        self.task = task
        self.attempt = attempt
        self.error = error
        self.retryable = retryable
        self.credit = credit
        self.lease = lease
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
    /// The attempt's lease token.
    public var lease: [UInt8]

    /// Creates a checkpoint message.
    public init(task: UInt64, attempt: UInt64, step: UInt64, data: [UInt8],
                lease: [UInt8] = [UInt8](repeating: 0, count: WireCodec.leaseBytes)) {
        self.task = task
        self.attempt = attempt
        self.step = step
        self.data = data
        self.lease = lease
    }
}
