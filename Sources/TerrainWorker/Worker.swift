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
    /// Set by SIGTERM/SIGINT: finish the current task, hand it in, leave.
    public static let stopRequested = Atomic<Bool>(false)

    /// Installs SIGINT and SIGTERM handlers that request a graceful stop.
    public static func installSignalHandlers() {
        signal(SIGINT) { _ in Worker.stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in Worker.stopRequested.store(true, ordering: .relaxed) }
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
        let dealer = DealerTransport(context: context, options: options)
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
        if let exit = try shell.start() { return exit }
        var signalled = false
        while true {
            if Worker.stopRequested.load(ordering: .relaxed) && !signalled {
                signalled = true
                if let exit = try shell.signal() { return exit }
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

/// The DEALER socket, replaced on every reconnect.
final class DealerTransport: WorkerTransport {
    private let context: ZMQContext
    private let options: WorkerOptions
    private(set) var socket: ZMQSocket?

    init(context: ZMQContext, options: WorkerOptions) {
        self.context = context
        self.options = options
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
        try d.connect(options.endpoint)
        socket = d
        return identity
    }

    func send(_ frames: [[UInt8]]) {
        _ = try? socket?.send(frames, dontWait: true)
    }

    /// Before the socket closes on the way out: after a signal, the goodbye just queued gets
    /// up to a second to leave (sockets are created with linger 0, which would drop it).
    func leaving(_ exit: WorkerExit) -> WorkerExit {
        if exit == .signalled { try? socket?.setLinger(1000) }
        return exit
    }

    func close() {
        socket?.close()
        socket = nil
    }
}
