import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// The surface sweep's `train` task on regression data (MSE on value targets): its summary
/// has the training loss and no accuracy (there is none), instead of failing on a NaN that
/// JSON cannot hold.
final class CentreSummaryTests: XCTestCase {
    func testARegressionCentreReportsItsLossWithoutAnAccuracy() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("centre-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var rng = TerrainRNG(seed: 4)
        let n = 64
        let x = (0..<(n * 3)).map { _ in Float(rng.normal()) }
        let y = (0..<n).map { Float(0.5 * Double(x[3 * $0]) - Double(x[3 * $0 + 2])) }
        let path = directory + "/regression.npz"
        let npz = NPZ.write([("x_train", NPY.encode(floats: x, shape: [n, 3])), ("y_train", NPY.encode(floats: y, shape: [n])),
                             ("x_test", NPY.encode(floats: x, shape: [n, 3])), ("y_test", NPY.encode(floats: y, shape: [n]))])
        try Data(npz).write(to: URL(fileURLWithPath: path))
        let spec = try SweepSpec.parse("""
            kind: surface
            model: {kind: mlp, hidden: [4]}
            data: {path: \(path), targets: values}
            loss: mse
            surface:
              train: {optimizer: {name: sgd, lr: 0.05}, batch_size: 16, epochs: 3, seed: 1}
              x: "-1:1:3"
            """, source: "regression.yaml")
        let task = try XCTUnwrap(try spec.expand().first { $0.kind == TrainKind.name })
        let output = try TrainKind().run(task: 1, attempt: 1, params: task.params, inputs: [])
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.output)) as? [String: Double])
        XCTAssertEqual(Set(summary.keys), ["train_loss"])
        XCTAssertGreaterThan(try XCTUnwrap(summary["train_loss"]), 0)
        guard case .accept = TrainKind().judge(output, params: try TrainKind.decode(task.params, task: 1), task: 1) else {
            return XCTFail("the coordinator accepts the summary")
        }
    }
}
