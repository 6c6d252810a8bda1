// Curvature speed: Hessian-vector products per second, Terrain beside PyTorch's double
// backprop (bench/pytorch_reference.py --workload hvp / hvp-resnet20), one thread, and the
// accuracy of the Float32 R-operator against the Float64 finite-difference path.
//
//   terrain-bench curvature          the example MLP (4,000 MNIST-1D samples) and ResNet-20 (256 images)
//   terrain-bench curvature mlp      the MLP only
import Foundation
import TerrainCore

func curvatureBenchmarks(only: String?) throws {
    try mlpCurvature()
    if only != "mlp" { try resnetCurvature() }
}

/// The example MLP, briefly trained (curvature at a trained point, as a user measures it).
private func trainedExampleMLP() throws -> (Model<Float>, Dataset<Float>) {
    let (train, _) = try DataLoader.load(DataSpec(path: root + "/data/mnist1d.npz"), baseDirectory: "/", seed: 0, as: Float.self)
    let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
    try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 128, epochs: 2, seed: 0,
                                                                   optimizer: OptimizerSpec(name: .sgd, lr: 0.05, momentum: 0.9))).run()
    return (model, train)
}

private func mlpCurvature() throws {
    let (model, train) = try trainedExampleMLP()
    let fast = try HessianOperator(model: model, data: train, loss: .crossEntropy)
    let slow = try HessianOperator(model: model, data: train, loss: .crossEntropy, method: .differences)
    var rng = TerrainRNG(seed: 1)
    let block = (0..<BlockHessianProduct<Float>.blockLimit).map { _ in (0..<fast.dimension).map { _ in rng.normal() } }
    try sideBySide("Hessian-vector products, example MLP 40-256-256-10, 4,000 MNIST-1D samples", figures: [
        Figure(label: "block of \(block.count) in passes of \(fast.engine?.passWidth ?? 0) (per vector)", unit: "HVP/s", pytorchKey: "mlp_hvp_per_s"),
        Figure(label: "one vector, R-operator Float32", unit: "HVP/s", pytorchKey: "mlp_hvp_per_s"),
        Figure(label: "Float64 central differences (oracle)", unit: "HVP/s", pytorchKey: "mlp_hvp_per_s"),
    ], workload: "hvp", rounds: 5) {
        let blockTime = bestTime(budget: 3) { _ = fast.products(block) }
        let oneTime = bestTime(budget: 3) { _ = fast.product(block[0]) }
        let slowTime = bestTime(budget: 3) { _ = slow.product(block[0]) }
        return [Double(block.count) / blockTime, 1 / oneTime, 1 / slowTime]
    }
    // Accuracy against the Float64 path: the same Lanczos start vectors and Hutchinson probes.
    let steps = 40, probes = 16
    let lf = fast.largestEigenvalue(steps: steps, seed: 0), ls = slow.largestEigenvalue(steps: steps, seed: 0)
    let indices = (0..<UInt64(probes)).map { $0 }
    let tf = fast.hutchinsonSamples(seed: 0, indices: indices).reduce(0, +) / Double(probes)
    let ts = slow.hutchinsonSamples(seed: 0, indices: indices).reduce(0, +) / Double(probes)
    let mf = fast.smallestEigenvalue(steps: steps, seed: 0), ms = slow.smallestEigenvalue(steps: steps, seed: 0)
    print(String(format: "  accuracy, Float32 R-operator vs Float64 differences (same probes): λ_max %.6g vs %.6g (%.1e relative), "
                 + "λ_min %.4g vs %.4g, Hutchinson trace (%d probes) %.6g vs %.6g (%.1e relative)",
                 lf, ls, abs(lf - ls) / abs(ls), mf, ms, probes, tf, ts, abs(tf - ts) / abs(ts)))
}

private func resnetCurvature() throws {
    let data = cifarShapedData(count: 256, seed: 3)
    let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet20), dataShape: [3, 32, 32], outputs: 10, seed: 0)
    let fast = try HessianOperator(model: model, data: data, loss: .crossEntropy)
    let slow = try HessianOperator(model: model, data: data, loss: .crossEntropy, method: .differences)
    var rng = TerrainRNG(seed: 1)
    let block = (0..<BlockHessianProduct<Float>.blockLimit).map { _ in (0..<fast.dimension).map { _ in rng.normal() } }
    try sideBySide("Hessian-vector products, ResNet-20 (eval mode), 256 random CIFAR-shaped images", figures: [
        Figure(label: "block of \(block.count) in passes of \(fast.engine?.passWidth ?? 0) (per vector)", unit: "HVP/s", pytorchKey: "resnet20_hvp_per_s"),
        Figure(label: "one vector, R-operator Float32", unit: "HVP/s", pytorchKey: "resnet20_hvp_per_s"),
        Figure(label: "Float64 central differences (oracle)", unit: "HVP/s", pytorchKey: "resnet20_hvp_per_s"),
    ], workload: "hvp-resnet20") {
        let blockTime = bestTime(budget: 4, rounds: 2) { _ = fast.products(block) }
        let oneTime = bestTime(budget: 2, rounds: 2) { _ = fast.product(block[0]) }
        let slowTime = bestTime(budget: 1, rounds: 1) { _ = slow.product(block[0]) }
        return [Double(block.count) / blockTime, 1 / oneTime, 1 / slowTime]
    }
    // Accuracy against the Float64 path: the same Lanczos start vector and Hutchinson probes.
    let steps = 20, probes = 8
    let lf = fast.largestEigenvalue(steps: steps, seed: 0), ls = slow.largestEigenvalue(steps: steps, seed: 0)
    let indices = (0..<UInt64(probes)).map { $0 }
    let tf = fast.hutchinsonSamples(seed: 0, indices: indices).reduce(0, +) / Double(probes)
    let ts = slow.hutchinsonSamples(seed: 0, indices: indices).reduce(0, +) / Double(probes)
    print(String(format: "  accuracy, Float32 R-operator vs Float64 differences (same vectors): λ_max %.6g vs %.6g (%.1e relative), "
                 + "Hutchinson trace (%d probes) %.6g vs %.6g (%.1e relative)",
                 lf, ls, abs(lf - ls) / abs(ls), probes, tf, ts, abs(tf - ts) / abs(ts)))
}
