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
        do {
            return try execute(state.handle(.received(try WireCodec.decode(frames), now: now)))
        } catch let e as WireError {
            return try execute(state.handle(.malformed(e, now: now)))
        }
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
            case .compute(let task):
                let inputs = task.inputs.map { input -> TaskInput in
                    guard let data = artifacts[input.hash] else { preconditionFailure("task \(task.task) started without its input \(input.name)") }
                    return TaskInput(task: input.dependency, name: input.name, data: data)
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
