// The polling clients of `terrain-bench http`, in a process of their own
// (`terrain-bench http-pollers PORT CLIENTS HZ keepalive|close`): each client is a thread that
// sends one GET every 1/HZ s (/api/status, /api/workers, /metrics in turn) over one HTTP/1.1
// keep-alive connection (as a browser or a script with a session does), or over a fresh
// connection per request (`close`). The process runs until its standard input closes, then
// prints `answers N errors E` and exits; its CPU time is what the parent's RUSAGE_CHILDREN
// gains.
import Foundation

/// One client's connection: reads answers by their Content-Length.
private struct KeepAliveClient {
    let port: Int
    let keepAlive: Bool
    private var fd: Int32 = -1
    private var buffer = [UInt8]()
    private var scratch = [UInt8](repeating: 0, count: 65536)

    init(port: Int, keepAlive: Bool) {
        self.port = port
        self.keepAlive = keepAlive
    }

    /// Sends `GET path` and reads its answer; true on a complete 200 answer.
    mutating func get(_ path: String) -> Bool {
        if fd < 0 { fd = connectLoopback(port) }
        guard fd >= 0 else { return false }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: bench\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n".utf8)
        let ok = send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count && readAnswer()
        if !ok || !keepAlive { reset() }
        return ok
    }

    private mutating func reset() {
        if fd >= 0 { close(fd) }
        fd = -1
        buffer.removeAll(keepingCapacity: true)
    }

    private mutating func fill() -> Bool {
        let n = recv(fd, &scratch, scratch.count, 0)
        if n <= 0 { return false }
        buffer += scratch[0 ..< n]
        return true
    }

    /// Reads one answer (head, then Content-Length bytes) off the buffer. Byte-level parsing:
    /// the pollers stand for clients on other hosts, so their own CPU is kept small.
    private mutating func readAnswer() -> Bool {
        var headEnd: Int?
        while headEnd == nil {
            headEnd = findHeadEnd(buffer)
            if headEnd == nil && !fill() { return false }
        }
        guard let length = contentLength(buffer, headEnd: headEnd!) else { return false }
        let total = headEnd! + 4 + length
        while buffer.count < total { if !fill() { return false } }
        let ok = buffer.starts(with: Array("HTTP/1.1 200".utf8))
        buffer.removeFirst(total)
        return ok
    }
}

/// The value of the head's Content-Length field (name matched case-insensitively).
private func contentLength(_ bytes: [UInt8], headEnd: Int) -> Int? {
    let name = Array("\r\ncontent-length:".utf8)
    var i = 0
    while i + name.count <= headEnd {
        var matches = true
        for (k, c) in name.enumerated() where (bytes[i + k] | (bytes[i + k] >= 65 && bytes[i + k] <= 90 ? 32 : 0)) != c {
            matches = false
            break
        }
        if matches {
            var j = i + name.count, value = 0, digits = 0
            while j < headEnd && bytes[j] == 32 { j += 1 }
            while j < headEnd, bytes[j] >= 48, bytes[j] <= 57, digits < 12 {
                value = value * 10 + Int(bytes[j] - 48)
                j += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        i += 1
    }
    return nil
}

private func findHeadEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for i in 0 ... bytes.count - 4 where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
    return nil
}

private func connectLoopback(_ port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if ok != 0 { close(fd); return -1 }
    return fd
}

/// `terrain-bench http-pollers PORT CLIENTS HZ keepalive|close`.
func httpPollersMain(_ args: [String]) -> Never {
    guard args.count == 4, let port = Int(args[0]), let clients = Int(args[1]), let hz = Double(args[2]), hz > 0,
          args[3] == "keepalive" || args[3] == "close" else {
        print("usage: terrain-bench http-pollers PORT CLIENTS HZ keepalive|close")
        exit(2)
    }
    let tally = PollTally()
    let paths = ["/api/status", "/api/workers", "/metrics"]
    for c in 0 ..< clients {
        let t = Thread {
            var client = KeepAliveClient(port: port, keepAlive: args[3] == "keepalive")
            // Clients start spread over one period, as independent pollers would.
            usleep(UInt32(Double(c) / Double(clients) / hz * 1e6))
            var next = ProcessInfo.processInfo.systemUptime
            var i = c
            while true {
                let ok = client.get(paths[i % paths.count])
                if tally.count(ok) { break }
                i += 1
                next += 1 / hz
                let rest = next - ProcessInfo.processInfo.systemUptime
                if rest > 0 { usleep(UInt32(rest * 1e6)) } else { next = ProcessInfo.processInfo.systemUptime }
            }
        }
        t.start()
    }
    while readLine() != nil {}
    let (a, e) = tally.stop()
    print("answers \(a) errors \(e)")
    exit(0)
}

/// The pollers' answers and failures, and the stop flag.
private final class PollTally: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false, answers = 0, errors = 0

    /// Counts one request; true once the pollers are to stop.
    func count(_ ok: Bool) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if ok { answers += 1 } else { errors += 1 }
        return stopped
    }

    func stop() -> (Int, Int) {
        lock.lock()
        defer { lock.unlock() }
        stopped = true
        return (answers, errors)
    }
}
