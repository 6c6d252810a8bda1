import Foundation
import TerrainCore
import XCTest

/// Safetensors checkpoints: round trips, PyTorch names, errors, and reading from Python.
final class CheckpointTests: XCTestCase {
    private var tmp: String { NSTemporaryDirectory() + "terrain-ckpt-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue).safetensors" }

    func testCheckpointRoundTripsBitIdenticallyWithOptimizerState() throws {
        let spec = ModelSpec(kind: .resnet, channels: [4, 8], inputShape: [1, 40], kernelSize: 3)
        let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 1)
        let (train, _) = try TestSupport.mnist1d()
        let trainer = try Trainer(model: model, train: train.prefix(256),
                                  config: TrainingConfig(batchSize: 64, epochs: 1, seed: 0, optimizer: OptimizerSpec(name: .sgd, lr: 0.1, momentum: 0.9)))
        try trainer.run()
        let path = tmp
        defer { remove(path) }
        try Checkpoint.save(model: model, optimizer: trainer.optimizer, step: trainer.step, to: path)
        // The weights file is the model's tensors alone; the optimizer state is beside it.
        XCTAssertEqual(Set(try SafeTensors.read(contentsOf: path).tensors.keys), Set(Checkpoint.tensors(model: model).keys))
        let (state, stateMeta) = try SafeTensors.read(contentsOf: Checkpoint.optimizerStatePath(for: path))
        XCTAssertEqual(Set(state.keys), Set(trainer.optimizer.state.map(\.name)))
        XCTAssertEqual(stateMeta["terrain.kind"], "optimizer-state")

