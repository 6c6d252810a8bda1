import Foundation
import TerrainCore
import XCTest

/// The `terrain` executable as a user runs it: exit codes and messages.
final class CLITests: XCTestCase {
    /// The `terrain` binary built next to the test bundle.
    private var terrain: String {
        get throws { try TestSupport.terrainBinary() }
    }

    private func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "terrain-cli-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testValidateAcceptsTheExamplesAndRejectsBadSpecsWithExitCode1() throws {
        let bin = try terrain
        let ok = try TestSupport.run(bin, ["validate", TestSupport.root.appendingPathComponent("examples/train-cnn.yaml").path])
        XCTAssertEqual(ok.status, 0, ok.error)
        XCTAssertTrue(ok.output.contains("ok"), ok.output)
        let dir = try tempDir()
        let bad = dir + "/bad.yaml"
        try "model: {kind: mlp}\ndata: {path: nowhere.npz}\noptimizer: {name: sgd, lr: 0.1}\ntraining: {batch_size: 8, epochs: 1}\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(bin, ["validate", bad])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.error.contains(bad) && r.error.contains("nowhere.npz"), r.error)
    }

    func testTrainWritesACheckpointThatEvaluateReadsBack() throws {
        let bin = try terrain
        let dir = try tempDir()
        let spec = dir + "/tiny.yaml"
        try """
        name: tiny
        seed: 1
        model: {kind: mlp, hidden: [16]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400, test_subset: 200}
        optimizer: {name: adam, lr: 0.01}
        training: {batch_size: 50, epochs: 2}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let ckpt = dir + "/tiny.safetensors"
        let r = try TestSupport.run(bin, ["train", spec, "--output", ckpt], environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(r.status, 0, r.error)
        XCTAssertTrue(r.output.contains("epoch   2/2"), r.output)
        let final = try XCTUnwrap(r.output.split(separator: "\n").last { $0.hasPrefix("final:") })
        let e = try TestSupport.run(bin, ["evaluate", spec, ckpt, "--eigenvalues", "2", "--hessian-samples", "200"],
                                    environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(e.status, 0, e.error)
        // The test loss printed by train and by evaluate agree to the printed digits.
        let trainTest = final.components(separatedBy: "test loss ")[1].prefix(8)
        XCTAssertTrue(e.output.contains("test  loss \(trainTest)"), "\(final)\n\(e.output)")
        // Eigenvalues say what they are (largest magnitude), with the sweeps' tolerance and each one's residual.
        XCTAssertTrue(e.output.contains("Hessian eigenvalues of largest magnitude (power iteration with deflation, relative tolerance 1e-05"), e.output)
        for i in 1...2 {
            let line = try XCTUnwrap(e.output.split(separator: "\n").first { $0.hasPrefix("λ\(i) = ") }, e.output)
            let residual = try XCTUnwrap(Double(line.components(separatedBy: "residual ‖Hv − λv‖ = ").last?.split(separator: " ").first ?? ""), String(line))
            let value = try XCTUnwrap(Double(line.dropFirst("λ1 = ".count).split(separator: " ").first ?? ""), String(line))
            XCTAssertLessThan(residual, 0.05 * abs(value), String(line))
        }
        let loose = try TestSupport.run(bin, ["evaluate", spec, ckpt, "--eigenvalues", "1", "--hessian-samples", "200", "--eigen-tolerance", "0.5",
                                              "--eigen-iterations", "3"])
        XCTAssertEqual(loose.status, 0, loose.error)
        XCTAssertTrue(loose.output.contains("relative tolerance 0.5"), loose.output)
        XCTAssertTrue(loose.output.contains("(2 iterations)") || loose.output.contains("(3 iterations"), loose.output)
        // A checkpoint of another architecture is refused with the tensor named.
        let other = dir + "/other.yaml"
        try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: "hidden: [16]", with: "hidden: [8]")
            .write(toFile: other, atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(bin, ["evaluate", other, ckpt])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.error.contains("layers.0.weight"), bad.error)
    }

    func testDivergingTrainingExitsWithAClearMessage() throws {
        let bin = try terrain
        let dir = try tempDir()
        let spec = dir + "/diverge.yaml"
        try """
        model: {kind: mlp, hidden: [16]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400}
        optimizer: {name: sgd, lr: 100000}
        training: {batch_size: 50, epochs: 3}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(bin, ["train", spec, "--output", dir + "/x.safetensors"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.error.contains("diverged at step"), r.error)
    }

    /// `terrain train` writes the weights alone (a strict state_dict) and the optimizer state
    /// beside them; a run resumed from the epoch-1 pair ends with the uninterrupted run's bytes.
    func testTrainKeepsOptimizerStateBesideTheWeightsAndResumesExactly() throws {
        let bin = try terrain
        let dir = try tempDir()
        let spec = dir + "/tiny.yaml"
        try """
        name: tiny
        seed: 2
        model: {kind: mlp, hidden: [16]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400, test_subset: 100}
        optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
        training: {batch_size: 50, epochs: 2}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let env = ["OPENBLAS_NUM_THREADS": "1"]
        let full = try TestSupport.run(bin, ["train", spec, "--output", dir + "/full.safetensors", "--checkpoint-every", "1", "--quiet"], environment: env)
        XCTAssertEqual(full.status, 0, full.error)
        XCTAssertTrue(full.output.contains("optimizer state \(dir)/full.optimizer.safetensors"), full.output)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [16]), dataShape: [40], outputs: 10, seed: 0)
        for stem in ["full", "full.epoch1", "full.epoch2"] {
            let weights = try SafeTensors.read(contentsOf: "\(dir)/\(stem).safetensors")
            XCTAssertEqual(Set(weights.tensors.keys), Set(Checkpoint.tensors(model: model).keys), stem)
            let state = try SafeTensors.read(contentsOf: "\(dir)/\(stem).optimizer.safetensors")
            XCTAssertEqual(Set(state.tensors.keys), Set(model.parameters.map { $0.name + ".momentum_buffer" }), stem)
        }
        let resumed = try TestSupport.run(bin, ["train", spec, "--output", dir + "/resumed.safetensors", "--resume", dir + "/full.epoch1.safetensors", "--quiet"],
                                          environment: env)
        XCTAssertEqual(resumed.status, 0, resumed.error)
        let a = try SafeTensors.read(contentsOf: dir + "/full.safetensors"), b = try SafeTensors.read(contentsOf: dir + "/resumed.safetensors")
        XCTAssertEqual(a.tensors, b.tensors)
        XCTAssertEqual(a.metadata["terrain.step"], b.metadata["terrain.step"])
        XCTAssertEqual(try SafeTensors.read(contentsOf: dir + "/full.optimizer.safetensors").tensors,
                       try SafeTensors.read(contentsOf: dir + "/resumed.optimizer.safetensors").tensors)
        // Without its state file, resuming is refused with the file named.
        try FileManager.default.removeItem(atPath: dir + "/full.epoch1.optimizer.safetensors")
        let orphan = try TestSupport.run(bin, ["train", spec, "--output", dir + "/x.safetensors", "--resume", dir + "/full.epoch1.safetensors"], environment: env)
        XCTAssertEqual(orphan.status, 1)
        XCTAssertTrue(orphan.error.contains("full.epoch1.optimizer.safetensors"), orphan.error)
    }

    /// A preset trains from the command line, prints its modules by their PyTorch names, and
    /// its checkpoint evaluates back; a checkpoint of the twin without shortcuts is refused
    /// with the unexpected tensors and the right `model:` named.
    func testPresetTrainsAndEvaluatesFromTheCommandLine() throws {
        let bin = try terrain
        let dir = try tempDir()
        let data = dir + "/shapes.npz"
        try Data(ShapesDataset.npz(train: ShapesDataset.generate(count: 64, seed: 1, part: "train"),
                                   test: ShapesDataset.generate(count: 32, seed: 1, part: "test"))).write(to: URL(fileURLWithPath: data))
        let spec = dir + "/r20.yaml"
        try """
        name: r20
        model: {kind: resnet20}
        data: {path: shapes.npz, scale: 0.00392156862745098}
        optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
        training: {batch_size: 32, epochs: 1}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(bin, ["train", spec, "--output", dir + "/r20.safetensors"], environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(r.status, 0, r.error)
        XCTAssertTrue(r.output.contains("resnet20, 272474 parameters"), r.output)
        XCTAssertTrue(r.output.contains("layer2: Sequential(3 × ResidualBlock"), r.output)
        let e = try TestSupport.run(bin, ["evaluate", spec, dir + "/r20.safetensors"], environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(e.status, 0, e.error)
        XCTAssertTrue(e.output.contains("test  loss"), e.output)
        let twin = dir + "/twin.yaml"
        try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: "kind: resnet20", with: "kind: resnet20_noshort")
            .write(toFile: twin, atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(bin, ["evaluate", twin, dir + "/r20.safetensors"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.error.contains("12 unexpected: layer2.0.shortcut.0.weight [32, 16, 1, 1]"), bad.error)
        XCTAssertTrue(bad.error.contains("model: {kind: resnet20}"), bad.error)
    }
}
