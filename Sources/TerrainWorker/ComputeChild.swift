import Foundation
import TerrainProtocol
import TerrainSweeps

/// The compute process's side (`terrain compute`, started by ``ComputeProcess``): reads tasks
/// from stdin, runs them with their kinds and writes checkpoints and outcomes to stdout
/// (``PipeFrames``). Anything else the process prints goes to stderr. It exits when its
/// worker does: at the end of stdin, or — while a task runs — when a watchdog sees that its
/// parent is no longer the worker that started it.
public enum ComputeChild {
    /// Serves tasks until stdin ends; returns the process exit status.
    public static func serve(parent: Int32, kinds: [String: any TaskKind] = TaskKinds.byName()) -> Int32 {
        guard getppid() == parent else { return 1 }
        let watchdog = Thread {
            while true {
                sleep(1)
                if getppid() != parent { _exit(0) }
            }
        }
        watchdog.start()
        let out = dup(1)
        dup2(2, 1)
        var held = [[UInt8]: [UInt8]]()
        while let frames = PipeFrames.read(from: 0) {
            guard let first = frames.first, case .task(let t)? = try? WireCodec.decode([first]), frames.count == t.inputs.count + 1 else { return 2 }
            var inputs = [TaskInput]()
            var next = [[UInt8]: [UInt8]]()
            for (ref, frame) in zip(t.inputs, frames.dropFirst()) {
                let data: [UInt8]
                if frame == [1] {
                    guard let d = held[ref.hash] ?? next[ref.hash] else { return 3 }
                    data = d
                } else {
                    data = Array(frame.dropFirst())
                }
                next[ref.hash] = data
                inputs.append(TaskInput(task: ref.dependency, name: ref.name, data: data))
            }
            held = next
            let outcome = ComputeThread.run(t, inputs: inputs, kinds: kinds) { _ = PipeFrames.write(WireCodec.encode($0), to: out) }
            guard PipeFrames.write(WireCodec.encode(outcome), to: out) else { return 0 }
        }
        return 0
    }
}
