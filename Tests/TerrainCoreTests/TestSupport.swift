import Foundation
import TerrainCore
import XCTest

/// Paths and small helpers shared by the tests.
enum TestSupport {
    /// The repository root (two levels above this file's folder).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// The fixtures folder of this test target.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func dataPath(_ name: String) -> String { root.appendingPathComponent("data/\(name)").path }
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// A tensor of standard normal values from Terrain's RNG.
    static func randomTensor<T: TensorScalar>(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor<T> {
        var rng = TerrainRNG(seed: seed)
        return Tensor(shape: shape, storage: rng.normals(shape.reduce(1, *), std: scale))
    }

    /// Fills every parameter of a layer tree with random values.
    static func randomize(_ layer: Layer<Double>, seed: UInt64, scale: Double = 0.5) {
        for (i, p) in layer.namedParameters().enumerated() {
            var rng = TerrainRNG(seed: seed, stream: UInt64(i))
            p.value.storage = rng.normals(p.count, std: scale)
            if p.role == .norm && p.localName == "weight" { p.value.storage = p.value.storage.map { 1 + $0 } }
        }
    }

    /// MNIST-1D, loaded once per process.
    nonisolated(unsafe) static var mnist1dCache: (train: Dataset<Float>, test: Dataset<Float>?)?
    static func mnist1d() throws -> (train: Dataset<Float>, test: Dataset<Float>) {
        if mnist1dCache == nil {
            mnist1dCache = try DataLoader.load(DataSpec(path: dataPath("mnist1d.npz")), baseDirectory: "/", seed: 0)
        }
        return (mnist1dCache!.train, mnist1dCache!.test!)
    }

    /// The `terrain` binary built next to the test bundle; skips the test when it is missing.
    static func terrainBinary() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("terrain").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("the terrain executable was not built next to the tests (run `make test`)")
    }

    /// Whether `python3 -c "import <modules>"` works here.
    static func pythonHas(_ modules: [String]) -> Bool {
        (try? run("/usr/bin/env", ["python3", "-c", "import " + modules.joined(separator: ", ")]).status) == 0
    }

    /// Runs a program and returns its exit status and standard output.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    currentDirectory: String? = nil) throws -> (status: Int32, output: String, error: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
