// Core benchmarks: throughput of the training core on this machine, one thread.
//
// Prints: sgemm peak (1024³), MLP 40-256-256-10 training samples/s at batch 128 and the
// achieved GFLOP/s, full-train-set evaluation passes/s on MNIST-1D (4000 samples: one
// loss-surface grid point), and Hessian-vector products/s over the same 4000 samples.
import CBLAS
import Foundation
import TerrainCore

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
}

/// Runs `body` repeatedly for at least `budget` seconds (after one warm-up call) and
/// returns the best per-call time of several timed rounds.
func bestTime(budget: Double = 1.0, rounds: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var best = Double.infinity
    for _ in 0..<rounds {
        var calls = 0
        var elapsed = 0.0
        while elapsed < budget / Double(rounds) {
            elapsed += try seconds(body)
            calls += 1
        }
        best = min(best, elapsed / Double(calls))
    }
    return best
}

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path

func coreBenchmarks() throws {
    let peaks = sgemmPeaks()
    print(String(format: "sgemm 1024³ (one thread, %@): OpenBLAS %.1f GFLOP/s (peak reference), Terrain's GEMM %.1f GFLOP/s (%.0f%%)",
                 cpuName, peaks.openblas, peaks.terrain, 100 * peaks.terrain / peaks.openblas))
    let spec = DataSpec(path: root + "/data/mnist1d.npz")
    let (train, _) = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
    let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
    let macs = Double(model.multiplyAccumulatesPerSample)
    let trainer = try Trainer(model: model, train: train, config: TrainingConfig(
        batchSize: 128, epochs: 1000, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: 0.01, momentum: 0.9)))
    let hessian = try HessianOperator(model: model, data: train, loss: .crossEntropy)
    var rng = TerrainRNG(seed: 1)
    let v = (0..<hessian.dimension).map { _ in rng.normal() }
    var gflops = (train: 0.0, eval: 0.0)
    try sideBySide("Example MLP 40-256-256-10 on MNIST-1D", figures: [
        Figure(label: "training, batch 128", unit: "samples/s", pytorchKey: "mlp_train_samples_per_s"),
        Figure(label: "evaluation of 4,000 samples", unit: "points/s", pytorchKey: "mlp_eval_points_per_s"),
        Figure(label: "Hessian-vector products, 4,000 samples", unit: "HVP/s", pytorchKey: "mlp_hvp_per_s"),
    ], workload: "mlp") {
        let steps = 64
        let trainTime = bestTime(budget: 3) { for _ in 0..<steps { trainer.trainStep() } }
        let evalTime = bestTime(budget: 3) { _ = Evaluator.evaluate(model, on: train, loss: .crossEntropy) }
        let hvpTime = bestTime(budget: 3) { _ = hessian.product(v) }
        let samples = Double(steps * 128) / trainTime
        gflops = (samples * 6 * macs / 1e9, Double(train.count) * 2 * macs / evalTime / 1e9)
        return [samples, 1 / evalTime, 1 / hvpTime]
    }
    print(String(format: "  achieved: training %.1f GFLOP/s (%.0f%% of sgemm), evaluation %.1f GFLOP/s (%.0f%%); HVPs by %@ (terrain-bench curvature: blocks, PyTorch side by side)",
                 gflops.train, 100 * gflops.train / peaks.openblas, gflops.eval, 100 * gflops.eval / peaks.openblas, hessian.method))
}
