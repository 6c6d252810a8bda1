// HTTP polling benchmark (issue 13): the coordinator's dispatch throughput on no-op probe
// tasks with 64 simulated workers, in three settings run in rotating order within each round:
//   no server  — no HTTP server and no observer (the coordinator as without `--http`);
//   idle server — `--http` up (server + metrics observer), nobody polling;
//   20 pollers — the same, with 20 clients each polling the JSON API at 10 Hz (/api/status,
//                /api/workers, /metrics in turn) from a separate process over keep-alive
//                connections (`close`: one TCP connection per request).
// The pollers stand for a laptop or a Prometheus server on another host; on this machine they
// share its cores, so their own CPU time is reported beside the coordinator's.
import Foundation
import TerrainCoordinator
import TerrainSweeps
import TerrainWeb
import TerrainWire

/// The CPU seconds a thread has used so far (Linux: CLOCK_THREAD_CPUTIME_ID).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU seconds (user + system) of this process (`RUSAGE_SELF`) or of its waited-for children.
func processCPUSeconds(children: Bool = false) -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue), &u)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return s(u.ru_utime) + s(u.ru_stime)
}

/// A coordinator, optionally with `--http`'s server and observer, on a thread of its own.
private final class ServedCoordinator: @unchecked Sendable {
    let endpoint: String
    private(set) var port = 0
    private let done = DispatchSemaphore(value: 0)
    private(set) var summary: CoordinatorSummary?
    /// CPU seconds of the coordinator's thread over its run.
    private(set) var threadCPU = 0.0
    private var server: WebServer?

