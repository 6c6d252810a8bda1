import Foundation
import Logging
import TerrainProtocol
import TerrainSweeps

/// The worker's connection to the coordinator: a DEALER socket in production
/// (``Worker``), a recording fake in tests.
package protocol WorkerTransport: AnyObject {
    /// Drops any connection and connects anew under a fresh identity, which it returns (the
    /// identity is the routing id the coordinator sees and the `worker` of the next hello).
    func reconnect() throws -> String
    /// Sends frames on the current connection without blocking; a message that cannot be
    /// queued is dropped (liveness and resending recover from it).
    func send(_ frames: [[UInt8]])
}

/// Runs tasks off the I/O thread: the compute thread in production, a fake in tests.
package protocol TaskExecutor: AnyObject {
    /// Starts computing `task` with its inputs' bytes (in `task.inputs` order). The outcome
    /// arrives later through the shell's ``WorkerShell/computed(_:)``.
    func start(_ task: TaskAssignment, inputs: [TaskInput])
}

/// The worker's shell: performs ``WorkerState``'s actions with a transport, an executor and
/// the artifact cache's bytes, and turns frames, outcomes and time into its events. It owns
/// no thread and reads time from a closure, so tests drive it with fakes and a virtual clock.
package final class WorkerShell {
    package private(set) var state: WorkerState
    private let transport: WorkerTransport
    private let executor: TaskExecutor
    private let clock: () -> Double
    private let logger: Logger
    private let kinds: [String]
    private let protocolVersion: UInt8
    /// The artifact cache's bytes, by hash (the state decides what is kept).
    package private(set) var artifacts: [[UInt8]: [UInt8]] = [:]
    /// The identity of the current connection.
    package private(set) var identity = ""
    /// Where this worker runs as its batch system sees it (``WorkerPlacement``), sent in every hello.
    package var placement = ""
    /// The local copies of the sweep's data files (``DataFiles``).
    package var files = FileCache(directory: NSTemporaryDirectory() + "terrain-files-\(getuid())")

    package init(config: WorkerState.Config, kinds: [String], protocolVersion: UInt8 = WireCodec.version, transport: WorkerTransport,
                 executor: TaskExecutor, clock: @escaping () -> Double, logger: Logger) {
        state = WorkerState(config: config)
        self.kinds = kinds
        self.protocolVersion = protocolVersion
        self.transport = transport
        self.executor = executor
        self.clock = clock
        self.logger = logger
    }

    /// Connects and says hello.
    package func start() throws -> WorkerExit? { try execute(state.handle(.start(now: clock()))) }

    /// Frames from the coordinator.
    package func receive(_ frames: [[UInt8]]) throws -> WorkerExit? {
        let now = clock()
        let message: WireMessage
        do { message = try WireCodec.decode(frames) } catch let e as WireError {
            return try execute(state.handle(.malformed(e, now: now)))
        }
        if case .task(let t) = message, let exit = try holdLocalFiles(of: t, now: now) { return exit }
        return try execute(state.handle(.received(message, now: now)))
    }

    /// Data files a task names that this node already has (cached, or at their original path
    /// with the same bytes) are held without fetching them.
    private func holdLocalFiles(of task: TaskAssignment, now: Double) throws -> WorkerExit? {
        for input in task.inputs where input.dependency == 0 && artifacts[input.hash] == nil {
            guard let original = DataFiles.path(ofInput: input.name), let path = files.find(input.hash, original: original) else { continue }
            let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
            artifacts[input.hash] = []
            if let exit = try execute(state.handle(.held(hash: input.hash, size: size, now: now))) { return exit }
        }
        return nil
    }

    /// A message from the executor: the current task's `result` or `failure`, or a `checkpoint`.
    package func computed(_ message: WireMessage) throws -> WorkerExit? {
        if case .checkpoint(let c) = message { return try execute(state.handle(.checkpoint(c, now: clock()))) }
        return try execute(state.handle(.computed(message, now: clock())))
    }

    /// Heartbeats, liveness, leaving.
    package func tick() throws -> WorkerExit? { try execute(state.handle(.tick(now: clock()))) }

    /// SIGTERM/SIGINT/SIGUSR1.
    package func signal() throws -> WorkerExit? { try execute(state.handle(.signal(now: clock()))) }

    /// A second signal or the end of the grace period: leave now.
    package func abandon(_ reason: String) throws -> WorkerExit? { try execute(state.handle(.abandon(reason: reason, now: clock()))) }

    /// The endpoint file names another coordinator.
    package func endpointChanged(_ endpoint: String) throws -> WorkerExit? {
        try execute(state.handle(.endpointChanged(endpoint, now: clock())))
    }

    /// For a data-file input, the local path (as the input's bytes) in place of its bytes:
    /// fetched bytes are written to the file cache, and kept only there.
    private func localFile(_ input: TaskInputRef, _ data: [UInt8]) throws -> [UInt8]? {
        guard input.dependency == 0, let original = DataFiles.path(ofInput: input.name) else { return nil }
        let path = try files.find(input.hash, original: original) ?? files.store(input.hash, data, original: original)
        artifacts[input.hash] = []
        return Array(path.utf8)
    }

    private func execute(_ actions: [WorkerState.Action]) throws -> WorkerExit? {
        for action in actions {
            switch action {
            case .connect:
                identity = try transport.reconnect()
                let hello = WorkerHello(worker: identity, host: ProcessInfo.processInfo.hostName, pid: UInt64(getpid()), kinds: kinds, slots: 1,
                                        placement: placement)
                transport.send(WireCodec.encode(.hello(hello), version: protocolVersion))
            case .send(let message):
                transport.send(WireCodec.encode(message))
            case let .store(hash, data):
                artifacts[hash] = data
            case .evict(let hash):
                artifacts.removeValue(forKey: hash)
                files.forget(hash)
            case .compute(let task):
                let inputs = try task.inputs.map { input -> TaskInput in
                    guard let data = artifacts[input.hash] else { preconditionFailure("task \(task.task) started without its input \(input.name)") }
                    return TaskInput(task: input.dependency, name: input.name, data: try localFile(input, data) ?? data)
                }
                executor.start(task, inputs: inputs)
            case let .log(level, message):
                logger.log(level: level, "\(message)")
            case .exit(let exit):
                return exit
            }
        }
        return nil
    }
}
