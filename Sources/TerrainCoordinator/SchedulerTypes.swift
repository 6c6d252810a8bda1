import TerrainDataset  // TaskStatus only: the scheduler does no I/O
import TerrainProtocol

/// A task as the scheduler sees it: identity, kind and dependencies (parameters and
/// results stay in the dataset; the scheduler never holds them).
public struct TaskDescriptor: Sendable, Equatable {
    /// The task id (1-based, dense).
    public var id: UInt64
    /// The task kind, matched against workers' capabilities.
    public var kind: String
    /// Tasks whose results this one needs.
    public var dependencies: [UInt64]
    /// The status to start from (resuming a dataset).
    public var status: TaskStatus
    /// Attempts already made.
    public var attempts: Int
    /// The stored result's digest, for a task that is `done` (so that duplicates arriving after
    /// a restart are compared, not mistaken for determinism violations).
    public var digest: [UInt8]?
    /// Failed attempts so far (the kind's errors, reported crashes, timeouts).
    public var failures: Int

    /// Creates a descriptor.
    public init(id: UInt64, kind: String, dependencies: [UInt64] = [], status: TaskStatus = .queued, attempts: Int = 0,
                digest: [UInt8]? = nil, failures: Int = 0) {
        self.id = id
        self.kind = kind
        self.dependencies = dependencies
        self.status = status
        self.attempts = attempts
        self.digest = digest
        self.failures = failures
    }
}

/// Tunables of the scheduler (the `runtime:` section of a sweep spec).
public struct SchedulerConfig: Sendable, Equatable {
    /// Failed attempts (the kind's error, a crash the worker reports, a timeout) before a
    /// task is quarantined. Lost workers do not count (``maxLostWorkers``).
    public var maxAttempts: Int
    /// Distinct workers, each otherwise healthy, that a task may take down in a row — the last
    /// workers the sweep lost, all lost while computing it — before it is quarantined.
    public var maxLostWorkers: Int
    /// Heartbeat interval, seconds.
    public var heartbeatInterval: Double
    /// Missed heartbeat intervals before a peer is presumed dead.
    public var liveness: Int
    /// A task running longer than this (seconds) loses its lease; `nil` = no limit.
    public var taskTimeout: Double?
    /// Distinct workers whose results must agree (same digest) before a task's result is
    /// accepted: 1, or 2 to catch faulty nodes.
    public var verify: Int
    /// Tasks a worker may hold beyond its announced slots (prefetch), whatever credit it asks for.
    public var maxPrefetch: Int

    /// Creates a config with the protocol's defaults.
    public init(maxAttempts: Int = 3, maxLostWorkers: Int = 8, heartbeatInterval: Double = 1, liveness: Int = 5,
                taskTimeout: Double? = nil, verify: Int = 1, maxPrefetch: Int = 2) {
        self.maxAttempts = maxAttempts
        self.maxLostWorkers = maxLostWorkers
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.taskTimeout = taskTimeout
        self.verify = verify
        self.maxPrefetch = maxPrefetch
    }

    /// Silence after which a peer is presumed dead, seconds.
    public var deadAfter: Double { heartbeatInterval * Double(liveness) }
}

/// A worker connection: opaque bytes by which the transport addresses the peer (the shell's
/// ROUTER socket uses the DEALER's routing id). The scheduler only compares them.
public typealias PeerID = [UInt8]

/// A result as the shell received it, hashed once on arrival: what the scheduler judges and,
/// when it accepts it, hands back in ``SchedulerDirective/store(_:peer:)`` to be written.
public struct ReceivedResult: Sendable, Equatable {
    /// The message.
    public var result: TaskResult
    /// SHA-256 of each blob, in blob order.
    public var blobHashes: [[UInt8]]
    /// The result's digest (docs/protocol.md, "First result wins"): what duplicates are compared by.
    public var digest: [UInt8]
    /// The `runs`/`curve_points` rows its kind tabulated when it judged the result.
    public var rows: RunRows?
    /// The `paths`/`path_points` rows its kind tabulated (evaluated paths).
    public var pathRows: PathRows? = nil

