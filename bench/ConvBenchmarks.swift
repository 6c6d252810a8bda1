// Convolutional networks at CIFAR shape, one thread: the figures issue 9 set against PyTorch
// (bench/pytorch_reference.py prints the same workloads).
//
//   ResNet-20 training samples/s   batch 128, SGD with momentum, random CIFAR-shaped data
//   evaluation samples/s           over 1,000 images, evaluation mode
//   surface points/s               one loss-surface point = set θ + α·d1 + β·d2, evaluate 1,000 images
//   BatchNorm statistics samples/s the per-point pass of `batch_norm: recompute` (training-mode
//                                  forward, no gradients, cumulative average) over 1,000 images
//   GFLOP/s and % of sgemm         2 × multiply-accumulates per image / time, against OpenBLAS's
//                                  single-thread 1024³ sgemm measured in the same run
import CBLAS
import Foundation
import TerrainCore

/// Random CIFAR-shaped data: `count` images `[3, 32, 32]`, 10 classes.
func cifarShapedData(count: Int, seed: UInt64) -> Dataset<Float> {
    var rng = TerrainRNG(seed: seed)
    let x = Tensor<Float>(shape: [count, 3, 32, 32], storage: rng.normals(count * 3072, std: 1))
    let y = (0..<count).map { _ in Int(rng.next() % 10) }
    return Dataset(x: x, y: .classes(y), classes: 10)
}

/// sgemm 1024³ through OpenBLAS (one thread) and through Terrain's GEMM, GFLOP/s.
func sgemmPeaks() -> (openblas: Double, terrain: Double) {
    let n = 1024
    var rng = TerrainRNG(seed: 1)
    let a: [Float] = rng.normals(n * n, std: 1), b: [Float] = rng.normals(n * n, std: 1)
    var c = [Float](repeating: 0, count: n * n)
    openblas_set_num_threads(1)
    let blas = bestTime(budget: 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
    let ours = bestTime(budget: 2) {
        Kernels.gemm(transA: false, transB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n, accumulate: false)
    }
    let flops = 2 * Double(n * n * n) / 1e9
    return (flops / blas, flops / ours)
}

struct ConvFigures {
    var trainSamples: Double, evalSamples: Double, surfacePoints: Double, statisticsSamples: Double, macs: Int
}

/// Training, evaluation and surface-point throughput of one model spec on CIFAR-shaped data.
func convFigures(_ spec: ModelSpec, trainSteps: Int = 4) throws -> ConvFigures {
    let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0)
    let train = cifarShapedData(count: 128 * trainSteps, seed: 2)
    let trainer = try Trainer(model: model, train: train, config: TrainingConfig(
        batchSize: 128, epochs: 1000, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: 0.01, momentum: 0.9)))
    let trainTime = bestTime(budget: 6, rounds: 2) { for _ in 0..<trainSteps { trainer.trainStep() } }
    let eval = cifarShapedData(count: 1000, seed: 3)
    let evalTime = bestTime(budget: 4, rounds: 2) { _ = Evaluator.evaluate(model, on: eval, loss: .crossEntropy) }
    let space = ParameterSpace(model)
    let centre = space.values()
    let d1 = Directions.random(layout: space.layout, center: centre, seed: 1, normalization: .filter, oneDimensional: .ignore)
    let d2 = Directions.random(layout: space.layout, center: centre, seed: 2, normalization: .filter, oneDimensional: .ignore)
    var point = 0
    let pointTime = bestTime(budget: 4, rounds: 2) {
        let a = Double(point % 7) * 0.1 - 0.3, b = Double(point % 5) * 0.1 - 0.2
        point += 1
        space.setValues(Directions.point(center: centre, d1, a, d2, b))
        _ = Evaluator.evaluate(model, on: eval, loss: .crossEntropy)
    }
    space.setValues(centre)
    let statisticsTime = bestTime(budget: 4, rounds: 2) { Evaluator.recomputeBatchNormStatistics(model, on: eval, batchSize: 128) }
    return ConvFigures(trainSamples: Double(128 * trainSteps) / trainTime, evalSamples: 1000 / evalTime,
                       surfacePoints: 1 / pointTime, statisticsSamples: 1000 / statisticsTime, macs: model.multiplyAccumulatesPerSample)
}

/// The conv-net presets measured by `terrain-bench conv` (name, spec, PyTorch workload).
let convPresets: [(name: String, spec: ModelSpec)] = [
    ("resnet20", ModelSpec(kind: .resnet20)),
    ("resnet56", ModelSpec(kind: .resnet56)),
    ("vgg9", ModelSpec(kind: .vgg9)),
]

func convBenchmarks(only: String? = nil) throws {
    let peaks = sgemmPeaks()
    print(String(format: "sgemm 1024³ (one thread, %@): OpenBLAS %.1f GFLOP/s, Terrain's GEMM %.1f GFLOP/s (%.0f%%)",
                 cpuName, peaks.openblas, peaks.terrain, 100 * peaks.terrain / peaks.openblas))
    for (name, spec) in convPresets where only == nil || only == name {
        var last: ConvFigures?
        try sideBySide("\(name) on CIFAR-shaped data", figures: [
            Figure(label: "training, batch 128", unit: "samples/s", pytorchKey: "\(name)_train_samples_per_s"),
            Figure(label: "evaluation of 1,000 images", unit: "samples/s", pytorchKey: "\(name)_eval_samples_per_s"),
            Figure(label: "surface points over 1,000 images", unit: "points/s", pytorchKey: "\(name)_surface_points_per_s"),
            Figure(label: "BatchNorm statistics pass (recompute)", unit: "samples/s", pytorchKey: "\(name)_bn_statistics_samples_per_s"),
        ], workload: name) {
            let f = try convFigures(spec)
            last = f
            return [f.trainSamples, f.evalSamples, f.surfacePoints, f.statisticsSamples]
        }
        if let f = last {
            let train = f.trainSamples * 6 * Double(f.macs) / 1e9, eval = f.evalSamples * 2 * Double(f.macs) / 1e9
            print(String(format: "  %.1f MFLOP per image; last round achieved: training %.1f GFLOP/s (%.0f%% of sgemm), evaluation %.1f GFLOP/s (%.0f%%)",
                         2 * Double(f.macs) / 1e6, train, 100 * train / peaks.openblas, eval, 100 * eval / peaks.openblas))
        }
    }
}
