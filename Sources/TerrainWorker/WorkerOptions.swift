import TerrainWire

/// How a worker is run.
public struct WorkerOptions: Sendable {
    /// The coordinator's endpoint.
    public var endpoint: String
    /// CURVE: the coordinator's public key and this worker's key pair; `nil` = plaintext.
    public var curve: (serverPublicKey: [UInt8], keys: CurveKeyPair)?
    /// Tasks held beyond the one computing, to hide the round trip (credit = 1 + prefetch).
    public var prefetch: Int
    /// Give up (exit) when no coordinator has welcomed us for this long, seconds; `nil` = never.
    public var giveUpAfter: Double?
    /// The protocol version to announce (tests use a wrong one on purpose).
    public var protocolVersion: UInt8
    /// Byte budget of the artifact cache.
    public var artifactCacheBytes: Int
    /// The `terrain` executable to run tasks in (`terrain compute`, a child process, so that a
    /// crashing task is reported instead of taking the worker down); `nil` runs them on a
    /// thread of this process.
    public var computeExecutable: String?
    /// Seconds the current task may still run after SIGTERM/SIGUSR1 before it is abandoned
    /// (handed back unfinished, exit status 130); `nil` = until it finishes.
    public var grace: Double? = nil
    /// Where the worker runs as the batch system sees it (``WorkerPlacement``), sent in its hello.
    public var placement: String = ""

    /// Whether ``endpoint`` names an endpoint file (`@FILE`, ``EndpointFile``) rather than an endpoint.
    public var endpointFile: String? { endpoint.hasPrefix("@") ? String(endpoint.dropFirst()) : nil }

    /// Creates options.
    public init(endpoint: String, curve: (serverPublicKey: [UInt8], keys: CurveKeyPair)? = nil, prefetch: Int = 1,
                giveUpAfter: Double? = nil, protocolVersion: UInt8 = WireCodec.version, artifactCacheBytes: Int = 1 << 30,
                computeExecutable: String? = nil) {
        self.computeExecutable = computeExecutable
        self.endpoint = endpoint
        self.curve = curve
        self.prefetch = prefetch
        self.giveUpAfter = giveUpAfter
        self.protocolVersion = protocolVersion
        self.artifactCacheBytes = artifactCacheBytes
    }
}

/// Why a worker stopped.
public enum WorkerExit: Equatable, Sendable {
    /// The coordinator said the sweep is done (exit status 0).
    case done(String)
    /// The coordinator refused us (exit status 3 for a version mismatch, 5 otherwise).
    case rejected(RejectCode, String)
    /// No coordinator answered within `giveUpAfter` (exit status 4).
    case gaveUp(String)
    /// SIGTERM/SIGINT/SIGUSR1: the current task was finished and handed in (exit status 130:
    /// stopped, the sweep resumable).
    case signalled
    /// A second signal, or `--grace` ran out: the current task was handed back unfinished
    /// (exit status 130; it is redone elsewhere, from its last checkpoint).
    case abandoned(String)

    /// The process exit status for this outcome.
    public var status: Int32 {
        switch self {
        case .done: return 0
        case .signalled, .abandoned: return 130
        case .rejected(.versionMismatch, _): return 3
        case .rejected: return 5
        case .gaveUp: return 4
        }
    }
}