    init(tasks: Int, directory: String, served: Bool) throws {
        endpoint = "ipc://\(directory)/c.sock"
        let dataset = "\(directory)/bench.sqlite"
        let spec = try SweepSpec.parse("kind: probe\nprobe: {tasks: \(tasks), payload_bytes: 16}\nruntime: {heartbeat_ms: 1000, liveness: 30}\n",
                                       source: "bench")
        var options = CoordinatorOptions(endpoints: [endpoint], datasetPath: dataset)
        if served {
            let metrics = WebMetrics()
            let server = try WebServer.start(SweepView(path: dataset, live: metrics), binding: try WebBinding("127.0.0.1:0", token: nil))
            port = Int(server.url.split(separator: ":").last!)!
            self.server = server
            options.observer = metrics
        }
        let configured = options
        let thread = Thread { [self] in
            let cpu = threadCPUSeconds()
            do { self.summary = try Coordinator(spec: spec, options: configured).run() } catch { print("coordinator failed: \(error)") }
            self.threadCPU = threadCPUSeconds() - cpu
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
    func stop() { server?.stop() }
}

/// The poller process (bench/HTTPPollers.swift), ended by closing its standard input.
private final class PollerProcess {
    private let process = Process()
    private let input = Pipe(), output = Pipe()

    init(port: Int, clients: Int, hz: Double, keepAlive: Bool) throws {
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["http-pollers", "\(port)", "\(clients)", "\(hz)", keepAlive ? "keepalive" : "close"]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// Stops the pollers; returns the answers they got and the requests that failed.
    func stop() -> (answers: Int, errors: Int) {
        try? input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let line = text.split(separator: "\n").last { $0.hasPrefix("answers ") } ?? ""
        let words = line.split(whereSeparator: \.isWhitespace)
        guard words.count == 4, let a = Int(words[1]), let e = Int(words[3]) else { return (0, -1) }
        return (a, e)
    }
}

/// One run's measurements.
private struct PolledRun {
    var rate: Double
    var seconds: Double
    var answers = 0, errors = 0
    /// CPU seconds per second of the run: coordinator thread, simulated workers' thread, the
    /// rest of this process (ZeroMQ I/O threads, HTTP server threads, SQLite), the pollers.
    var coordinator = 0.0, workers = 0.0, rest = 0.0, pollers = 0.0
}

private enum Setting: Int, CaseIterable {
    case noServer, idleServer, polled
    var label: String { ["no server", "idle server", "20 pollers"][rawValue] }
}

/// One sweep of `tasks` no-op tasks in `setting`.
private func polledRun(_ setting: Setting, tasks: Int, keepAlive: Bool) throws -> PolledRun {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let cpu0 = processCPUSeconds(), child0 = processCPUSeconds(children: true), main0 = threadCPUSeconds()
    let coordinator = try ServedCoordinator(tasks: tasks, directory: dir, served: setting != .noServer)
    let pollers = setting == .polled ? try PollerProcess(port: coordinator.port, clients: 20, hz: 10, keepAlive: keepAlive) : nil
    _ = try driveSimulatedWorkers(endpoint: coordinator.endpoint, count: 64, credit: 4)
    let summary = coordinator.wait()
    let main = threadCPUSeconds() - main0
    let (answers, errors) = pollers?.stop() ?? (0, 0)
    let cpu = processCPUSeconds() - cpu0, child = processCPUSeconds(children: true) - child0
    coordinator.stop()
    guard let s = summary, s.done == tasks else { throw BenchError.incomplete("HTTP bench: sweep incomplete") }
    var run = PolledRun(rate: Double(tasks) / s.seconds, seconds: s.seconds, answers: answers, errors: errors)
    run.coordinator = coordinator.threadCPU / s.seconds
    run.workers = main / s.seconds
    run.rest = (cpu - coordinator.threadCPU - main) / s.seconds
    run.pollers = child / s.seconds
    return run
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

/// `terrain-bench http [ROUNDS] [TASKS] [close]`.
func httpBenchmarks(rounds: Int = 9, tasks: Int = 30_000, keepAlive: Bool = true) throws {
    // As `terrain coordinator --http` does: the server's handlers on its event-loop thread.
    let onLoop = WebServer.runConcurrencyOnTheEventLoop()
    let clients = keepAlive ? "keep-alive connections" : "a new TCP connection per request"
    print("""
        HTTP polling: dispatch throughput of no-op probe tasks (64 simulated workers in this process), \(rounds) rounds of \(tasks) tasks;
        each round runs the three settings in rotating order:
          no server    no --http (no server, no metrics observer)
          idle server  --http up (Hummingbird server + metrics observer), no client
          20 pollers   --http up, 20 clients polling /api/status, /api/workers, /metrics at 10 Hz (200 requests/s)
                       from a separate process over \(clients)
        CPU columns: CPU seconds per second of sweep (1.00 = one core) of the coordinator thread, the simulated
        workers' thread, the rest of this process (ZeroMQ I/O, HTTP server, SQLite), and the poller process.
        \(ProcessInfo.processInfo.activeProcessorCount) cores; load average at start: \(loadAverage()); handlers on the event loop: \(onLoop ? "yes" : "no")
        """)
    var runs = [Setting: [PolledRun]]()
    for r in 0 ..< rounds {
        for k in 0 ..< Setting.allCases.count {
            let setting = Setting(rawValue: (r + k) % Setting.allCases.count)!
            runs[setting, default: []].append(try polledRun(setting, tasks: tasks, keepAlive: keepAlive))
        }
    }
    print("  setting       results/s median (min – max)      CPU: coord  workers  rest  pollers   coord µs/result   answers/run  failed")
    for s in Setting.allCases {
        let rs = runs[s] ?? []
        let rates = rs.map(\.rate)
        func med(_ f: (PolledRun) -> Double) -> Double { percentile(rs.map(f), 0.5) }
        print(String(format: "  %@  %8.0f (%6.0f – %6.0f)         %5.2f  %7.2f  %4.2f  %7.2f   %15.1f   %11.0f  %6.0f", s.label.padding(toLength: 12, withPad: " ", startingAt: 0),
                     percentile(rates, 0.5), rates.min() ?? 0, rates.max() ?? 0, med(\.coordinator), med(\.workers), med(\.rest), med(\.pollers),
                     med { 1e6 * $0.coordinator / $0.rate }, med { Double($0.answers) }, med { Double($0.errors) }))
    }
    let base = percentile((runs[.idleServer] ?? []).map(\.rate), 0.5)
    let polled = percentile((runs[.polled] ?? []).map(\.rate), 0.5)
    let bare = percentile((runs[.noServer] ?? []).map(\.rate), 0.5)
    let idle = (runs[.idleServer] ?? []).map(\.rate)
    let halves = (percentile(stride(from: 0, to: idle.count, by: 2).map { idle[$0] }, 0.5), percentile(stride(from: 1, to: idle.count, by: 2).map { idle[$0] }, 0.5))
    print(String(format: "  medians: 20 pollers vs idle server %+.1f %%, idle server vs no server %+.1f %%", 100 * (polled - base) / base, 100 * (base - bare) / bare))
    // Paired within each round (the settings of one round ran back to back): drift cancels.
    func paired(_ a: Setting, _ b: Setting) -> [Double] {
        zip(runs[a] ?? [], runs[b] ?? []).map { 100 * ($0.rate - $1.rate) / $1.rate }
    }
    for (a, b) in [(Setting.polled, Setting.idleServer), (.idleServer, .noServer)] {
        let d = paired(a, b)
        print(String(format: "  paired by round, %@ vs %@: median %+.1f %% (rounds %@)", a.label, b.label, percentile(d, 0.5),
                     d.map { String(format: "%+.0f", $0) }.joined(separator: " ")))
    }
    print(String(format: "  noise floor: idle-server rounds 1,3,5,… vs 2,4,6,…: %+.1f %% (medians %.0f and %.0f)", 100 * (halves.1 - halves.0) / halves.0, halves.0, halves.1))
    print("  load average at end: \(loadAverage())")
}

/// `/proc/loadavg`'s first three fields.
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}
