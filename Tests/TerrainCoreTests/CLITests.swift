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
}
