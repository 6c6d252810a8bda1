import Foundation

/// An exclusive, advisory lock on a file next to the dataset (`flock`), so that two
/// coordinators never serve the same dataset at once. The kernel releases it when the
/// process exits, however it exits (SIGKILL included), so a crashed coordinator never leaves
/// a stale lock behind.
public final class DatasetLock {
    private let fd: Int32

    /// Takes the lock or throws ``DatasetError/io(_:)`` naming the process that holds it.
    public init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else {
            throw DatasetError.io("\(path): cannot create the lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            let dataset = String(path.dropLast(".lock".count))
            throw DatasetError.io("\(dataset) is in use by another coordinator\(holder.isEmpty ? "" : " (pid \(holder))"); stop it first, or give this one another --dataset")
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
