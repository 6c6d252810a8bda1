import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file.
///
/// The map is `MAP_SHARED` and `PROT_READ`: its pages are the kernel's page-cache pages of
/// the file, so every process on a node that maps the same file shares one copy of the data
/// (one worker per core holds a data set once per node, not once per worker). Pages are read
/// from disk on first touch and can be dropped and re-read by the kernel under memory
/// pressure. The map lives as long as this object.
///
/// A file truncated by another process while mapped makes later reads of the lost pages fault
/// (SIGBUS); data files are expected to be immutable while a run uses them, and sweeps check
/// their SHA-256 before loading.
public final class MappedFile: @unchecked Sendable {
    /// The file's path, for messages.
    public let path: String
    /// The file's bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path`.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming the file when it cannot be opened,
    ///   is not a regular file, or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO named as a data file must fail below, not hang.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw TerrainError.invalidData("\(path): cannot read the file (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw TerrainError.invalidData("\(path): cannot stat the file (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TerrainError.invalidData("\(path): not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw TerrainError.invalidData("\(path): cannot map the file (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// The file size in bytes.
    public var count: Int { bytes.count }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// The SHA-256 digest of the file's contents, read through a temporary map in 1 MiB
    /// pieces (never a copy of the whole file in process memory).
    /// - Throws: ``TerrainError/invalidData(_:)`` when the file cannot be opened or mapped.
    public static func sha256(of path: String) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        var h = SHA256()
        var offset = 0
        let piece = 1 << 20
        while offset < file.count {
            let end = min(offset + piece, file.count)
            h.update(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<end]))
            offset = end
        }
        return h.finalize()
    }
}
