import TerrainProtocol
import TerrainSweeps
import TerrainWire

/// What the worker loop needs from whatever runs its tasks (``ComputeThread`` in this
/// process, ``ComputeProcess`` in a child): an `inproc://` PAIR socket to poll, tasks sent
/// into it, the outcomes that arrived, and a way to stop.
protocol ComputeBackend: TaskExecutor {
    /// The I/O thread's end of the pipe: poll it, then ``drain()``.
    var socket: ZMQSocket { get }
    /// Stops computing and closes the pipe.
    func stop()
}

extension ComputeBackend {
    /// Hands a task and its inputs' bytes to the computing side.
    func start(_ task: TaskAssignment, inputs: [TaskInput]) {
        _ = try? socket.send(WireCodec.encode(.task(task)) + inputs.map(\.data))
    }

    /// The checkpoints and outcomes that arrived. The computing side encodes what it sends:
    /// a frame that does not decode is a bug.
    func drain() throws -> [WireMessage] {
        var out = [WireMessage]()
        while let frames = try socket.receive(dontWait: true) {
            guard let m = try? WireCodec.decode(frames) else { preconditionFailure("the compute side sent an undecodable message") }
            out.append(m)
        }
        return out
    }
}

extension ComputeThread: ComputeBackend {}
