import Foundation

/// Multipart messages over a pipe between a worker and its compute process: a u32
/// little-endian frame count, then per frame a u64 little-endian length and the bytes. Reads
/// and writes loop over partial transfers and `EINTR`; a closed pipe reads as `nil`.
enum PipeFrames {
    /// The most frames and the largest frame a message may have (a task and its inputs).
    static let maxFrames = 1 << 16
    static let maxFrameBytes = 1 << 34

    /// Writes one message; false when the other end is gone.
    static func write(_ frames: [[UInt8]], to fd: Int32) -> Bool {
        var header = [UInt8]()
        withUnsafeBytes(of: UInt32(frames.count).littleEndian) { header += $0 }
        guard writeAll(header, fd) else { return false }
        for f in frames {
            var length = [UInt8]()
            withUnsafeBytes(of: UInt64(f.count).littleEndian) { length += $0 }
            guard writeAll(length, fd), writeAll(f, fd) else { return false }
        }
        return true
    }

    /// Reads one message; `nil` at end of file or on a malformed stream.
    static func read(from fd: Int32) -> [[UInt8]]? {
        guard let header = readExactly(4, fd) else { return nil }
        let count = header.reversed().reduce(0) { $0 << 8 | Int($1) }
        guard count <= maxFrames else { return nil }
        var frames = [[UInt8]]()
        for _ in 0..<count {
            guard let length = readExactly(8, fd) else { return nil }
            let n = length.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard n <= UInt64(maxFrameBytes), let bytes = readExactly(Int(n), fd) else { return nil }
            frames.append(bytes)
        }
        return frames
    }

    private static func writeAll(_ bytes: [UInt8], _ fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private static func readExactly(_ count: Int, _ fd: Int32) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = bytes.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            offset += n
        }
        return bytes
    }
}
