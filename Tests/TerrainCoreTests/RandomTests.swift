import TerrainCore
import XCTest

/// Terrain's RNG and initializers.
final class RandomTests: XCTestCase {
    /// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    func testPhiloxMatchesRandom123KnownAnswers() {
        let zero = TerrainRNG.philox(counter: (0, 0, 0, 0), key: (0, 0))
        XCTAssertEqual([zero.0, zero.1, zero.2, zero.3], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = TerrainRNG.philox(counter: (.max, .max, .max, .max), key: (.max, .max))
        XCTAssertEqual([ones.0, ones.1, ones.2, ones.3], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let pi = TerrainRNG.philox(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        XCTAssertEqual([pi.0, pi.1, pi.2, pi.3], [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    func testStreamsAreReproducibleAndPositionsJumpable() {
        var a = TerrainRNG(seed: 42, stream: 3)
        let first = (0..<20).map { _ in a.nextUInt32() }
        var b = TerrainRNG(seed: 42, stream: 3)
        XCTAssertEqual((0..<20).map { _ in b.nextUInt32() }, first)
        var c = TerrainRNG(seed: 42, stream: 3, position: 2)
        XCTAssertEqual((0..<12).map { _ in c.nextUInt32() }, Array(first[8..<20]))
        var d = TerrainRNG(seed: 42, stream: 4)
        XCTAssertNotEqual((0..<20).map { _ in d.nextUInt32() }, first)
    }

    func testNormalAndUniformMomentsAreRight() {
        var rng = TerrainRNG(seed: 7)
        let n = 200_000
        let z = (0..<n).map { _ in rng.normal() }
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.01)
        let u = (0..<n).map { _ in rng.uniform() }
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.005)
        let p = rng.permutation(1000)
        XCTAssertEqual(p.sorted(), Array(0..<1000))
    }

    func testInitializersFollowPyTorchBounds() {
        var rng = TerrainRNG(seed: 1)
        let fanIn = 256, fanOut = 128, n = 100_000
        let pt: [Double] = Initializer.pytorch.weights(count: n, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        XCTAssertLessThanOrEqual(pt.map(abs).max()!, 1 / 16.0)
        XCTAssertGreaterThan(pt.map(abs).max()!, 0.99 / 16.0)
        func std(_ v: [Double]) -> Double { (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot() }
        let kn: [Double] = Initializer.kaimingNormal.weights(count: n, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        XCTAssertEqual(std(kn), (2.0 / 256).squareRoot(), accuracy: 0.01 * (2.0 / 256).squareRoot())
        let ku: [Double] = Initializer.kaimingUniform.weights(count: n, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        XCTAssertLessThanOrEqual(ku.map(abs).max()!, (6.0 / 256).squareRoot())
        XCTAssertEqual(std(ku), (2.0 / 256).squareRoot(), accuracy: 0.01 * (2.0 / 256).squareRoot())
        let xu: [Double] = Initializer.xavierUniform.weights(count: n, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        XCTAssertLessThanOrEqual(xu.map(abs).max()!, (6.0 / 384).squareRoot())
        let xn: [Double] = Initializer.xavierNormal.weights(count: n, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        XCTAssertEqual(std(xn), (2.0 / 384).squareRoot(), accuracy: 0.01 * (2.0 / 384).squareRoot())
    }

    func testBatchScheduleVisitsEverySampleOncePerEpochInASeededOrder() throws {
        let s = try BatchSchedule(count: 103, batchSize: 10, seed: 5)
        XCTAssertEqual(s.stepsPerEpoch, 11)
        var seen = [Int]()
        for step in 11..<22 { seen += s.indices(step: step) }
        XCTAssertEqual(seen.sorted(), Array(0..<103))
        XCTAssertNotEqual(s.order(epoch: 0), s.order(epoch: 1))
        XCTAssertEqual(s.order(epoch: 1), try BatchSchedule(count: 103, batchSize: 10, seed: 5).order(epoch: 1))
        XCTAssertThrowsError(try BatchSchedule(count: 10, batchSize: 0, seed: 0))
    }
}
