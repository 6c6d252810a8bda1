import Foundation
import Synchronization
import TerrainProtocol
import TerrainSweeps
import TerrainWire

/// Runs tasks in a child process (`terrain compute`, kept between tasks), so that a task
/// that crashes — a trap, a segfault in a kernel, the OOM killer — takes down only that
/// process: the worker stays connected and reports the crash as a `failure` of the task
/// (docs/protocol.md: a crash the worker reports counts against the task; a lost worker
/// does not). A relay thread talks to the I/O thread over an `inproc://` PAIR, exactly as
/// ``ComputeThread`` does, and to the child over its stdin and stdout (``PipeFrames``).
///
/// The child does not outlive the worker: it exits at the end of its stdin, and a watchdog
/// thread in it checks every second that its parent is still the worker that started it, so
/// a worker killed with SIGKILL leaves nothing running for more than a second. Inputs the child already holds (the previous task's) are not
/// sent again.
final class ComputeProcess: TaskExecutor, ComputeBackend {
    /// The I/O thread's end of the pipe: poll it, then ``drain()``.
    let socket: ZMQSocket
    private let relay: Relay
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the relay thread; the child is started with the first task.
    init(context: ZMQContext, executable: String) throws {
        let endpoint = "inproc://terrain-compute-\(UInt32.random(in: 0 ... .max))"
        socket = try ZMQSocket(context, .pair)
        _ = try socket.bind(endpoint)
        let relayEnd = try ZMQSocket(context, .pair)
        try relayEnd.connect(endpoint)
        relay = Relay(pipe: relayEnd, executable: executable)
        let done = finished, relay = relay
        let thread = Thread {
            relay.serve()
            relay.pipe.close()
            done.signal()
        }
        thread.start()
    }

    /// Stops the child (a task still running is abandoned: the worker is leaving) and the relay.
    func stop() {
        relay.stopping.store(true, ordering: .relaxed)
        relay.killChild()
        _ = try? socket.send([[0]], dontWait: true)
        finished.wait()
        socket.close()
    }

    /// The relay thread's state.
    final class Relay: @unchecked Sendable {
        let pipe: ZMQSocket
        let executable: String
        let stopping = Atomic<Bool>(false)
        private let lock = NSLock()
        private var child: (pid: pid_t, stdin: Int32, stdout: Int32)?
        /// Input hashes the child holds (those of the task it was last sent).
        private var held = Set<[UInt8]>()

        init(pipe: ZMQSocket, executable: String) {
            self.pipe = pipe
            self.executable = executable
        }

        func serve() {
            while let frames = try? pipe.receive() {
                if frames.count == 1 && frames[0] == [0] { break }
                guard case .task(let t)? = try? WireCodec.decode([frames[0]]) else { continue }
                let outcome = run(t, inputs: Array(frames.dropFirst()))
                _ = try? pipe.send(WireCodec.encode(outcome))
            }
            killChild()
        }

        /// Sends the task to the child (starting one if needed) and relays its checkpoints
        /// until its result or failure; a child that dies meanwhile is the task's crash.
        private func run(_ t: TaskAssignment, inputs: [[UInt8]]) -> WireMessage {
            for attempt in 0..<2 {
                guard let c = ensureChild() else {
                    return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "cannot start the compute process \(executable)", lease: t.lease))
                }
                // Each input: [0] + bytes, or [1] when the child holds it from the previous task.
                var frames = [WireCodec.encode(.task(t))[0]]
                for (ref, data) in zip(t.inputs, inputs) { frames.append(held.contains(ref.hash) ? [1] : [0] + data) }
                guard PipeFrames.write(frames, to: c.stdin) else {
                    // The child was gone before it got the task: not the task's doing.
                    reap()
                    if attempt == 0 { continue }
                    return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "the compute process does not accept tasks", lease: t.lease))
                }
                held = Set(t.inputs.map(\.hash))
                while let reply = PipeFrames.read(from: c.stdout) {
                    guard let m = try? WireCodec.decode(reply) else { break }
                    if case .checkpoint = m {
                        _ = try? pipe.send(reply)
                        continue
                    }
                    return m
                }
                let how = reap()
                if stopping.load(ordering: .relaxed) {
                    return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "the worker stopped while the task ran", lease: t.lease))
                }
                return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "task \(t.task) crashed its worker's compute process (\(how))",
                                            retryable: true, lease: t.lease))
            }
            return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "the compute process does not accept tasks", lease: t.lease))
        }

        private func ensureChild() -> (pid: pid_t, stdin: Int32, stdout: Int32)? {
            lock.lock()
            defer { lock.unlock() }
            if let c = child {
                var status: Int32 = 0
                if waitpid(c.pid, &status, WNOHANG) == 0 { return c }
                close(c.stdin)
                close(c.stdout)
                child = nil
            }
            held = []
            var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
            guard Self.cloexecPipe(&toChild) else { return nil }
            guard Self.cloexecPipe(&fromChild) else {
                close(toChild[0]); close(toChild[1])
                return nil
            }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
            posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
            let args = [executable, "compute", "--parent", String(getpid())]
            var argv = args.map { strdup($0) } + [nil]
            defer { for p in argv { free(p) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, executable, &actions, nil, &argv, environ)
            close(toChild[0])
            close(fromChild[1])
            guard rc == 0 else {
                close(toChild[1]); close(fromChild[0])
                return nil
            }
            child = (pid, toChild[1], fromChild[0])
            return child
        }

        /// A pipe whose both ends close on exec (the child gets its ends through dup2).
        private static func cloexecPipe(_ fds: inout [Int32]) -> Bool {
            guard Glibc.pipe(&fds) == 0 else { return false }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return true
        }

        /// Waits for the dead child and says how it ended.
        @discardableResult
        private func reap() -> String {
            lock.lock()
            defer { lock.unlock() }
            guard let c = child else { return "gone" }
            child = nil
            held = []
            close(c.stdin)
            close(c.stdout)
            var status: Int32 = 0
            while waitpid(c.pid, &status, 0) < 0 && errno == EINTR {}
            let signal = status & 0x7f
            return signal != 0 ? "killed by signal \(signal)" : "exit status \((status >> 8) & 0xff)"
        }

        /// Kills the child, if any (its read of the pipe then ends the relay's wait).
        func killChild() {
            lock.lock()
            let pid = child?.pid
            lock.unlock()
            if let pid { kill(pid, SIGKILL) }
            if pid != nil && !stopping.load(ordering: .relaxed) { reap() }
        }
    }
}
