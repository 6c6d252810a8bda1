/// A dataset that cannot be used, with a message naming the file.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be opened or written.
    case io(String)
    /// The file holds another sweep.
    case specMismatch(String)

    public var description: String {
        switch self {
        case .io(let m): return m
        case .specMismatch(let m): return m
        }
    }
}
