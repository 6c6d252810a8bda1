/// A dataset that cannot be used, with a message naming the file.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be opened, read or written (a full disk, permissions): SQLite's reason
    /// after the file's name.
    case io(String)
    /// The file holds another sweep, or its inputs changed; it was not written.
    case specMismatch(String)
    /// Another coordinator holds the dataset's lock (named in the message, with its pid).
    case inUse(String)
    /// The file is not a Terrain dataset (another program's SQLite database, another kind of
    /// file, or a dataset of a newer schema); it was not written.
    case foreign(String)
    /// `terrain retry` was asked for a task it cannot put back (named in the message).
    case notRetryable(String)
    /// The file has several hard links: SQLite's write-ahead log is kept per name, so it is
    /// not opened for writing.
    case linked(String)

    public var description: String {
        switch self {
        case .io(let m), .specMismatch(let m), .inUse(let m), .foreign(let m), .notRetryable(let m), .linked(let m): return m
        }
    }
}
