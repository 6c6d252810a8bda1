import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client over a POSIX socket, so that tests can send exactly the bytes
/// they mean (malformed requests included) and read the status line as the server wrote it.
enum RawHTTP {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body)) }
    }

    /// Sends `GET path` (with `headers`) to 127.0.0.1:`port` and reads the whole answer.
    static func get(_ port: Int, _ path: String, headers: [String: String] = [:], method: String = "GET") throws -> Answer {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        return try parse(exchange(port, Array(request.utf8)))
    }

    /// Sends raw bytes and returns everything the server wrote before closing.
    static func exchange(_ port: Int, _ bytes: [UInt8], readLimit: Int = 64 << 20) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure("connect to port \(port): errno \(errno)") }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while out.count < readLimit {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0 ..< n]
        }
        return out
    }

    static func parse(_ raw: [UInt8]) throws -> Answer {
        guard let end = find(raw, [13, 10, 13, 10]) else { throw Failure("no HTTP head in \(raw.count) bytes: \(String(decoding: raw.prefix(200), as: UTF8.self))") }
        let head = String(decoding: raw[0 ..< end], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head[0].split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure("bad status line: \(head[0])") }
        var headers = [String: String]()
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[(end + 4)...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return Answer(status: status, headers: headers, body: body)
    }

    static func dechunk(_ b: [UInt8]) -> [UInt8] {
        var out = [UInt8](), i = 0
        while i < b.count, let lineEnd = find(Array(b[i...]), [13, 10]) {
            let size = Int(String(decoding: b[i ..< i + lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
            i += lineEnd + 2
            if size == 0 || i + size > b.count { break }
            out += b[i ..< i + size]
            i += size + 2
        }
        return out
    }

    static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0 ... haystack.count - needle.count where haystack[i] == needle[0] && Array(haystack[i ..< i + needle.count]) == needle { return i }
        return nil
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
