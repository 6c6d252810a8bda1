import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainDataset
import TerrainSweeps
import XCTest

/// A width × label-noise grid with SWA through the real runtime: the `run_variants` table,
/// its columns in the export, the saved weights, the model-wise and epoch-wise figures.
final class DoubleDescentSweepTests: XCTestCase {
    private var harnesses: [ProcessHarness] = []

    override func tearDown() {
        for h in harnesses { h.cleanUp() }
    }

    private static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/mnist1d.npz").path

    func testAWidthAndNoiseGridWithSWAIsStoredExportedAndRendered() throws {
        let h = try ProcessHarness(name: "descent")
        harnesses.append(h)
        let spec = try h.write("s.yaml", """
            name: descent
            kind: training
            model: {kind: mlp, hidden: [16]}
            data: {path: \(Self.data), train_subset: 300, test_subset: 100}
            training:
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              batch_size: 50
              epochs: 3
              swa: {start_epoch: 1, lr: 0.02}
            grid: {width: [0.5, 1, 2], label_noise: [0, 0.2]}
            curvature: {lambda_max: true, samples: 50, iterations: 3}
            runtime: {heartbeat_ms: 100, liveness: 5}
            """)
        try h.runToEnd(spec, workers: 2)
        let ds = try h.open()
        let variants = try ds.runVariants()
        XCTAssertEqual(variants.map(\.width), [0.5, 1, 2, 0.5, 1, 2])
        XCTAssertEqual(variants.map(\.noisyLabels), [0, 0, 0, 60, 60, 60], "round(0.2 · 300)")
        XCTAssertEqual(variants.map(\.parameters), [8, 16, 32].map { 40 * $0 + $0 + $0 * 10 + 10 } + [8, 16, 32].map { 40 * $0 + $0 + $0 * 10 + 10 })
        XCTAssertTrue(variants.allSatisfy { $0.swaAveraged == 2 && $0.swaLambdaMax != nil && $0.swaTestAccuracy != nil })
        XCTAssertEqual(try ds.resultArtifacts().map(\.name), Array(repeating: ["final", "swa"], count: 6).flatMap { $0 })

        let export = try h.start(["export", h.dataset, "--format", "csv", "-o", h.dir + "/e.csv", "--artifacts", h.dir + "/weights"], label: "export")
        XCTAssertEqual(h.waitForExit(export), 0, h.output("export"))
        let header = try String(contentsOfFile: h.dir + "/e-runs.csv", encoding: .utf8).split(separator: "\n")[0]
        for column in ["width", "parameters", "label_noise", "noisy_labels", "swa_averaged", "swa_test_acc", "swa_lambda_max"] {
            XCTAssertTrue(header.split(separator: ",").contains(Substring(column)), "\(column) in \(header)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: h.dir + "/weights/1-s0-swa.safetensors"), h.output("export"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: h.dir + "/weights/6-s0-final.safetensors"), h.output("export"))

        let render = try h.start(["render", h.dataset, "--figure", "all"], label: "render")
        XCTAssertEqual(h.waitForExit(render), 0, h.output("render"))
        let base = (h.dataset as NSString).deletingPathExtension
        let modelwise = try String(contentsOfFile: base + "-modelwise.svg", encoding: .utf8)
        XCTAssertTrue(modelwise.contains("test, label noise 20%") && modelwise.contains("width multiplier"), modelwise)
        for noise in ["noise0", "noise0.2"] {
            let epochwise = try String(contentsOfFile: "\(base)-epochwise-\(noise).svg", encoding: .utf8)
            XCTAssertTrue(epochwise.contains("width ×2"), epochwise)
        }
        let status = try h.start(["status", h.dataset], label: "status")
        XCTAssertEqual(h.waitForExit(status), 0)
        XCTAssertTrue(h.output("status").contains("test error by width (label noise 20%)"), h.output("status"))
        XCTAssertTrue(h.output("status").contains("SWA (6 runs, mean)"), h.output("status"))
    }
}
