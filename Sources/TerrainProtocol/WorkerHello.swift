/// A worker's introduction (`hello`).
public struct WorkerHello: Equatable, Sendable {
    /// Unique per connection (also the DEALER's routing id).
    public var worker: String
    /// The worker's host name.
    public var host: String
    /// Its process id.
    public var pid: UInt64
    /// Task kinds it can run (a string list on the wire).
    public var kinds: [String]
    /// Tasks it runs at once.
    public var slots: UInt64
    /// Where it runs as its batch system sees it, e.g. `slurm job 812 array 810_2 step 0 task 1
    /// node n2` or `kubernetes pod terrain-worker-3 node k1`; empty when unknown. An optional
    /// field: coordinators that predate it ignore it.
    public var placement: String

    /// Creates a hello.
    public init(worker: String, host: String, pid: UInt64, kinds: [String], slots: UInt64, placement: String = "") {
        self.placement = placement
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
