/// The lifecycle state of a task: the values of the `tasks.status` column, and the states the
/// coordinator's scheduler moves tasks through (docs/protocol.md, "Liveness, leases and retries").
public enum TaskStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for the tasks it depends on.
    case waiting
    /// Ready to run, in the queue.
    case queued
    /// Leased to a worker.
    case running
    /// A result is committed.
    case done
    /// Quarantined after its attempt limit, or a dependency failed.
    case failed
}
