import Foundation
import Synchronization
import TerrainCoordinator
import TerrainCore
import TerrainSweeps

/// Runs a sweep with `workers` local worker processes (the `terrain` executable beside this
/// one); returns the sweep's seconds (coordinator start to last commit).
func sweepSeconds(_ text: String, workers: Int) throws -> Double {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let spec = try SweepSpec.parse(text, source: "bench-sweep", baseDirectory: dir)
    let endpoint = "ipc://\(dir)/c.sock", dataset = "\(dir)/s.sqlite"
    let coordinator = try Coordinator(spec: spec, options: CoordinatorOptions(endpoints: [endpoint], datasetPath: dataset))
    let terrain = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("terrain").path
    var processes = [Process]()
    for _ in 0..<workers {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: terrain)
        p.arguments = ["worker", "--connect", endpoint, "--give-up-after", "60"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        processes.append(p)
    }
    let summary = try coordinator.run()
    for p in processes { p.waitUntilExit() }
    guard summary.done == summary.total else { throw BenchError.incomplete("\(summary)") }
    return summary.seconds
}

/// Training runs as tasks: the run engine's overhead over a bare training loop (curves,
/// checkpoints, λmax), and lottery levels spread over one and two workers.
func trainingBenchmarks() throws {
    let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("data/mnist1d.npz").path
    let (train, _) = try DataLoader.load(DataSpec(path: data), baseDirectory: "/", seed: 0, as: Float.self)
    let epochs = 10
    let samples = Double(epochs * train.count)
    // Reference: the bare trainer.
    let bare = try bestTime(budget: 2, rounds: 2) {
        let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
        try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 128, epochs: epochs, seed: 0,
                                                                     optimizer: OptimizerSpec(name: .sgd, lr: 0.05, momentum: 0.9))).run()
    }
    func runTask(_ training: String, curvature: String = "") throws -> (seconds: Double, checkpoints: Int) {
        // Checkpoints per run: counted in one run, then the best of timed runs.
        let spec = try SweepSpec.parse("""
        kind: training
        model: {kind: mlp, hidden: [256, 256]}
        data: {path: \(data)}
        training: {optimizer: {name: sgd, momentum: 0.9}, epochs: \(epochs), \(training)}
        grid: {batch_size: [128], lr: [0.05]}
        \(curvature)
        """, source: "bench-run")
        let task = try spec.expand()[0]
        let count = Mutex(0)
        _ = try RunKind().run(task: 1, attempt: 1, params: task.params, inputs: [], context: TaskContext { _, _ in count.withLock { $0 += 1 } })
        let t = try bestTime(budget: 2, rounds: 2) {
            _ = try RunKind().run(task: 1, attempt: 1, params: task.params, inputs: [], context: TaskContext { _, data in _ = data.count })
        }
        return (t, count.withLock { $0 })
    }
    let epochEnds = try runTask("eval_every: 0")
    let dense = try runTask("eval_every: 10, checkpoint_every: 1")
    let lambda = try runTask("eval_every: 0", curvature: "curvature: {lambda_max: true, samples: 1000, iterations: 20}")
    print("training runs (example MLP, batch 128, \(epochs) epochs of 4000 samples, one thread):")
    print(String(format: "  bare Trainer:                              %7.0f samples/s", samples / bare))
    print(String(format: "  run task, curve at epoch ends:             %7.0f samples/s (%.1f%% overhead: train + test evaluation, 5000 samples, per epoch)",
                 samples / epochEnds.seconds, 100 * (epochEnds.seconds / bare - 1)))
    print(String(format: "  run task, curve every 10 steps + %d checkpoints: %7.0f samples/s (%.1f%% overhead)",
                 dense.checkpoints, samples / dense.seconds, 100 * (dense.seconds / bare - 1)))
    print(String(format: "  λmax at the end (1000 samples, 20 HVPs):   %7.2f s", lambda.seconds - epochEnds.seconds))
    let lottery = """
    kind: lottery
    model: {kind: mlp, hidden: [256, 256]}
    data: {path: \(data)}
    training: {optimizer: {name: sgd, lr: 0.1, momentum: 0.9}, batch_size: 128, epochs: 5}
    lottery: {levels: 3, seeds: [0, 1], controls: [random_reinit, random_prune]}
    """
    let one = try sweepSeconds(lottery, workers: 1)
    let two = try sweepSeconds(lottery, workers: 2)
    print("lottery sweep (example MLP, 2 seeds × (dense + 3 levels × 3 branches) = 20 tasks of 5 epochs):")
    print(String(format: "  1 worker:  %5.2f s", one))
    print(String(format: "  2 workers: %5.2f s = %.2f× one worker (chains of 4 levels limit the parallelism at the ends)", two, one / two))
}
