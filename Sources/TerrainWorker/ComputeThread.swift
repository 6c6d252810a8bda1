import Foundation
import TerrainProtocol
import TerrainSweeps
import TerrainWire

/// The compute thread: runs one task at a time with its kind, off the I/O thread, so that
/// heartbeats continue during long tasks. Jobs and outcomes travel over an `inproc://` PAIR
/// (the I/O thread polls its end with the DEALER): a job is the task message followed by its
/// inputs' bytes as blob frames, in `inputs` order; an outcome is a `result`, `failure` or
/// `checkpoint` message.
final class ComputeThread: TaskExecutor {
    /// The I/O thread's end of the pipe: poll it, then ``drain()``.
    let socket: ZMQSocket
    private let thread: Thread
    private let finished = DispatchSemaphore(value: 0)

    init(context: ZMQContext, kinds: [String: any TaskKind]) throws {
        let endpoint = "inproc://terrain-compute-\(UInt32.random(in: 0 ... .max))"
        socket = try ZMQSocket(context, .pair)
        _ = try socket.bind(endpoint)
        let computeEnd = try ZMQSocket(context, .pair)
        try computeEnd.connect(endpoint)
        let box = SocketBox(computeEnd)
        let done = finished
        thread = Thread {
            Self.serve(box.socket, kinds: kinds)
            box.socket.close()
            done.signal()
        }
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Tells the thread to exit, waits for it, closes the pipe.
    func stop() {
        _ = try? socket.send([[0]], dontWait: true)
        finished.wait()
        socket.close()
    }

    private static func serve(_ s: ZMQSocket, kinds: [String: any TaskKind]) {
        while let frames = try? s.receive() {
            if frames.count == 1 && frames[0] == [0] { return }
            guard case .task(let t)? = try? WireCodec.decode([frames[0]]) else { continue }
            let inputs = zip(t.inputs, frames.dropFirst()).map { TaskInput(task: $0.0.dependency, name: $0.0.name, data: $0.1) }
            let box = SocketBox(s)
            _ = try? s.send(WireCodec.encode(run(t, inputs: inputs, kinds: kinds) { _ = try? box.socket.send(WireCodec.encode($0)) }))
        }
    }

    /// Runs one task; checkpoints are handed to `emit` (on this thread) while it runs. The
    /// outcome echoes the attempt's lease token.
    static func run(_ t: TaskAssignment, inputs: [TaskInput], kinds: [String: any TaskKind],
                    emit: @escaping @Sendable (WireMessage) -> Void) -> WireMessage {
        guard let kind = kinds[t.kind] else {
            return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "this worker cannot run task kind \(t.kind)", retryable: true,
                                        lease: t.lease))
        }
        let context = TaskContext { step, data in
            emit(.checkpoint(TaskCheckpoint(task: t.task, attempt: t.attempt, step: UInt64(max(step, 0)), data: data, lease: t.lease)))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let out = try kind.run(task: t.task, attempt: t.attempt, params: t.params, inputs: inputs, context: context)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            return .result(TaskResult(task: t.task, attempt: t.attempt, output: out.output, elapsed: elapsed, blobs: out.blobs,
                                      startStep: out.startStep.map { UInt64(max($0, 0)) }, lease: t.lease))
        } catch let e as TaskError {
            return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: e.message, retryable: e.retryable, lease: t.lease))
        } catch {
            return .failure(TaskFailure(task: t.task, attempt: t.attempt, error: "\(error)", lease: t.lease))
        }
    }
}

/// Moves a socket to the thread that will own it from then on.
final class SocketBox: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}
