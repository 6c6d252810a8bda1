import Foundation
import Logging
import Synchronization
import TerrainCore
import TerrainSweeps
import TerrainWire

/// A worker: connects a DEALER to the coordinator, introduces itself, asks for work, runs
/// tasks on a compute thread and returns results (docs/protocol.md).
///
/// Threads: the caller's thread does all I/O and owns the DEALER socket; the compute thread
/// owns one end of an `inproc://` PAIR and runs tasks; the I/O thread owns the other end.
/// Heartbeats keep flowing while a task computes. When the coordinator goes silent the
/// worker reconnects with backoff under a new identity, says hello again and re-sends the
/// results that were never acknowledged.
public final class Worker {
    /// Set by SIGTERM/SIGINT: finish the current task, hand it in, leave.
    public static let stopRequested = Atomic<Bool>(false)

    /// Installs SIGINT and SIGTERM handlers that request a graceful stop.
    public static func installSignalHandlers() {
        signal(SIGINT) { _ in Worker.stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in Worker.stopRequested.store(true, ordering: .relaxed) }
    }

    let options: WorkerOptions
    let runners: [String: any TaskKind]
    let logger: Logger
    private let context: ZMQContext
    private var dealer: ZMQSocket?
    private var identity = ""
    private var welcomed = false
    private var heartbeatInterval = 1.0
    private var liveness = 5
    private var lastHeard = 0.0
    private var lastSent = 0.0
    private var queue: [TaskAssignment] = []
    private var computing: UInt64? = nil
    private var unacked: [UInt64: [[UInt8]]] = [:]
    private var cache: [[UInt8]: [UInt8]] = [:]
    private var cacheOrder: [[UInt8]] = []
    private var cacheBytes = 0
    private var waitingFor: Set<[UInt8]> = []
    private let clockStart = DispatchTime.now().uptimeNanoseconds
    private var connectedSince = 0.0
    private var lastWelcome = 0.0

    /// Creates a worker that runs the given task kinds.
    public init(options: WorkerOptions, runners: [String: any TaskKind] = TaskKinds.byName(),
                logger: Logger = Logger(label: "terrain.worker")) throws {
        self.options = options
        self.runners = runners
        self.logger = logger
        self.context = try ZMQContext()
    }

    private var now: Double { Double(DispatchTime.now().uptimeNanoseconds - clockStart) * 1e-9 }

    private func connect() throws {
        dealer?.close()
        let d = try ZMQSocket(context, .dealer)
        identity = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try d.setRoutingID(Array(identity.utf8))
        try d.setHeartbeat(interval: 2000, timeout: 10_000, ttl: 10_000)
        try d.setMaxMessageSize(Int64(WireCodec.maxFrameBytes))
        if let curve = options.curve {
            try d.makeCurveClient(serverPublicKey: curve.serverPublicKey, publicKey: curve.keys.publicKey, secretKey: curve.keys.secretKey)
        }
        try d.connect(options.endpoint)
        dealer = d
        welcomed = false
        connectedSince = now
        lastHeard = now
        let hello = WorkerHello(worker: identity, host: ProcessInfo.processInfo.hostName, pid: UInt64(getpid()),
                                kinds: runners.keys.sorted(), slots: 1)
        send(.hello(hello), version: options.protocolVersion)
    }

    private func send(_ m: WireMessage, version: UInt8 = WireCodec.version) {
        guard let dealer else { return }
        _ = try? dealer.send(WireCodec.encode(m, version: version), dontWait: true)
        lastSent = now
    }