        let other: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 2)
        let otherOptimizer = OptimizerSpec(name: .sgd, lr: 0.1, momentum: 0.9).make(for: other.parameters)
        let info = try Checkpoint.load(path, into: other, optimizer: otherOptimizer)
        XCTAssertEqual(info.step, 4)
        for (a, b) in zip(model.parameters, other.parameters) { XCTAssertEqual(a.value.storage, b.value.storage, a.name) }
        for (a, b) in zip(model.namedBuffers, other.namedBuffers) { XCTAssertEqual(a.tensor.storage, b.tensor.storage, a.name) }
        XCTAssertEqual(trainer.optimizer.state.map(\.tensor), otherOptimizer.state.map(\.tensor))
        // Writing the loaded model again gives the same bytes.
        let path2 = path + ".2"
        defer { remove(path2) }
        try Checkpoint.save(model: other, optimizer: otherOptimizer, step: info.step, to: path2)
        XCTAssertEqual(FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: path2))
    }

    private func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: Checkpoint.optimizerStatePath(for: path))
    }

    func testOptimizerStateFileIsNamedBesideTheWeights() {
        XCTAssertEqual(Checkpoint.optimizerStatePath(for: "out/run.safetensors"), "out/run.optimizer.safetensors")
        XCTAssertEqual(Checkpoint.optimizerStatePath(for: "out/run.epoch3.safetensors"), "out/run.epoch3.optimizer.safetensors")
        XCTAssertEqual(Checkpoint.optimizerStatePath(for: "weights.bin"), "weights.bin.optimizer.safetensors")
    }

    /// Resuming needs the state written with these weights: a missing state file, or one
    /// written with other weights, is refused naming the files; the weights alone still load.
    func testResumingChecksTheOptimizerStateBelongsToTheWeights() throws {
        let spec = ModelSpec(kind: .mlp, hidden: [8])
        let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 1)
        let optimizer = OptimizerSpec(name: .adam, lr: 0.01).make(for: model.parameters)
        for p in model.parameters { p.grad = TestSupport.randomTensor(p.shape, seed: 3) }
        optimizer.step(lr: 0.01)
        let path = tmp, other = tmp + ".other"
        defer { remove(path); remove(other) }
        try Checkpoint.save(model: model, optimizer: optimizer, step: 1, to: path)
        try Checkpoint.save(model: model, optimizer: optimizer, step: 2, to: other)
        let fresh: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 2)
        let freshOptimizer = OptimizerSpec(name: .adam, lr: 0.01).make(for: fresh.parameters)
        // The state of the step-2 checkpoint put beside the step-1 weights.
        try FileManager.default.removeItem(atPath: Checkpoint.optimizerStatePath(for: path))
        try FileManager.default.copyItem(atPath: Checkpoint.optimizerStatePath(for: other), toPath: Checkpoint.optimizerStatePath(for: path))
        XCTAssertThrowsError(try Checkpoint.load(path, into: fresh, optimizer: freshOptimizer)) { error in
            XCTAssertTrue("\(error)".contains("belongs to other weights"), "\(error)")
            XCTAssertTrue("\(error)".contains(Checkpoint.optimizerStatePath(for: path)), "\(error)")
        }
        try FileManager.default.removeItem(atPath: Checkpoint.optimizerStatePath(for: path))
        XCTAssertThrowsError(try Checkpoint.load(path, into: fresh, optimizer: freshOptimizer)) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertEqual(try Checkpoint.load(path, into: fresh).step, 1)
        XCTAssertEqual(fresh.parameters.map(\.value), model.parameters.map(\.value))
        // The state file is not a model.
        XCTAssertThrowsError(try Checkpoint.load(Checkpoint.optimizerStatePath(for: other), into: fresh)) { error in
            XCTAssertTrue("\(error)".contains("optimizer state"), "\(error)")
        }
    }

    /// Checkpoints written before the optimizer state moved out of the weights file (under
    /// `optimizer.<parameter>.<slot>`) still load: the model ignores those tensors, resuming uses them.
    func testOlderCheckpointsWithOptimizerStateInsideStillLoadAndResume() throws {
        let spec = ModelSpec(kind: .mlp, hidden: [8])
        let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 1)
        let optimizer = OptimizerSpec(name: .sgd, lr: 0.1, momentum: 0.9).make(for: model.parameters)
        for p in model.parameters { p.grad = TestSupport.randomTensor(p.shape, seed: 4) }
        optimizer.step(lr: 0.1)
        let path = tmp
        defer { remove(path) }
        let old = Checkpoint.tensors(model: model, optimizer: optimizer)
        XCTAssertTrue(old.keys.contains("optimizer.layers.0.weight.momentum_buffer"), "\(old.keys.sorted())")
        try SafeTensors.write(old, metadata: ["format": "pt", "terrain.step": "5"], to: path)
        let fresh: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 2)
        XCTAssertEqual(try Checkpoint.load(path, into: fresh).step, 5)
        XCTAssertEqual(fresh.parameters.map(\.value), model.parameters.map(\.value))
        let freshOptimizer = OptimizerSpec(name: .sgd, lr: 0.1, momentum: 0.9).make(for: fresh.parameters)
        try Checkpoint.load(path, into: fresh, optimizer: freshOptimizer)
        XCTAssertEqual(freshOptimizer.state.map(\.tensor), optimizer.state.map(\.tensor))
    }

    func testCheckpointUsesPyTorchNamesAndShapes() throws {
        let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
        let tensors = Checkpoint.tensors(model: model)
        XCTAssertEqual(Set(tensors.keys), ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"])
        XCTAssertEqual(tensors["layers.0.weight"]?.shape, [256, 40])
        XCTAssertEqual(tensors["layers.0.weight"]?.dtype, "F32")
        let resnet: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet, channels: [4, 8], inputShape: [1, 40]), dataShape: [40], outputs: 10, seed: 0)
        let names = Set(Checkpoint.tensors(model: resnet).keys)
        // 0 Unflatten, 1 stem conv, 2 BN, 3 ReLU, 4 block 4→4 (identity shortcut), 5 block 4→8 (projection), 6 pool, 7 head.
        for expected in ["layers.2.running_mean", "layers.2.num_batches_tracked", "layers.4.conv1.weight", "layers.4.bn2.bias",
                         "layers.5.shortcut.0.weight", "layers.5.shortcut.1.running_var", "layers.7.weight"] {
            XCTAssertTrue(names.contains(expected), "missing \(expected) in \(names.sorted())")
        }
        XCTAssertEqual(Checkpoint.tensors(model: resnet)["layers.2.num_batches_tracked"]?.dtype, "I64")
        XCTAssertFalse(names.contains("layers.4.shortcut.0.weight"))
    }

    func testLoadingAMismatchedOrDamagedCheckpointFailsClearly() throws {
        let small: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8]), dataShape: [40], outputs: 10, seed: 0)
        let path = tmp
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model: small, step: 0, to: path)
        let big: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [16]), dataShape: [40], outputs: 10, seed: 0)
        XCTAssertThrowsError(try Checkpoint.load(path, into: big)) { error in
            XCTAssertTrue("\(error)".contains("layers.0.weight has shape [8, 40], the model expects [16, 40]"), "\(error)")
            XCTAssertTrue("\(error)".contains("layers.2.weight has shape [10, 8], the model expects [10, 16]"), "\(error)")
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
        // Missing and unexpected tensors are listed together, with their shapes.
        var renamed = try SafeTensors.read(contentsOf: path).tensors
        renamed["module.layers.0.bias"] = renamed.removeValue(forKey: "layers.0.bias")
        XCTAssertThrowsError(try Checkpoint.apply(renamed, source: "renamed.safetensors", to: small)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("renamed.safetensors"), text)
            XCTAssertTrue(text.contains("1 missing: layers.0.bias [8]"), text)
            XCTAssertTrue(text.contains("1 unexpected: module.layers.0.bias [8]"), text)
        }
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        for cut in [3, 20, bytes.count - 5] {
            XCTAssertThrowsError(try SafeTensors.decode(Array(bytes[0..<cut]), source: "cut.safetensors")) { error in
                XCTAssertTrue("\(error)".contains("cut.safetensors"), "\(error)")
            }
        }
        XCTAssertThrowsError(try Checkpoint.load("/nonexistent/x.safetensors", into: small))
    }

    /// The numpy-only reader documented in docs/checkpoints.md loads a Terrain checkpoint.
    func testCheckpointLoadsInPythonWithNumpyAlone() throws {
        guard TestSupport.pythonHas(["numpy"]) else { throw XCTSkip("python3 with numpy is not available") }
        let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
        let path = tmp
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model: model, step: 7, to: path)
        let script = TestSupport.root.appendingPathComponent("docs/load_checkpoint.py").path
        let r = try TestSupport.run("/usr/bin/env", ["python3", script, path])
        XCTAssertEqual(r.status, 0, r.error)
        // The script prints "name shape dtype sum" per tensor; compare the sums.
        var lines = [String: Double]()
        for line in r.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 4, let s = Double(parts[3]) { lines[String(parts[0])] = s }
        }
        for p in model.parameters {
            let sum = p.value.storage.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(lines[p.name] ?? .nan, sum, accuracy: 1e-6 * max(1, abs(sum)), p.name)
        }
    }
}
