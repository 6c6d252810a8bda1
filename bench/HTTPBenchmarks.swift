// HTTP polling benchmark (issue 13): the coordinator's dispatch throughput on no-op probe
// tasks with 64 simulated workers, with its HTTP server up and (a) no client, (b) 20 clients
// each polling the JSON API at 10 Hz (/api/status, /api/workers, /metrics in turn).
// Runs alternate between the two settings; the medians are compared.
import Foundation
import TerrainCoordinator
import TerrainSweeps
import TerrainWeb
import TerrainWire

/// A coordinator with `--http` on a background thread.
private final class ServedCoordinator: @unchecked Sendable {
    let endpoint: String
    let port: Int
    private let done = DispatchSemaphore(value: 0)
    private(set) var summary: CoordinatorSummary?
    private let server: WebServer

    init(tasks: Int, directory: String) throws {
        endpoint = "ipc://\(directory)/c.sock"
        let dataset = "\(directory)/bench.sqlite"
        let spec = try SweepSpec.parse("kind: probe\nprobe: {tasks: \(tasks), payload_bytes: 16}\nruntime: {heartbeat_ms: 1000, liveness: 30}\n",
                                       source: "bench")
        let metrics = WebMetrics()
        server = try WebServer.start(SweepView(path: dataset, live: metrics), binding: try WebBinding("127.0.0.1:0", token: nil))
        port = Int(server.url.split(separator: ":").last!)!
        var options = CoordinatorOptions(endpoints: [endpoint], datasetPath: dataset)
        options.observer = metrics
        let configured = options
        let thread = Thread { [self] in
            do { self.summary = try Coordinator(spec: spec, options: configured).run() } catch { print("coordinator failed: \(error)") }
            self.done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        let path = String(endpoint.dropFirst("ipc://".count))
        while !FileManager.default.fileExists(atPath: path) { usleep(1000) }
    }

    func wait() -> CoordinatorSummary? {
        done.wait()
        return summary
    }

    /// Stops the server once no client polls any more.
    func stop() { server.stop() }
}

/// `clients` threads each sending one GET every `1/hz` s until `stop` is set; returns the
/// number of answers.
private final class Pollers: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var answers = 0
    private var threads: [Thread] = []

    init(port: Int, clients: Int, hz: Double) {
        let paths = ["/api/status", "/api/workers", "/metrics"]
        for c in 0 ..< clients {
            let t = Thread { [self] in
                var i = c
                while !self.isStopped {
                    let began = Date()
                    if httpGet(port: port, path: paths[i % paths.count]) { self.count() }
                    i += 1
                    let rest = 1 / hz - Date().timeIntervalSince(began)
                    if rest > 0 { usleep(UInt32(rest * 1e6)) }
                }
            }
            threads.append(t)
            t.start()
        }
    }

    var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    func count() { lock.lock(); answers += 1; lock.unlock() }
    func stop() -> Int { lock.lock(); stopped = true; let n = answers; lock.unlock(); usleep(300_000); return n }
}

/// One GET over a fresh loopback connection; true on a 200 answer read to its end.
private func httpGet(port: Int, path: String) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard ok == 0 else { return false }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".utf8)
    guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return false }
    var buffer = [UInt8](repeating: 0, count: 16384)
    var first = [UInt8]()
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        if first.count < 12 { first += buffer[0 ..< min(n, 12)] }
    }
    return String(decoding: first, as: UTF8.self).hasPrefix("HTTP/1.1 200")
}

/// Dispatch throughput (results/s) of one run, and the answers the pollers got.
private func servedThroughput(tasks: Int, clients: Int) throws -> (rate: Double, answers: Int) {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let coordinator = try ServedCoordinator(tasks: tasks, directory: dir)
    let pollers = clients > 0 ? Pollers(port: coordinator.port, clients: clients, hz: 10) : nil
    _ = try driveSimulatedWorkers(endpoint: coordinator.endpoint, count: 64, credit: 4)
    let summary = coordinator.wait()
    let answers = pollers?.stop() ?? 0
    coordinator.stop()
    guard let s = summary, s.done == tasks else { throw BenchError.incomplete("HTTP bench: sweep incomplete") }
    return (Double(tasks) / s.seconds, answers)
}

/// Simulated workers answering every task at once until `done`.
private func driveSimulatedWorkers(endpoint: String, count: Int, credit: UInt64) throws -> Int {
    let context = try ZMQContext()
    var sockets = [ZMQSocket]()
    for i in 0 ..< count {
        let s = try ZMQSocket(context, .dealer)
        try s.setRoutingID(Array("sim-\(i)".utf8))
        try s.setReceiveHighWaterMark(0)
        try s.setSendHighWaterMark(0)
        try s.connect(endpoint)
        _ = try s.send(WireCodec.encode(.hello(WorkerHello(worker: "sim-\(i)", host: "bench", pid: UInt64(getpid()), kinds: ["probe"], slots: 1))))
        sockets.append(s)
    }
    defer { for s in sockets { s.close() } }
    let output = [UInt8](repeating: 7, count: 16)
    var finished = 0, results = 0, idle = 0
    while finished < count {
        let readable = try ZMQPoller.poll(sockets, timeoutMilliseconds: 1000)
        // A coordinator creating a large dataset is silent for a while; give up after 60 s.
        if !readable.contains(true) { idle += 1; if idle > 60 { break } else { continue } }
        idle = 0
        for (i, ok) in readable.enumerated() where ok {
            while let frames = try sockets[i].receive(dontWait: true) {
                guard let m = try? WireCodec.decode(frames) else { continue }
                switch m {
                case .welcome: _ = try sockets[i].send(WireCodec.encode(.ready(credit: credit)))
                case .task(let t):
                    _ = try sockets[i].send(WireCodec.encode(.result(TaskResult(task: t.task, attempt: t.attempt, output: output, credit: 1, lease: t.lease))))
                    results += 1
                case .done: finished += 1
                default: break
                }
            }
        }
    }
    return results
}

func httpBenchmarks(rounds: Int = 3, tasks: Int = 30_000) throws {
    print("HTTP polling (no-op probe tasks, 64 simulated workers, HTTP server up in both settings; \(rounds) alternating rounds of \(tasks) tasks):")
    var quiet = [Double](), polled = [Double](), answers = [Int]()
    for _ in 0 ..< rounds {
        quiet.append(try servedThroughput(tasks: tasks, clients: 0).rate)
        let (rate, n) = try servedThroughput(tasks: tasks, clients: 20)
        polled.append(rate)
        answers.append(n)
    }
    let q = percentile(quiet, 0.5), p = percentile(polled, 0.5)
    print(String(format: "  no clients:               %8.0f durable results/s (median; runs %@)", q, quiet.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
    print(String(format: "  20 clients polling 10 Hz: %8.0f durable results/s (median; runs %@), %d answers per run (median)", p,
                 polled.map { String(format: "%.0f", $0) }.joined(separator: ", "), answers.sorted()[answers.count / 2]))
    print(String(format: "  difference: %+.1f %%", 100 * (p - q) / q))
}
