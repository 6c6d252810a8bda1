import Foundation
import TerrainCore
import XCTest

/// `model.width`: one multiplier for every family and preset, rounded per layer.
final class ModelWidthTests: XCTestCase {
    private func shapes(_ spec: ModelSpec, data: [Int]) throws -> [String: [Int]] {
        let m: Model<Float> = try ModelBuilder.build(spec, dataShape: data, outputs: 10, seed: 0)
        return Dictionary(uniqueKeysWithValues: m.parameters.map { ($0.name, $0.value.shape) })
    }

    func testAnMLPsHiddenWidthsScaleAndRoundToTheNearestUnit() throws {
        var spec = ModelSpec(kind: .mlp, hidden: [10, 7])
        spec.width = 0.5
        XCTAssertEqual(spec.widened().hidden, [5, 4], "3.5 rounds away from zero")
        let m: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 0)
        // 40·5 + 5 + 5·4 + 4 + 4·10 + 10 parameters.
        XCTAssertEqual(m.parameters.reduce(0) { $0 + $1.value.count }, 40 * 5 + 5 + 5 * 4 + 4 + 4 * 10 + 10)
        spec.width = 0.01
        XCTAssertEqual(spec.widened().hidden, [1, 1], "at least one unit")
    }

    func testConvolutionalFamiliesAndPresetsScaleTheirChannels() throws {
        var cnn = ModelSpec.exampleCNN
        cnn.width = 1.5
        let convolutions = try shapes(cnn, data: [40]).filter { $0.value.count == 3 }
        XCTAssertEqual(convolutions.count, 3)
        XCTAssertTrue(convolutions.values.allSatisfy { $0.first == 48 }, "\(convolutions)")
        var resnet = ModelSpec(kind: .resnet20)
        resnet.width = 0.5
        let r = try shapes(resnet, data: [3, 32, 32])
        XCTAssertEqual(r["conv1.weight"]?.first, 8)
        XCTAssertEqual(r["layer3.2.conv2.weight"]?.first, 32)
        XCTAssertEqual(r["linear.weight"], [10, 32])
        var vgg = ModelSpec(kind: .vgg9)
        vgg.width = 0.25
        let v = try shapes(vgg, data: [3, 32, 32])
        XCTAssertEqual(v["features.0.weight"]?.first, 16)
        XCTAssertEqual(v["fc.0.weight"], [64, 64 * 4 * 4])
        XCTAssertEqual(v["classifier.weight"], [10, 64])
        // Width 1 (or none) is the preset itself.
        resnet.width = nil
        XCTAssertEqual(try shapes(resnet, data: [3, 32, 32])["linear.weight"], [10, 64])
    }

    func testAWidthOutsideItsRangeIsRefusedNamingTheField() throws {
        for w in [0.0, -1, 65, .nan] {
            var spec = ModelSpec(kind: .mlp, hidden: [8])
            spec.width = w
            XCTAssertThrowsError(try spec.validate()) { XCTAssertTrue("\($0)".contains("model.width"), "\($0)") }
        }
        let encoded = String(decoding: try JSONEncoder().encode(ModelSpec.exampleMLP), as: UTF8.self)
        XCTAssertFalse(encoded.contains("width"), "an unset width is not encoded")
    }
}
