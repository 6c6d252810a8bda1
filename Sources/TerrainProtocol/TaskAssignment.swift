/// One input of a task: a named artifact, produced by the task `dependency` (0 for the sweep's
/// fixed inputs, the task itself for its own last checkpoint), identified by its SHA-256.
/// On the wire it is one record of the `task` message's `inputs` list.
public struct TaskInputRef: Equatable, Hashable, Sendable {
    /// The task whose output this is: 0 = a fixed input of the sweep; the task's own id = its
    /// checkpoint.
    public var dependency: UInt64
    /// The output's name (`centre`, `d1`, `weights`, `checkpoint`, …).
    public var name: String
    /// SHA-256 of the artifact's bytes (32 bytes); the worker fetches it by this hash.
    public var hash: [UInt8]

    /// Creates an input reference.
    public init(dependency: UInt64, name: String, hash: [UInt8]) {
        self.dependency = dependency
        self.name = name
        self.hash = hash
    }
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
    /// The artifacts it needs, in the order the kind receives them.
    public var inputs: [TaskInputRef]
    /// The lease token of this attempt (``WireCodec/leaseBytes`` bytes), echoed in the
    /// attempt's `result`, `failure` and `checkpoint`: only a peer that was sent the attempt
    /// can report on it (docs/protocol.md, "Leases").
    public var lease: [UInt8]

    /// Creates an assignment.
    public init(task: UInt64, attempt: UInt64, kind: String, params: [UInt8], inputs: [TaskInputRef] = [],
                lease: [UInt8] = [UInt8](repeating: 0, count: WireCodec.leaseBytes)) {
        self.task = task
        self.attempt = attempt
        self.kind = kind
        self.params = params
        self.inputs = inputs
        self.lease = lease
    }

    /// The distinct artifact hashes of ``inputs``, in order of first use: what the worker must
    /// hold before it can start the task.
    public var artifacts: [[UInt8]] {
        var seen = Set<[UInt8]>()
        return inputs.map(\.hash).filter { seen.insert($0).inserted }
    }
}