    /// Wraps a result with hashes computed by the caller.
    public init(result: TaskResult, blobHashes: [[UInt8]], digest: [UInt8], rows: RunRows? = nil) {
        precondition(blobHashes.count == result.blobs.count, "one hash per blob")
        self.result = result
        self.blobHashes = blobHashes
        self.digest = digest
        self.rows = rows
    }

    /// The task id.
    public var task: UInt64 { result.task }
    /// The attempt that produced it.
    public var attempt: UInt64 { result.attempt }
}

/// Something that happened, fed to ``Scheduler/handle(_:)``. Times are seconds on a
/// monotonic clock.
public enum SchedulerEvent: Sendable {
    /// A `hello` of this protocol version arrived (a new worker, or a worker reconnecting under
    /// a new identity). Other versions are refused by the codec before reaching the scheduler.
    case hello(peer: PeerID, hello: WorkerHello, now: Double)
    /// A `ready` arrived.
    case ready(peer: PeerID, credit: UInt64, now: Double)
    /// A `heartbeat` arrived, listing the tasks the worker runs.
    case heartbeat(peer: PeerID, tasks: [UInt64], now: Double)
    /// A `result` arrived.
    case result(peer: PeerID, result: ReceivedResult, now: Double)
    /// A `failure` arrived.
    case failure(peer: PeerID, task: UInt64, attempt: UInt64, error: String, retryable: Bool, credit: UInt64, now: Double)
    /// A `result` arrived that its task kind refused (wrong shape, non-finite values, an
    /// unreadable record): it never becomes the task's result; from the lease holder it is a
    /// failed attempt.
    case invalidResult(peer: PeerID, task: UInt64, attempt: UInt64, reason: String, credit: UInt64, now: Double)
    /// A `checkpoint` arrived: the peer saved a task's state.
    case checkpoint(peer: PeerID, checkpoint: TaskCheckpoint, now: Double)
    /// A `goodbye` arrived.
    case goodbye(peer: PeerID, reason: String, now: Double)
    /// Any other well-formed message arrived (fetch, …): it proves the peer alive.
    case touched(peer: PeerID, now: Double)
    /// Sending to the peer failed (unroutable, gone).
    case unreachable(peer: PeerID, now: Double)
    /// Results handed over with ``SchedulerDirective/store(_:peer:)`` are committed. Naming a
    /// task that is not being stored is a programming error (a precondition failure).
    case committed(tasks: [UInt64], now: Double)
    /// Time passed: check liveness, leases, heartbeats.
    case tick(now: Double)
    /// Stop dispatching (SIGINT/SIGTERM); in-flight results are still accepted.
    case drain(now: Double)
}

/// What the shell must do, returned by ``Scheduler/handle(_:)`` in order. Each directive
/// carries the data it needs.
public enum SchedulerDirective: Sendable, Equatable {
    /// Send this protocol message to the peer.
    case send(peer: PeerID, message: WireMessage)
    /// Send task `task` (attempt `attempt`) to the peer; the shell loads its parameters and inputs.
    case dispatch(peer: PeerID, task: UInt64, attempt: UInt64)
    /// Write this result (received from `peer`) in the next commit, then report `.committed`.
    case store(ReceivedResult, peer: PeerID)
    /// Keep this checkpoint durably (in the next commit): the task's next attempt, if any,
    /// resumes from it.
    case keepCheckpoint(TaskCheckpoint)
    /// Persist a task's new status.
    case status(task: UInt64, status: TaskStatus, attempts: Int, failures: Int, worker: String?, error: String?)
    /// Append to the dataset's event log.
    case log(kind: String, task: UInt64?, worker: String?, detail: String)
    /// Every task is done or failed.
    case finished
}
