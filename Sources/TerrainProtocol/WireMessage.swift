/// Every message of the protocol (docs/protocol.md, "Message types").
public enum WireMessage: Equatable, Sendable {
    case hello(WorkerHello)
    case welcome(sweep: String, heartbeatMilliseconds: UInt64, liveness: UInt64)
    case reject(code: RejectCode, reason: String)
    case ready(credit: UInt64)
    case task(TaskAssignment)
    case heartbeat(tasks: [UInt64])
    case result(TaskResult)
    case failure(TaskFailure)
    case ack(tasks: [UInt64])
    case goodbye(reason: String)
    case done(reason: String)
    case fetch(hashes: [[UInt8]])
    case artifact(hash: [UInt8], data: [UInt8])
    case checkpoint(TaskCheckpoint)

    /// The numeric type code of the header.
    public var typeCode: UInt8 {
        switch self {
        case .hello: return 1
        case .welcome: return 2
        case .reject: return 3
        case .ready: return 4
        case .task: return 5
        case .heartbeat: return 6
        case .result: return 7
        case .failure: return 8
        case .ack: return 9
        case .goodbye: return 10
        case .done: return 11
        case .fetch: return 12
        case .artifact: return 13
        case .checkpoint: return 14
        }
    }

    /// Whether only a worker sends this message (a coordinator receiving any other type from a
    /// peer counts it as malformed).
    public var isSentByWorkers: Bool {
        switch self {
        case .hello, .ready, .heartbeat, .result, .failure, .goodbye, .fetch, .checkpoint: return true
        case .welcome, .reject, .task, .ack, .done, .artifact: return false
        }
    }
}