    /// Runs until the coordinator says done, refuses us, gives no answer for
    /// `giveUpAfter`, or a stop is requested.
    public func run() throws -> WorkerExit {
        let (computeEnd, ioEnd) = try makePipe()
        let thread = startComputeThread(computeEnd)
        defer {
            _ = try? ioEnd.send([[0]], dontWait: true)  // tells the compute thread to exit
            thread.join()
            ioEnd.close()
            dealer?.close()
        }
        try connect()
        var backoff = 0.5
        var leaving = false
        lastWelcome = now
        while true {
            guard let dealer else { break }
            let ready = try ZMQPoller.poll([dealer, ioEnd], timeoutMilliseconds: 100)
            if ready[0] {
                // `handle` may replace the socket (reconnect): always read from the current one.
                while let current = self.dealer, current === dealer, let frames = try current.receive(dontWait: true) {
                    lastHeard = now
                    if let exit = try handle(frames, ioEnd) { return exit }
                }
            }
            if ready[1] {
                while let frames = try ioEnd.receive(dontWait: true) {
                    finishCompute(frames, ioEnd)
                }
            }
            let t = now
            if Worker.stopRequested.load(ordering: .relaxed) && !leaving {
                leaving = true
                logger.notice("stopping: finishing the current task, handing back the rest")
                queue.removeAll()
            }
            if leaving && computing == nil && (unacked.isEmpty || !welcomed || t - lastHeard > 2) {
                send(.goodbye(reason: "worker stopping (signal)"))
                usleep(50_000)
                return .signalled
            }
            if welcomed && t - lastSent >= heartbeatInterval {
                send(.heartbeat(tasks: heldTasks))
            }
            // The coordinator is silent: reconnect under a new identity.
            let silentLimit = welcomed ? heartbeatInterval * Double(liveness) : max(2, backoff * 2)
            if t - lastHeard > silentLimit {
                if let limit = options.giveUpAfter, t - lastWelcome > limit {
                    return .gaveUp("no coordinator answered at \(options.endpoint) for \(Int(limit)) s")
                }
                logger.warning("no word from the coordinator for \(Int(t - lastHeard)) s; reconnecting")
                queue.removeAll()
                try connect()
                backoff = min(backoff * 2, 10)
            }
        }
        return .gaveUp("socket closed")
    }

    private var heldTasks: [UInt64] {
        (computing.map { [$0] } ?? []) + queue.map(\.task)
    }

    private func handle(_ frames: [[UInt8]], _ ioEnd: ZMQSocket) throws -> WorkerExit? {
        let message: WireMessage
        do { message = try WireCodec.decode(frames) } catch {
            logger.warning("dropped a malformed message from the coordinator: \(error)")
            return nil
        }
        switch message {
        case let .welcome(_, hb, live):
            welcomed = true
            lastWelcome = now
            heartbeatInterval = max(Double(hb) / 1000, 0.01)
            liveness = Int(live)
            // Results the previous connection never saw acknowledged go out again.
            for (_, frames) in unacked.sorted(by: { $0.key < $1.key }) { _ = try? dealer?.send(frames, dontWait: true) }
            let credit = UInt64(1 + options.prefetch) - UInt64(min(heldTasks.count, 1 + options.prefetch))
            if !Worker.stopRequested.load(ordering: .relaxed) && credit > 0 { send(.ready(credit: credit)) }
        case let .reject(code, reason):
            if code == .unknownPeer {
                logger.info("the coordinator does not know this connection; introducing again")
                try connect()
                return nil
            }
            return .rejected(code, reason)
        case .task(let t):
            lastWelcome = now
            queue.append(t)
            let missing = t.artifacts.filter { cache[$0] == nil && !waitingFor.contains($0) }
            if !missing.isEmpty {
                waitingFor.formUnion(missing)
                send(.fetch(hashes: missing))
            }
            startNext(ioEnd)
        case .artifact(let hash, let data):
            guard SHA256.hash(data) == hash else {
                logger.warning("artifact \(SHA256.hex(hash).prefix(12)) failed its hash check; asking again")
                send(.fetch(hashes: [hash]))
                return nil
            }
            waitingFor.remove(hash)
            remember(hash, data)
            startNext(ioEnd)
        case .ack(let tasks):
            for t in tasks { unacked.removeValue(forKey: t) }
        case .heartbeat:
            break
        case .done(let reason):
            return .done(reason)
        case .hello, .ready, .result, .failure, .goodbye, .fetch, .checkpoint:
            logger.warning("the coordinator sent a worker-only message (type \(message.typeCode)); ignored")
        }
        return nil
    }

    private func remember(_ hash: [UInt8], _ data: [UInt8]) {
        if cache[hash] != nil { return }
        cache[hash] = data
        cacheOrder.append(hash)
        cacheBytes += data.count
        while cacheBytes > options.artifactCacheBytes, cacheOrder.count > 1 {
            let old = cacheOrder.removeFirst()
            cacheBytes -= cache.removeValue(forKey: old)?.count ?? 0
        }
    }

