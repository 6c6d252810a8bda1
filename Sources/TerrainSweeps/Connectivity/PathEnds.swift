import Foundation
import TerrainCore

/// Where a path's end point or bend comes from: a named output of a task of the sweep, or a
/// fixed input of the sweep (task 0: a checkpoint file named in the spec).
public struct PathSource: Codable, Sendable, Equatable {
    /// The task (0: a fixed input).
    public var task: UInt64
    /// The output's (or fixed input's) name.
    public var name: String

    /// Creates a source.
    public init(task: UInt64, name: String) {
        self.task = task
        self.name = name
    }

    /// The safetensors it names, among a task's inputs, decoded. A missing input is a
    /// non-retryable failure of `run`.
    func tensors<P>(in run: TaskRun<P>) throws -> [String: StoredTensor] {
        guard let i = run.inputs.first(where: { $0.task == task && $0.name == name }) else {
            throw run.failure("missing input \(name) of task \(task)")
        }
        return try SafeTensors.decode(i.data, source: "\(name) of task \(task)").tensors
    }

    /// The model's flat parameter vector at this source (its buffers are applied too).
    func values<P>(in run: TaskRun<P>, model: Model<Float>) throws -> [Float] {
        try Checkpoint.apply(try tensors(in: run), source: "\(name) of task \(task)", to: model)
        return ParameterSpace(model).values()
    }
}
