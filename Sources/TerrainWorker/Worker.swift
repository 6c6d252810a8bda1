import Foundation
import Logging
import Synchronization
import TerrainProtocol
import TerrainSweeps
import TerrainWire

/// A worker process: connects a DEALER to the coordinator, introduces itself, asks for work,
/// runs tasks on a compute thread and returns results (docs/protocol.md).
///
/// The calling thread does all I/O: it polls the DEALER and the compute thread's pipe and
/// drives a ``WorkerShell`` (whose ``WorkerState`` decides everything: credit, fetching,
/// liveness, reconnecting with backoff under a new identity, resending unacknowledged
/// results, leaving on a signal).
public final class Worker {
    /// Set by SIGTERM/SIGINT/SIGUSR1: finish the current task, hand it in, leave.
    public static let stopRequested = Atomic<Bool>(false)
    /// Set by a second signal: leave now, handing the current task back unfinished.
    public static let stopNow = Atomic<Bool>(false)

    /// Installs SIGINT, SIGTERM and SIGUSR1 handlers (SIGUSR1 is what SLURM's
    /// `--signal=USR1@N` and srun forward before a time limit): the first requests a graceful
    /// stop, the second sets ``stopNow``.
    public static func installSignalHandlers() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            if Worker.stopRequested.exchange(true, ordering: .relaxed) { Worker.stopNow.store(true, ordering: .relaxed) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGUSR1, handler)
    }

    let options: WorkerOptions
    let kinds: [String: any TaskKind]
    let logger: Logger

    /// Creates a worker that runs the given task kinds.
    public init(options: WorkerOptions, kinds: [String: any TaskKind] = TaskKinds.byName(), logger: Logger = Logger(label: "terrain.worker")) {
        self.options = options
        self.kinds = kinds
        self.logger = logger
    }

    /// Runs until the coordinator says done, refuses us, gives no answer for
    /// `giveUpAfter`, or a stop is requested.
    public func run() throws -> WorkerExit {
        // A compute process that dies makes writes to its pipe fail (EPIPE), not kill us.
        signal(SIGPIPE, SIG_IGN)
        let context = try ZMQContext()
        let dealer = DealerTransport(context: context, options: options, logger: logger)
        let compute: any ComputeBackend = try options.computeExecutable.map { try ComputeProcess(context: context, executable: $0) }
            ?? ComputeThread(context: context, kinds: kinds)
        defer {
            compute.stop()
            dealer.close()
        }
        let clockStart = DispatchTime.now().uptimeNanoseconds
        let config = WorkerState.Config(endpoint: options.endpoint, prefetch: options.prefetch, giveUpAfter: options.giveUpAfter,
                                        cacheBytes: options.artifactCacheBytes)
        let shell = WorkerShell(config: config, kinds: kinds.keys.sorted(), protocolVersion: options.protocolVersion, transport: dealer,
                                executor: compute, clock: { Double(DispatchTime.now().uptimeNanoseconds - clockStart) * 1e-9 }, logger: logger)
        shell.placement = options.placement
        if let exit = try shell.start() { return exit }
        var signalled: Double? = nil
        var watch = EndpointWatch(options.endpointFile)
        while true {
            let now = Double(DispatchTime.now().uptimeNanoseconds - clockStart) * 1e-9
            if Worker.stopRequested.load(ordering: .relaxed) && signalled == nil {
                signalled = now
                if let exit = try shell.signal() { return dealer.leaving(exit) }
            }
            if let since = signalled {
                var reason: String? = nil
                if Worker.stopNow.load(ordering: .relaxed) { reason = "second signal" }
                if let grace = options.grace, now - since >= grace { reason = "the \(grace) s grace period ran out" }
                if let reason, let exit = try shell.abandon(reason) { return dealer.leaving(exit) }
            }
            if let moved = watch.changed(now: now, connected: dealer.endpoint) {
                // A late worker (an elastic array joining after the end) leaves at once.
                if moved == EndpointFile.finished && !shell.state.isWelcomed { return .done("the sweep is finished (\(options.endpoint.dropFirst()))") }
                if moved != EndpointFile.finished, let exit = try shell.endpointChanged(moved) { return dealer.leaving(exit) }
            }
            guard let socket = dealer.socket else { return .gaveUp("socket closed") }
            let ready = try ZMQPoller.poll([socket, compute.socket], timeoutMilliseconds: 100)
            // A message may make the shell reconnect: read only from the socket that was polled.
            while ready[0], dealer.socket === socket, let frames = try socket.receive(dontWait: true) {
                if let exit = try shell.receive(frames) { return dealer.leaving(exit) }
            }
            if ready[1] {
                for message in try compute.drain() {
                    if let exit = try shell.computed(message) { return dealer.leaving(exit) }
                }
            }
            if let exit = try shell.tick() { return dealer.leaving(exit) }
        }
    }
}

