import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// The double-descent axes of a training grid: width (every family) or hidden widths, and
/// label noise; what each run records.
final class DoubleDescentGridTests: XCTestCase {
    static func spec(grid: String, model: String = "{kind: mlp, hidden: [32]}", data: String = "") throws -> SweepSpec {
        try SweepSpec.parse("""
        kind: training
        model: \(model)
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400, test_subset: 200\(data)}
        training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 50
          epochs: 2
          eval_every: 4
        grid: \(grid)
        """, source: "dd.yaml")
    }

    private func params(_ spec: SweepSpec) throws -> [RunKind.Params] {
        try spec.expand().map { try JSONDecoder().decode(RunKind.Params.self, from: Data($0.params)) }
    }

    func testAWidthAndNoiseGridExpandsNoiseSlowestThenWidthThenSeed() throws {
        let p = try params(try Self.spec(grid: "{width: [0.5, 1, 2], label_noise: [0, 0.2], seeds: [0, 1]}"))
        XCTAssertEqual(p.count, 3 * 2 * 2)
        XCTAssertEqual(p.map(\.data.labelNoise), [Double](repeating: 0, count: 6) + [Double](repeating: 0.2, count: 6))
        XCTAssertEqual(p.prefix(6).map(\.model.width), [0.5, 0.5, 1, 1, 2, 2])
        XCTAssertEqual(p.prefix(2).map(\.seed), [0, 1])
        XCTAssertEqual(p.prefix(6).map { $0.model.widened().hidden }, [[16], [16], [32], [32], [64], [64]])
        XCTAssertTrue(p.allSatisfy { $0.capacity == true && $0.model.hidden == [32] })
        // Without the axes, the parameters are those of a plain grid (no capacity flag, width or noise).
        let plain = try params(try Self.spec(grid: "{seeds: [0]}"))[0]
        XCTAssertNil(plain.capacity)
        XCTAssertNil(plain.model.width)
        XCTAssertNil(plain.data.labelNoise)
    }

    func testAHiddenGridSetsTheWidthsAndAConvPresetTakesAMultiplier() throws {
        let p = try params(try Self.spec(grid: "{hidden: [[8], [16, 16]]}"))
        XCTAssertEqual(p.map(\.model.hidden), [[8], [16, 16]])
        let conv = try params(try Self.spec(grid: "{width: [0.25, 0.5]}", model: "{kind: cnn, channels: [32, 32], input_shape: [1, 40], kernel_size: 5}"))
        XCTAssertEqual(conv.map { $0.model.widened().channels }, [[8, 8], [16, 16]])
    }

    func testGridErrorsNameTheField() throws {
        func message(_ grid: String, model: String = "{kind: mlp, hidden: [32]}") -> String {
            do { _ = try Self.spec(grid: grid, model: model); return "no error" } catch { return "\(error)" }
        }
        for (grid, model, expected) in [
            ("{width: [1], hidden: [[8]]}", "{kind: mlp, hidden: [32]}", "not both"),
            ("{width: [0]}", "{kind: mlp, hidden: [32]}", "grid.width"),
            ("{width: [100]}", "{kind: mlp, hidden: [32]}", "grid.width"),
            ("{hidden: [[8]]}", "{kind: cnn, channels: [8], input_shape: [1, 40]}", "grid.hidden: the hidden widths of an mlp"),
            ("{hidden: [8, 16]}", "{kind: mlp, hidden: [32]}", "grid.hidden: each entry must be a list"),
            ("{label_noise: [0.1, 1.5]}", "{kind: mlp, hidden: [32]}", "grid.label_noise: '1.5'"),
            ("{label_noise: [0.1, 0.1]}", "{kind: mlp, hidden: [32]}", "grid.label_noise: lists a value twice"),
            ("{width: [1, 1]}", "{kind: mlp, hidden: [32]}", "names a model twice"),
            ("{width: [2]}", "{kind: mlp, hidden: [32], width: 2}", "model.width already"),
        ] {
            let m = message(grid, model: model)
            XCTAssertTrue(m.contains(expected), "\(grid) \(model): \(m)")
        }
    }

    func testEachRunRecordsItsWidthParametersAndNoisyLabels() throws {
        let spec = try Self.spec(grid: "{width: [0.5, 2], label_noise: [0.25]}")
        let out = try InProcessSweep.run(spec)
        for (task, h) in [(UInt64(1), 16), (2, 64)] {
            let r = try RunRecord.decode(out[task]!.output)
            XCTAssertEqual(r.status, "completed")
            XCTAssertEqual(r.width, task == 1 ? 0.5 : 2)
            XCTAssertEqual(r.widths, [h])
            XCTAssertEqual(r.parameters, 40 * h + h + h * 10 + 10, "40-\(h)-10")
            XCTAssertEqual(r.labelNoise, 0.25)
            XCTAssertEqual(r.noisyLabels, 100, "round(0.25 · 400)")
            XCTAssertEqual(r.curve.first?.epoch, 0)
            XCTAssertNotNil(r.curve.last?.testAccuracy, "test error along training")
            let row = try XCTUnwrap(r.rows(task: task).variant)
            XCTAssertEqual(row.widths, "[\(h)]")
            XCTAssertEqual(row.noisyLabels, 100)
            XCTAssertNil(row.swaAveraged)
        }
    }
}