    /// Hands the next task whose artifacts are all present to the compute thread.
    private func startNext(_ ioEnd: ZMQSocket) {
        guard computing == nil, let index = queue.firstIndex(where: { $0.artifacts.allSatisfy { cache[$0] != nil } }) else { return }
        let t = queue.remove(at: index)
        computing = t.task
        // Inputs travel as blob frames after the task, in `inputs` order.
        var frames = WireCodec.encode(.task(t))
        for input in t.inputs {
            guard let data = cache[input.hash] else { preconditionFailure("task \(t.task) started without its input \(input.name)") }
            frames.append(data)
        }
        _ = try? ioEnd.send(frames)
    }

    private func finishCompute(_ frames: [[UInt8]], _ ioEnd: ZMQSocket) {
        guard let message = try? WireCodec.decode(frames) else {
            computing = nil
            return
        }
        if case .checkpoint = message {
            // Progress of the running task: forward as is; the task goes on.
            _ = try? dealer?.send(frames, dontWait: true)
            lastSent = now
            return
        }
        computing = nil
        let credit: UInt64 = Worker.stopRequested.load(ordering: .relaxed) ? 0 : 1
        switch message {
        case .result(var r):
            r.credit = credit
            let out = WireCodec.encode(.result(r))
            unacked[r.task] = out
            _ = try? dealer?.send(out, dontWait: true)
            lastSent = now
        case .failure(var f):
            f.credit = credit
            send(.failure(f))
        default:
            break
        }
        startNext(ioEnd)
    }

    private func makePipe() throws -> (ZMQSocket, ZMQSocket) {
        let endpoint = "inproc://terrain-compute-\(UInt32.random(in: 0 ... .max))"
        let io = try ZMQSocket(context, .pair)
        _ = try io.bind(endpoint)
        let compute = try ZMQSocket(context, .pair)
        try compute.connect(endpoint)
        return (compute, io)
    }

    private func startComputeThread(_ socket: ZMQSocket) -> ComputeThread {
        let box = SocketBox(socket)
        let runners = self.runners
        let thread = ComputeThread {
            let s = box.socket
            defer { s.close() }
            while let frames = try? s.receive() {
                if frames.count == 1 && frames[0] == [0] { return }
                guard case .task(let t)? = try? WireCodec.decode([frames[0]]) else { continue }
                var inputs = [TaskInput]()
                for (input, data) in zip(t.inputs, frames.dropFirst()) {
                    inputs.append(TaskInput(task: input.dependency, name: input.name, data: data))
                }
                let start = DispatchTime.now().uptimeNanoseconds
                let reply: WireMessage
                if let runner = runners[t.kind] {
                    do {
                        // Checkpoints leave through the same pipe, on this thread, while the task runs.
                        let context = TaskContext { step, data in
                            let c = TaskCheckpoint(task: t.task, attempt: t.attempt, step: UInt64(max(step, 0)), data: data)
                            _ = try? box.socket.send(WireCodec.encode(.checkpoint(c)))
                        }
                        let out = try runner.run(task: t.task, attempt: t.attempt, params: t.params, inputs: inputs, context: context)
                        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                        reply = .result(TaskResult(task: t.task, attempt: t.attempt, output: out.output, elapsed: elapsed, blobs: out.blobs,
                                                   startStep: out.startStep.map { UInt64(max($0, 0)) }))
                    } catch let e as TaskError {
                        reply = .failure(TaskFailure(task: t.task, attempt: t.attempt, error: e.message, retryable: e.retryable))
                    } catch {
                        reply = .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "\(error)"))
                    }
                } else {
                    reply = .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "this worker cannot run task kind \(t.kind)", retryable: true))
                }
                _ = try? s.send(WireCodec.encode(reply))
            }
        }
        thread.start()
        return thread
    }
}

/// Moves a socket to the thread that will own it from then on.
private final class SocketBox: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}

/// A thread that can be joined.
final class ComputeThread: @unchecked Sendable {
    private let thread: Thread
    private let finished = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        let done = finished
        thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = 16 << 20
    }

    func start() { thread.start() }
    func join() { finished.wait() }
}
