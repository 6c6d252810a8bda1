import Foundation
import TerrainCore
import XCTest

/// "Same bits on every CPU": a result depends on the spec and seeds only. OpenBLAS picks its
/// kernel per CPU (Haswell, SkylakeX, Zen …) and each sums in its own order; Terrain's own
/// kernels fix the order, so nothing that reaches a result may depend on that choice.
/// The checks run `terrain train` under every OpenBLAS core type this OpenBLAS knows
/// (`OPENBLAS_CORETYPE` forces one, as a different CPU would) and compare checkpoints byte
/// for byte, for an MLP (GEMM) and a ResNet with BatchNorm (convolutions, fused passes).
final class DeterminismTests: XCTestCase {
    private let coreTypes = ["Haswell", "SkylakeX", "Zen"]

    private func trainedCheckpoint(_ spec: String, coreType: String, in dir: String) throws -> Data {
        // The same relative file name each time: the checkpoint records which spec made it.
        let run = dir + "/" + coreType
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let specPath = run + "/spec.yaml", out = run + "/model.safetensors"
        try spec.write(toFile: specPath, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(try TestSupport.terrainBinary(), ["train", "spec.yaml", "--output", "model.safetensors"],
                                    environment: ["OPENBLAS_CORETYPE": coreType, "OPENBLAS_VERBOSE": "2"], currentDirectory: run)
        XCTAssertEqual(r.status, 0, "OPENBLAS_CORETYPE=\(coreType): \(r.error)")
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    private func assertSameBitsUnderEveryCoreType(_ spec: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = NSTemporaryDirectory() + "terrain-determinism-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let checkpoints = try coreTypes.map { try trainedCheckpoint(spec, coreType: $0, in: dir) }
        let hashes = checkpoints.map { SHA256.hex(SHA256.hash([UInt8]($0))) }
        XCTAssertEqual(Set(hashes).count, 1, "checkpoint SHA-256 per core type: \(zip(coreTypes, hashes).map { "\($0): \($1)" })",
                       file: file, line: line)
    }

    func testTheMLPTrainsToTheSameBitsUnderEveryOpenBLASCoreType() throws {
        try assertSameBitsUnderEveryCoreType("""
            seed: 3
            model: {kind: mlp, hidden: [64, 32]}
            data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 1000}
            optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
            training: {batch_size: 64, epochs: 2}
            """)
    }

    func testAResNetTrainsToTheSameBitsUnderEveryOpenBLASCoreType() throws {
        try assertSameBitsUnderEveryCoreType("""
            seed: 3
            model: {kind: resnet, channels: [8, 16], input_shape: [1, 8, 8]}
            data: {path: \(TestSupport.dataPath("digits.npz")), train_subset: 256}
            optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
            training: {batch_size: 32, epochs: 1}
            """)
    }

    /// The binary that computes results does not load OpenBLAS at all (it is only the
    /// benchmark's and the tests' reference), so no library update or CPU can change a sum.
    func testTheTerrainBinaryDoesNotLinkOpenBLAS() throws {
        let r = try TestSupport.run("/usr/bin/env", ["ldd", try TestSupport.terrainBinary()])
        XCTAssertEqual(r.status, 0, r.error)
        XCTAssertFalse(r.output.contains("openblas"), r.output)
        XCTAssertTrue(r.output.contains("libzmq"), "ldd output looks wrong: \(r.output)")
    }
}
