// Runtime benchmarks: no-op task throughput through the whole path (dispatch, result,
// durable SQLite commit, ack) with real `terrain worker` processes (1, 2, 64) and with
// simulated workers (in-process DEALER sockets: 64 and 1000), plus the coordinator's
// dispatch latency seen by a worker (result sent → next task received, p50/p99).
import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainSweeps
import TerrainWire

/// Runs a coordinator for a no-op probe sweep on a background thread.
final class BackgroundCoordinator: @unchecked Sendable {
    let endpoint: String
    let dataset: String
    private let done = DispatchSemaphore(value: 0)
    private(set) var summary: CoordinatorSummary?
    private(set) var seconds = 0.0

    init(tasks: Int, directory: String) throws {
        endpoint = "ipc://\(directory)/c.sock"
        dataset = "\(directory)/bench.sqlite"
        let spec = try SweepSpec.parse("kind: probe\nprobe: {tasks: \(tasks), payload_bytes: 16}\nruntime: {heartbeat_ms: 1000, liveness: 30}\n",
                                       source: "bench")
        let endpoint = self.endpoint, dataset = self.dataset
        let thread = Thread { [self] in
            do {
                let c = try Coordinator(spec: spec, options: CoordinatorOptions(endpoints: [endpoint], datasetPath: dataset))
                self.summary = try c.run()
                self.seconds = self.summary!.seconds
            } catch {
                print("coordinator failed: \(error)")
            }
            self.done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        // Wait for the socket to exist.
        let path = String(endpoint.dropFirst("ipc://".count))
        while !FileManager.default.fileExists(atPath: path) { usleep(1000) }
    }

    func wait() { done.wait() }
}

func temporaryDirectory() throws -> String {
    let dir = "/tmp/tb-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// No-op throughput with real worker processes.
func processThroughput(workers: Int, tasks: Int) throws -> Double {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let coordinator = try BackgroundCoordinator(tasks: tasks, directory: dir)
    let terrain = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("terrain").path
    var processes = [Process]()
    for _ in 0..<workers {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: terrain)
        p.arguments = ["worker", "--connect", coordinator.endpoint, "--prefetch", "4", "--give-up-after", "60"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        processes.append(p)
    }
    coordinator.wait()
    for p in processes { p.waitUntilExit() }
    guard let s = coordinator.summary, s.done == tasks else { throw BenchError.incomplete("\(String(describing: coordinator.summary))") }
    return Double(tasks) / coordinator.seconds
}

enum BenchError: Error { case incomplete(String) }

/// Simulated workers: `count` DEALER sockets driven by one thread, each answering every task
/// at once. Returns (results/s, dispatch latencies in seconds).
func simulatedThroughput(workers count: Int, tasks: Int, credit: UInt64) throws -> (rate: Double, latencies: [Double]) {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let coordinator = try BackgroundCoordinator(tasks: tasks, directory: dir)
    let context = try ZMQContext()
    var sockets = [ZMQSocket]()
    for i in 0..<count {
        let s = try ZMQSocket(context, .dealer)
        try s.setRoutingID(Array("sim-\(i)".utf8))
        try s.setReceiveHighWaterMark(0)
        try s.setSendHighWaterMark(0)
        try s.connect(coordinator.endpoint)
        _ = try s.send(WireCodec.encode(.hello(WorkerHello(worker: "sim-\(i)", host: "bench", pid: UInt64(getpid()), kinds: ["probe"], slots: 1))))
        sockets.append(s)
    }
    var sentAt = [Double](repeating: 0, count: count)
    var latencies = [Double]()
    latencies.reserveCapacity(tasks)
    let output = [UInt8](repeating: 7, count: 16)
    let clock = { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
    var finished = 0
    while finished < count {
        let readable = try ZMQPoller.poll(sockets, timeoutMilliseconds: 1000)
        for (i, ok) in readable.enumerated() where ok {
            while let frames = try sockets[i].receive(dontWait: true) {
                guard let m = try? WireCodec.decode(frames) else { continue }
                switch m {
                case .welcome:
                    _ = try sockets[i].send(WireCodec.encode(.ready(credit: credit)))
                    sentAt[i] = clock()
                case .task(let t):
                    if sentAt[i] > 0 { latencies.append(clock() - sentAt[i]) }
                    _ = try sockets[i].send(WireCodec.encode(.result(TaskResult(task: t.task, attempt: t.attempt, output: output, credit: 1, lease: t.lease))))
                    sentAt[i] = clock()
                case .done:
                    finished += 1
                default: break
                }
            }
        }
        if !readable.contains(true) && coordinatorFinished(coordinator) { break }
    }
    for s in sockets { s.close() }
    coordinator.wait()
    guard let s = coordinator.summary, s.done == tasks else { throw BenchError.incomplete("\(String(describing: coordinator.summary))") }
    return (Double(tasks) / coordinator.seconds, latencies)
}

private func coordinatorFinished(_ c: BackgroundCoordinator) -> Bool { c.summary != nil }

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

func runtimeBenchmarks() throws {
    print("runtime (no-op probe tasks, every result committed to SQLite with synchronous=FULL before its ack):")
    for (workers, tasks) in [(1, 20_000), (2, 40_000), (64, 60_000)] {
        let rate = try processThroughput(workers: workers, tasks: tasks)
        print(String(format: "  %4d worker processes:   %8.0f durable results/s  (%d tasks)", workers, rate, tasks))
    }
    for (workers, tasks, credit) in [(64, 200_000, UInt64(4)), (1000, 200_000, UInt64(2))] {
        let (rate, latencies) = try simulatedThroughput(workers: workers, tasks: tasks, credit: credit)
        print(String(format: "  %4d simulated workers:  %8.0f durable results/s  (%d tasks); dispatch latency p50 %.2f ms, p99 %.2f ms",
                     workers, rate, tasks, 1000 * percentile(latencies, 0.5), 1000 * percentile(latencies, 0.99)))
    }
    print("  (targets: ≥ 20,000 durable results/s and 1,000 connected workers; Ray ≈7.7k tasks/s single client, Optuna+SQLite tens of trials/s)")
}

// MARK: Surface grid throughput

/// Grid points per second for the example MLP on the full MNIST-1D training set (4000
/// samples, train loss and accuracy per point) with real worker processes.
func surfaceThroughput(workers: Int, checkpoint: String, grid: Int) throws -> Double {
    let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("data/mnist1d.npz").path
    let text = """
    kind: surface
    model: {kind: mlp, hidden: [256, 256]}
    data: {path: \(data)}
    surface: {checkpoint: \(checkpoint), x: "-1:1:\(grid)", y: "-1:1:\(grid)", sets: [train], tile: 32}
    """
    return Double(grid * grid) / (try sweepSeconds(text, workers: workers))
}

func surfaceBenchmarks() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    let (train, _) = try DataLoader.load(DataSpec(path: root.appendingPathComponent("data/mnist1d.npz").path), baseDirectory: "/", seed: 0, as: Float.self)
    let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
    try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 128, epochs: 3, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: 0.1, momentum: 0.9))).run()
    let checkpoint = dir + "/centre.safetensors"
    try Checkpoint.save(model: model, step: 0, to: checkpoint)
    // The task runner alone, in this process: one 64-point tile.
    let spec = try SweepSpec.parse("""
    kind: surface
    model: {kind: mlp, hidden: [256, 256]}
    data: {path: \(root.appendingPathComponent("data/mnist1d.npz").path)}
    surface: {checkpoint: \(checkpoint), x: "-1:1:8", y: "-1:1:8", sets: [train], tile: 64}
    """, source: "bench", baseDirectory: dir)
    let task = try spec.expand()[0]
    let runner = SurfaceKind()
    let inputs = task.inputs.map { TaskInput(task: 0, name: $0.name, data: $0.data) }
    _ = try runner.run(task: 1, attempt: 1, params: task.params, inputs: inputs)
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = try runner.run(task: 1, attempt: 1, params: task.params, inputs: inputs)
    let inProcess = 64 / (Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    let one = try surfaceThroughput(workers: 1, checkpoint: checkpoint, grid: 31)
    let two = try surfaceThroughput(workers: 2, checkpoint: checkpoint, grid: 31)
    print("surface grid (example MLP, 4000 training samples per point, 31×31 grid, coordinator on the same 2 cores):")
    print(String(format: "  task runner in-process: %6.1f points/s", inProcess))
    print(String(format: "  1 worker:  %6.1f points/s   (PyTorch 1 thread ≈72 points/s; target ≥ 115 per worker)", one))
    print(String(format: "  2 workers: %6.1f points/s   = %.2f× one worker (target ≥ 1.8×)", two, two / one))
}
