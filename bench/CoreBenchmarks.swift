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

    // 1. sgemm peak.
    let n = 1024
    var a = [Float](repeating: 0, count: n * n), b = a, c = a
    var rng = TerrainRNG(seed: 1)
    for i in 0..<(n * n) { a[i] = Float(rng.normal()); b[i] = Float(rng.normal()) }
    let gemmTime = bestTime(budget: 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
    let peak = 2 * Double(n * n * n) / gemmTime / 1e9
    print(String(format: "sgemm 1024³:                 %8.1f GFLOP/s (peak reference)", peak))

    // 2. MLP training.
    let spec = DataSpec(path: root + "/data/mnist1d.npz")
    let (train, _) = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
    let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
    let macsPerSample = 40.0 * 256 + 256 * 256 + 256 * 10
    let config = TrainingConfig(batchSize: 128, epochs: 1000, seed: 0,
                                optimizer: OptimizerSpec(name: .sgd, lr: 0.01, momentum: 0.9))
    let trainer = try Trainer(model: model, train: train, config: config)
    let steps = 64
    let trainTime = bestTime(budget: 3) { for _ in 0..<steps { trainer.trainStep() } }
    let samplesPerSecond = Double(steps * 128) / trainTime
    let trainFlops = samplesPerSecond * 6 * macsPerSample / 1e9
    print(String(format: "MLP training (batch 128):    %8.0f samples/s  %6.1f GFLOP/s  (%4.1f%% of peak; PyTorch ref ≈86k/s, target ≥112k/s)",
                 samplesPerSecond, trainFlops, 100 * trainFlops / peak))

    // 3. Evaluation passes over the 4000 training samples.
    let evalTime = bestTime(budget: 3) { _ = Evaluator.evaluate(model, on: train, loss: .crossEntropy) }
    let evalFlops = Double(train.count) * 2 * macsPerSample / evalTime / 1e9
    print(String(format: "evaluation (4000 samples):   %8.1f points/s   %6.1f GFLOP/s  (%4.1f%% of peak; PyTorch ref ≈72/s, target ≥115/s)",
                 1 / evalTime, evalFlops, 100 * evalFlops / peak))

    // 4. Hessian-vector products over the same 4000 samples.
    let hessian = try HessianOperator(model: model, data: train, loss: .crossEntropy)
    let v = (0..<hessian.dimension).map { _ in rng.normal() }
    let hvpTime = bestTime(budget: 4) { _ = hessian.product(v) }
    print(String(format: "Hessian-vector products:     %8.2f HVP/s     (Float64 central differences; PyTorch ref ≈10.6/s, target ≥21/s)", 1 / hvpTime))
}
