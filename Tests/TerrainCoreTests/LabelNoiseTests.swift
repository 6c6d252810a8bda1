import Foundation
import TerrainCore
import XCTest

/// `data.label_noise`: exactly round(p·N) training labels changed, each to another class,
/// chosen by the seed; inputs and test labels untouched.
final class LabelNoiseTests: XCTestCase {
    private func load(_ noise: Double?, seed: UInt64 = 7, subset: Int = 1010) throws -> (train: Dataset<Float>, test: Dataset<Float>) {
        var spec = DataSpec(path: TestSupport.dataPath("mnist1d.npz"), trainSubset: subset)
        spec.labelNoise = noise
        let (train, test) = try DataLoader.load(spec, baseDirectory: "/", seed: seed, as: Float.self)
        return (train, try XCTUnwrap(test))
    }

    private func labels(_ d: Dataset<Float>) -> [Int] {
        guard case .classes(let c) = d.y else { XCTFail("class labels expected"); return [] }
        return c
    }

    func testExactlyTheRoundedFractionOfTrainingLabelsChangesAndNothingElse() throws {
        let clean = try load(nil)
        let before = labels(clean.train)
        // round(p · 1010), halves away from zero: 0.15 · 1010 = 151.5 → 152, 0.35 · 1010 = 353.5 → 354.
        for (p, expected) in [(0.0, 0), (0.0004, 0), (0.1, 101), (0.15, 152), (0.2, 202), (0.35, 354), (1.0, 1010)] {
            XCTAssertEqual(LabelNoise.count(fraction: p, samples: 1010), expected, "p = \(p)")
            let noisy = try load(p)
            let after = labels(noisy.train)
            let changed = zip(before, after).filter { $0 != $1 }.count
            XCTAssertEqual(changed, expected, "p = \(p): every chosen label moves to another class")
            XCTAssertTrue(after.allSatisfy { (0..<10).contains($0) })
            XCTAssertEqual(noisy.train.x, clean.train.x, "inputs are untouched")
            XCTAssertEqual(labels(noisy.test), labels(clean.test), "test labels are never noised")
        }
    }

    func testTheNoisyLabelsAreFixedByTheSeedAndSpreadOverTheOtherClasses() throws {
        let before = labels(try load(nil).train)
        let a = labels(try load(0.3).train), b = labels(try load(0.3).train), c = labels(try load(0.3, seed: 8).train)
        XCTAssertEqual(a, b, "the same seed gives the same noisy labels")
        let changedA = Set(zip(before, a).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset))
        let beforeC = labels(try load(nil, seed: 8).train)
        let changedC = Set(zip(beforeC, c).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset))
        XCTAssertEqual(changedA.count, 303)
        XCTAssertEqual(changedC.count, 303)
        XCTAssertNotEqual(a, c, "another seed, other samples")
        // The wrong labels are spread over the classes: each of the 10 receives some of the 303.
        let received = Dictionary(grouping: changedA.map { a[$0] }, by: { $0 }).mapValues(\.count)
        XCTAssertEqual(received.count, 10, "\(received)")
        XCTAssertTrue(received.values.allSatisfy { $0 >= 10 }, "about 30 each: \(received)")
    }

    func testLabelNoiseIsRefusedOutsideZeroToOneAndForRegressionTargets() throws {
        var spec = DataSpec(path: "x.npz")
        spec.labelNoise = 1.5
        XCTAssertThrowsError(try spec.validate()) { XCTAssertTrue("\($0)".contains("data.label_noise"), "\($0)") }
        spec.labelNoise = 0.1
        spec.targets = "values"
        XCTAssertThrowsError(try spec.validate()) { XCTAssertTrue("\($0)".contains("data.label_noise needs class labels"), "\($0)") }
        // Omitted, the field does not appear in the encoding (the parameters of older sweeps hash as before).
        let encoded = String(decoding: try JSONEncoder().encode(DataSpec(path: "x.npz")), as: UTF8.self)
        XCTAssertFalse(encoded.contains("label_noise"))
    }
}