/// Reads the endpoint file about once a second and reports a new endpoint (the coordinator
/// moved: a requeued job on another node, another port).
struct EndpointWatch {
    let path: String?
    private var next = 0.0

    init(_ path: String?) { self.path = path }

    mutating func changed(now: Double, connected: String?) -> String? {
        guard let path, now >= next else { return nil }
        next = now + 1
        guard let endpoint = try? EndpointFile.read(path), endpoint != connected else { return nil }
        return endpoint
    }
}

/// The DEALER socket, replaced on every reconnect. With an endpoint file (`@FILE`), every
/// reconnect reads the file again; while it does not exist the socket connects nowhere and the
/// state machine's backoff retries (`--give-up-after` bounds the wait).
final class DealerTransport: WorkerTransport {
    private let context: ZMQContext
    private let options: WorkerOptions
    private let logger: Logger
    private(set) var socket: ZMQSocket?
    /// The endpoint the current socket connected to (`nil`: waiting for the endpoint file).
    private(set) var endpoint: String?
    private var warned = false

    init(context: ZMQContext, options: WorkerOptions, logger: Logger) {
        self.context = context
        self.options = options
        self.logger = logger
    }

    /// The endpoint to connect to now: the option, or the endpoint file's first line.
    private func resolve() -> String? {
        guard let path = options.endpointFile else { return options.endpoint }
        do {
            if let e = try EndpointFile.read(path), e != EndpointFile.finished {
                warned = false
                return e
            }
            if !warned { logger.notice("waiting for the coordinator's endpoint file \(path)") }
        } catch {
            if !warned { logger.warning("\(error)") }
        }
        warned = true
        return nil
    }

    func reconnect() throws -> String {
        socket?.close()
        let d = try ZMQSocket(context, .dealer)
        let identity = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try d.setRoutingID(Array(identity.utf8))
        try d.setHeartbeat(interval: 2000, timeout: 10_000, ttl: 10_000)
        try d.setMaxMessageSize(Int64(WireCodec.maxFrameBytes))
        if let curve = options.curve {
            try d.makeCurveClient(serverPublicKey: curve.serverPublicKey, publicKey: curve.keys.publicKey, secretKey: curve.keys.secretKey)
        }
        endpoint = resolve()
        if let e = endpoint {
            do { try d.connect(e) } catch where options.endpointFile != nil {
                // A bad line in the file is the file's problem: wait for a better one.
                logger.warning("cannot connect to \(e) from \(options.endpoint.dropFirst()): \(error)")
                endpoint = nil
            }
        }
        socket = d
        return identity
    }

    func send(_ frames: [[UInt8]]) {
        _ = try? socket?.send(frames, dontWait: true)
    }

    /// Before the socket closes on the way out: after a signal, the goodbye just queued gets
    /// up to a second to leave (sockets are created with linger 0, which would drop it).
    func leaving(_ exit: WorkerExit) -> WorkerExit {
        switch exit {
        case .signalled, .abandoned: try? socket?.setLinger(1000)
        default: break
        }
        return exit
    }

    func close() {
        socket?.close()
        socket = nil
    }
}
