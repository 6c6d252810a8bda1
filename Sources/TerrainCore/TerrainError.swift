/// Errors raised by the training core. Each message names the file, field or value at
/// fault so that a user can act on it.
public enum TerrainError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A data file is missing, truncated or malformed.
    case invalidData(String)
    /// A checkpoint file is malformed or does not match the model.
    case invalidCheckpoint(String)
    /// A model description is inconsistent (bad widths, shapes that do not chain).
    case invalidModel(String)
    /// A training or evaluation request is inconsistent (bad batch size, no data).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidData(let m): return "invalid data: \(m)"
        case .invalidCheckpoint(let m): return "invalid checkpoint: \(m)"
        case .invalidModel(let m): return "invalid model: \(m)"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }
}
