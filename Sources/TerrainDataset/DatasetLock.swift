import Foundation

/// An exclusive lock on the dataset file itself — its inode, not its name — so that two
/// coordinators never write one dataset, whatever paths they reach it by (a symlink, a hard
/// link, a relative path). It is a `flock` on an open descriptor of the database file; SQLite
/// locks with `fcntl`, which is independent of `flock` on Linux, so the two never interfere.
/// The kernel releases it when the process exits, however it exits (SIGKILL included), so a
/// crashed coordinator never leaves a stale lock. The descriptor is close-on-exec, so worker
/// processes started by `terrain run` do not inherit it.
///
/// Close the SQLite connection before the lock: closing a descriptor of a file releases the
/// process's `fcntl` locks on it (``SweepDataset`` holds its lock and closes in that order).
public final class DatasetLock: @unchecked Sendable {
    /// The path it was taken through.
    public let path: String
    /// Whether taking the lock created the file (it did not exist).
    public let created: Bool
    private let fd: Int32

    /// Opens (creating if absent) and locks the dataset file, or throws
    /// ``DatasetError/inUse(_:)`` naming the process that holds it.
    public init(path: String) throws {
        self.path = path
        var created = false
        var fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd >= 0 {
            created = true
        } else if errno == EEXIST {
            fd = open(path, O_RDWR | O_CLOEXEC)
        }
        guard fd >= 0 else { throw DatasetError.io("\(path): cannot open the dataset: \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = Self.holder(of: fd)
            close(fd)
            throw DatasetError.inUse("\(path) is in use by another coordinator\(holder.map { " (pid \($0))" } ?? ""); stop it first, or give this one another --dataset")
        }
        // SQLite keeps the write-ahead log beside the name a file is opened by: through a second
        // hard link, a writer would not see the transactions in the first name's log (and the
        // two logs would later corrupt the file).
        var s = stat()
        if fstat(fd, &s) == 0 && s.st_nlink > 1 {
            close(fd)
            throw DatasetError.linked("\(path) has \(s.st_nlink) hard links; SQLite keeps its write-ahead log beside the name a dataset is opened by, so writing it through several names loses or corrupts transactions: keep one name (remove the other links) and use that")
        }
        self.fd = fd
        self.created = created
    }

    /// Whether `path` (followed through symlinks) is the locked file now: SQLite opens by
    /// name, so a name swapped after locking must not send the writes elsewhere.
    public func stillNamesTheLockedFile() -> Bool {
        var a = stat(), b = stat()
        guard fstat(fd, &a) == 0, stat(path, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// The file's size in bytes.
    public var size: Int {
        var s = stat()
        return fstat(fd, &s) == 0 ? Int(s.st_size) : 0
    }

    /// Removes the file if this lock created it and it is still empty (a sweep that could not
    /// be created leaves nothing behind).
    public func removeCreatedFile() {
        guard created, size == 0, stillNamesTheLockedFile() else { return }
        unlink(path)
    }

    /// The process holding a `flock` on the same inode, from `/proc/locks` (Linux); `nil`
    /// elsewhere or when it cannot be told.
    static func holder(of fd: Int32) -> Int32? {
        var s = stat()
        guard fstat(fd, &s) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        // "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF" — device as major:minor in hex.
        let major = (UInt64(s.st_dev) >> 8) & 0xfff | (UInt64(s.st_dev) >> 32) & ~0xfff
        let minor = UInt64(s.st_dev) & 0xff | (UInt64(s.st_dev) >> 12) & ~0xff
        let device = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(s.st_ino))
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", f[5] == device, let pid = Int32(f[4]) else { continue }
            return pid
        }
        return nil
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
