import Foundation
import TerrainCore
import XCTest

/// Evaluation holds one chunk's activations and a mapped view of the images, so the process's
/// own memory does not grow with the data set (what grows is file-backed pages of the map,
/// which the page cache shares between processes). Before the implicit-GEMM kernels, an
/// evaluation of 2,560 CIFAR images peaked at 4.3 GB.
final class EvaluationMemoryTests: XCTestCase {
    /// Peak RssAnon (MB) of a child process, polled every 2 ms.
    private func peakAnonymousMemory(_ arguments: [String]) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try TestSupport.terrainBinary())
        p.arguments = arguments
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        var peak = 0.0
        while p.isRunning {
            if let text = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
               let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) {
                peak = max(peak, kb / 1024)
            }
            usleep(2000)
        }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        return peak
    }

    func testEvaluationMemoryDoesNotGrowWithTheDataSet() throws {
        let dir = NSTemporaryDirectory() + "terrain-evalmem-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = ModelSpec(kind: .resnet, channels: [8, 16], inputShape: [3, 32, 32])
        let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0)
        try Checkpoint.save(model: model, step: 0, to: dir + "/m.safetensors")
        var peaks = [Double]()
        for count in [500, 8000] {
            let data = dir + "/d\(count).npz"
            try Data(ShapesDataset.npz(train: ShapesDataset.generate(count: 64, seed: 1, part: "train"),
                                       test: ShapesDataset.generate(count: count, seed: 1, part: "test")))
                .write(to: URL(fileURLWithPath: data))
            try """
            model: {kind: resnet, channels: [8, 16], input_shape: [3, 32, 32]}
            data: {path: \(data), scale: 0.00392156862745098}
            optimizer: {name: sgd, lr: 0.01}
            training: {batch_size: 64, epochs: 1}
            """.write(toFile: dir + "/s\(count).yaml", atomically: true, encoding: .utf8)
            peaks.append(try peakAnonymousMemory(["evaluate", dir + "/s\(count).yaml", dir + "/m.safetensors"]))
        }
        // 16× the images (7,500 more × 12 KB as floats would be 90 MB): the process's own
        // memory grows by less than 8 MB (labels and index lists).
        XCTAssertGreaterThan(peaks[0], 0, "no memory reading")
        XCTAssertLessThan(peaks[1] - peaks[0], 8, "own memory \(peaks[0]) MB → \(peaks[1]) MB")
    }
}
