import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The file through which a coordinator tells its workers where it listens
/// (`terrain coordinator --endpoint-file FILE`, `terrain worker --connect @FILE`).
///
/// Format: the endpoint on the first line (`tcp://node17:43211`), then comment lines
/// (`# pid 4242 on node17, sweep probe, 2026-11-30T10:00:00Z`) that readers ignore. The file
/// is written atomically (a temporary file in the same directory, flushed, then renamed), so a
/// reader never sees half an endpoint. When the coordinator exits cleanly it removes the file
/// (stopped: a restarted coordinator writes a new one), or, when the sweep is finished,
/// replaces it by the line ``finished`` so that workers arriving late (an elastic job array)
/// leave at once — in both cases only if the file still holds what this coordinator wrote (a
/// newer coordinator may have replaced it).
public enum EndpointFile {
    /// The line of a finished sweep's endpoint file (what ``read(_:)`` returns for it).
    public static let finished = "finished"

    /// Why an endpoint file could not be written or read.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        /// What went wrong, naming the file.
        public var description: String
    }

    /// The endpoint workers should connect to for a bound endpoint: a wildcard address
    /// (`0.0.0.0`, `*`, `::`, `[::]`) is replaced by `host`; any other endpoint is returned
    /// unchanged (`ipc://…`, `tcp://10.0.0.5:5555`). `host` may be a name or an IPv4/IPv6
    /// address (an IPv6 address is bracketed).
    public static func advertised(_ bound: String, host: String) -> String {
        guard bound.hasPrefix("tcp://") else { return bound }
        let rest = bound.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":") else { return bound }
        let address = rest[..<colon], port = rest[rest.index(after: colon)...]
        guard ["0.0.0.0", "*", "::", "[::]"].contains(String(address)) else { return bound }
        let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "tcp://\(h):\(port)"
    }

    /// The endpoint to advertise among several bound ones: the first TCP endpoint that is not
    /// loopback, else the first TCP endpoint, else the first (an `ipc://` path).
    public static func choose(_ bound: [String], host: String) -> String? {
        let tcp = bound.filter { $0.hasPrefix("tcp://") }
        let pick = tcp.first { !$0.hasPrefix("tcp://127.") && !$0.hasPrefix("tcp://[::1]") && !$0.hasPrefix("tcp://localhost") }
            ?? tcp.first ?? bound.first
        return pick.map { advertised($0, host: host) }
    }

    /// The host name to advertise: `explicit` (`--advertise-host`), else `$TERRAIN_HOST`,
    /// else this machine's host name.
    public static func advertiseHost(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let h = environment["TERRAIN_HOST"], !h.isEmpty { return h }
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count - 1) == 0 {
            let name = String(cString: buffer)
            if !name.isEmpty { return name }
        }
        return ProcessInfo.processInfo.hostName
    }

    /// Checks before binding that `path`'s directory exists and takes a file, so that a
    /// typo fails at start rather than leaving workers waiting.
    public static func checkWritable(_ path: String) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure(description: "\(path): the endpoint file's directory \(dir) does not exist")
        }
        guard access(dir, W_OK) == 0 else {
            throw Failure(description: "\(path): cannot write the endpoint file in \(dir) (\(String(cString: strerror(errno))))")
        }
    }

    /// Writes `endpoint` (and a comment line) to `path` atomically: a temporary file beside
    /// it, flushed to disk, renamed over `path`. Returns the bytes written (what ``remove(_:ifHolds:)``
    /// compares).
    @discardableResult
    public static func write(_ path: String, endpoint: String, comment: String) throws(Failure) -> String {
        let text = "\(endpoint)\n# \(comment.replacingOccurrences(of: "\n", with: " "))\n"
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "\(path): cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            unlink(temporary)
            throw Failure(description: "\(path): cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(description: "\(path): cannot rename \(temporary) into place: \(reason)")
        }
        return text
    }

    /// The endpoint in `path` (or ``finished``): `nil` when the file does not exist (yet) or
    /// holds no endpoint line. Throws when it exists but cannot be read, or its first line is not a ZeroMQ
    /// endpoint (`tcp://`, `ipc://`).
    public static func read(_ path: String) throws(Failure) -> String? {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            if !FileManager.default.fileExists(atPath: path) { return nil }
            throw Failure(description: "\(path): cannot read the endpoint file: \(error.localizedDescription)")
        }
        guard data.count <= 4096 else { throw Failure(description: "\(path): not an endpoint file (\(data.count) bytes)") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let line = lines.first(where: { !$0.isEmpty && !$0.hasPrefix("#") }) else { return nil }
        if line == finished { return finished }
        guard line.hasPrefix("tcp://") || line.hasPrefix("ipc://"), !line.contains(" ") else {
            throw Failure(description: "\(path): the first line is not a ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH): \(line.prefix(80))")
        }
        return line
    }

    /// Removes `path` if it still holds `text` (what this process wrote); a file another
    /// coordinator has written since is left alone.
    public static func remove(_ path: String, ifHolds text: String) {
        guard let now = try? String(contentsOfFile: path, encoding: .utf8), now == text else { return }
        unlink(path)
    }

    /// Replaces `path` by the ``finished`` line if it still holds `text` (what this process wrote).
    public static func markFinished(_ path: String, ifHolds text: String, comment: String) {
        guard let now = try? String(contentsOfFile: path, encoding: .utf8), now == text else { return }
        if (try? write(path, endpoint: finished, comment: comment)) == nil { unlink(path) }
    }
}
