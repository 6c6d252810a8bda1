// terrain-bench profile-eval / profile-train: a fixed amount of ResNet-20 work for perf record.
import Foundation
import TerrainCore

func profileWorkload(_ what: String) throws {
    let spec = ModelSpec(kind: .resnet, channels: [16, 32, 64], inputShape: [3, 32, 32], blocksPerStage: 3)
    let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0)
    if what == "train" {
        let train = cifarShapedData(count: 512, seed: 2)
        let trainer = try Trainer(model: model, train: train, config: TrainingConfig(
            batchSize: 128, epochs: 1000, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: 0.01, momentum: 0.9)))
        for _ in 0..<12 { trainer.trainStep() }
    } else {
        let eval = cifarShapedData(count: 1000, seed: 3)
        for _ in 0..<4 { _ = Evaluator.evaluate(model, on: eval, loss: .crossEntropy) }
    }
}

/// GFLOP/s of each convolution kernel on ResNet-20's layer shapes, batch 128 (diagnostics).
func convLayerFigures() {
    let shapes: [(String, Int, Int, Int, Int, Int)] = [   // name, H, C, O, kernel, stride
        ("stage1 3x3 16->16", 32, 16, 16, 3, 1), ("stage2 3x3 32->32", 16, 32, 32, 3, 1),
        ("stage3 3x3 64->64", 8, 64, 64, 3, 1), ("down 3x3 16->32 s2", 32, 16, 32, 3, 2),
        ("stem 3x3 3->16", 32, 3, 16, 3, 1), ("proj 1x1 16->32 s2", 32, 16, 32, 1, 2),
    ]
    for (name, h, c, o, k, s) in shapes {
        let conv = Conv2d<Float>(inChannels: c, outChannels: o, kernelSize: k, stride: s, padding: k / 2, bias: false)
        var rng = TerrainRNG(seed: 1)
        conv.weight.value.storage = rng.normals(conv.weight.count, std: 0.1)
        let x = Tensor<Float>(shape: [128, h, h, c], storage: rng.normals(128 * h * h * c, std: 1))
        var y = conv.forward(x, context: .train())
        let dy = Tensor<Float>(shape: y.shape, storage: rng.normals(y.count, std: 1))
        let macs = Double(y.count) * Double(c * k * k)
        let fwd = bestTime(budget: 1) { y = conv.forward(x, context: .train()) }
        let bwd = bestTime(budget: 1) { _ = conv.backward(dy) }
        conv.inputGradientNeeded = false
        let wgrad = bestTime(budget: 1) { _ = conv.backward(dy) }
        print(String(format: "%-22@ forward %5.1f GFLOP/s  weight grad %5.1f  input grad %5.1f", name,
                     2 * macs / fwd / 1e9, 2 * macs / wgrad / 1e9, 2 * macs / max(bwd - wgrad, 1e-9) / 1e9))
    }
}

/// A/B: ResNet-20 forward over 1,000 images in evaluation mode with and without the
/// inference folding (BatchNorm into convolutions), alternated (diagnostics).
func foldingAB() throws {
    let spec = ModelSpec(kind: .resnet, channels: [16, 32, 64], inputShape: [3, 32, 32], blocksPerStage: 3)
    let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0)
    let data = cifarShapedData(count: 1000, seed: 3)
    func run(_ context: ForwardContext, _ chunk: Int = 128) -> Double {
        seconds {
            var start = 0
            while start < 1000 {
                _ = model.forward(data.x.rows(start..<min(start + chunk, 1000)), context: context)
                start += chunk
            }
        }
    }
    let chunks = [16, 32, 64, 128, 256]
    for c in chunks { _ = run(.inference, c) }
    var a = [Double](), b = [Double]()
    var t = [[Double]](repeating: [], count: chunks.count)
    for _ in 0..<6 {
        a.append(run(.eval)); b.append(run(.inference))
        for (i, c) in chunks.enumerated() { t[i].append(run(.inference, c)) }
    }
    print(String(format: "eval (unfolded) %.0f samples/s, inference (folded) %.0f samples/s (medians of 6 alternations)",
                 1000 / a.sorted()[3], 1000 / b.sorted()[3]))
    for (i, c) in chunks.enumerated() { print(String(format: "  inference, chunk %4d: %.0f samples/s", c, 1000 / t[i].sorted()[3])) }
}

/// The example MLP: full-train-set evaluations (diagnostics for perf record).
func profileMLP() throws {
    let (train, _) = try DataLoader.load(DataSpec(path: root + "/data/mnist1d.npz"), baseDirectory: "/", seed: 0, as: Float.self)
    let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
    for chunk in [128, 256, 512, 4000] {
        let t = bestTime(budget: 2) { _ = Evaluator.evaluate(model, on: train, loss: .crossEntropy, chunkSize: chunk) }
        print(String(format: "chunk %4d: %.1f points/s", chunk, 1 / t))
    }
}

/// terrain-bench profile-hvp [mlp|resnet20] [rounds]: blocks of Hessian-vector products for
/// perf record, with the seconds per vector printed.
func profileHVP(_ which: String, rounds: Int) throws {
    let model: Model<Float>, data: Dataset<Float>
    if which == "mlp" {
        let (train, _) = try DataLoader.load(DataSpec(path: root + "/data/mnist1d.npz"), baseDirectory: "/", seed: 0, as: Float.self)
        model = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
        data = train
    } else {
        model = try ModelBuilder.build(ModelSpec(kind: .resnet20), dataShape: [3, 32, 32], outputs: 10, seed: 0)
        data = cifarShapedData(count: 256, seed: 3)
    }
    let h = try HessianOperator(model: model, data: data, loss: .crossEntropy)
    var rng = TerrainRNG(seed: 1)
    let block = (0..<BlockHessianProduct<Float>.blockLimit).map { _ in (0..<h.dimension).map { _ in rng.normal() } }
    _ = h.products(block)
    let start = Date()
    for _ in 0..<rounds { _ = h.products(block) }
    let seconds = Date().timeIntervalSince(start) / Double(rounds * block.count)
    let single = Date()
    for _ in 0..<rounds { _ = h.product(block[0]) }
    let one = Date().timeIntervalSince(single) / Double(rounds)
    print(String(format: "%@: block of %d %.4f s per vector (%.2f HVP/s), one vector %.4f s (%.2f HVP/s), chunk %d, "
                 + "base passes %.2f GB (kept: %@)", which, block.count, seconds, 1 / seconds, one, 1 / one,
                 h.engine?.chunkSize ?? 0, Double(h.engine?.basePassBytes ?? 0) / 1e9, h.engine?.keepsBasePasses == true ? "yes" : "no"))
}
