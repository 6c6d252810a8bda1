import TerrainCore
import XCTest

/// Directions and grid axes.
final class GeometryTests: XCTestCase {
    private func model() throws -> (Model<Float>, ParameterSpace<Float>, [Float]) {
        let m: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .cnn, channels: [4, 6], inputShape: [1, 40], kernelSize: 5, batchNorm: true),
                                                     dataShape: [40], outputs: 10, seed: 3)
        let space = ParameterSpace(m)
        return (m, space, space.values())
    }

    private func norm(_ v: ArraySlice<Float>) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    func testFilterNormalizedDirectionsMatchEveryFilterNormAndIgnoreOneDimensionalParameters() throws {
        let (_, space, centre) = try model()
        let d = Directions.random(layout: space.layout, center: centre, seed: 9, normalization: .filter, oneDimensional: .ignore)
        var filters = 0
        for slot in space.layout {
            if slot.shape.count <= 1 {
                XCTAssertTrue(d[slot.range].allSatisfy { $0 == 0 }, "\(slot.name) must have a zero direction")
                continue
            }
            let width = slot.count / slot.shape[0]
            for f in 0..<slot.shape[0] {
                let r = slot.offset + f * width ..< slot.offset + (f + 1) * width
                XCTAssertEqual(norm(d[r]), norm(centre[r]), accuracy: 1e-5 * norm(centre[r]), "\(slot.name) filter \(f)")
                filters += 1
            }
        }
        XCTAssertEqual(filters, 4 + 6 + 10)
    }

    func testLayerWeightAndCopyRules() throws {
        let (_, space, centre) = try model()
        let layer = Directions.random(layout: space.layout, center: centre, seed: 9, normalization: .layer, oneDimensional: .copy)
        for slot in space.layout {
            if slot.shape.count <= 1 {
                XCTAssertEqual(Array(layer[slot.range]), Array(centre[slot.range]), "\(slot.name) copies θ*")
            } else {
                XCTAssertEqual(norm(layer[slot.range]), norm(centre[slot.range]), accuracy: 1e-5 * norm(centre[slot.range]))
            }
        }
        let raw = Directions.random(layout: space.layout, center: centre, seed: 9, normalization: .none, oneDimensional: .ignore)
        let weight = Directions.random(layout: space.layout, center: centre, seed: 9, normalization: .weight, oneDimensional: .ignore)
        for i in 0..<centre.count { XCTAssertEqual(weight[i], raw[i] * centre[i]) }
    }

    func testDirectionsAreReproducibleAndIndependentOfOtherParameters() throws {
        let (_, space, centre) = try model()
        let a = Directions.random(layout: space.layout, center: centre, seed: 5, normalization: .none, oneDimensional: .ignore)
        XCTAssertEqual(a, Directions.random(layout: space.layout, center: centre, seed: 5, normalization: .none, oneDimensional: .ignore))
        XCTAssertNotEqual(a, Directions.random(layout: space.layout, center: centre, seed: 6, normalization: .none, oneDimensional: .ignore))
        // A parameter's entries depend on its name, not its position: a layout with only the
        // last weight gives that weight the same entries.
        let last = space.layout.last { $0.shape.count > 1 }!
        var alone = last
        alone.offset = 0
        let b = Directions.random(layout: [alone], center: Array(centre[last.range]), seed: 5, normalization: .none, oneDimensional: .ignore)
        XCTAssertEqual(b, Array(a[last.range]))
    }

    func testPointAtTheOriginIsTheCentreBitForBit() throws {
        let (_, space, centre) = try model()
        let d = Directions.random(layout: space.layout, center: centre, seed: 1, normalization: .filter, oneDimensional: .ignore)
        XCTAssertEqual(Directions.point(center: centre, d, 0, d, 0), centre)
        XCTAssertEqual(Directions.point(center: centre, Directions.difference(from: centre, to: d), 1, nil, 0)[0], d[0], accuracy: 1e-6)
    }

    /// Coordinates equal numpy.linspace's bit for bit (values printed by numpy 2.4 as float.hex()).
    func testGridAxisMatchesNumpyLinspace() throws {
        let a = try GridAxis(parsing: "-1:1:51")
        XCTAssertEqual(a.coordinate(1), Double("-0x1.eb851eb851eb8p-1")!)
        XCTAssertEqual(a.coordinate(17), Double("-0x1.47ae147ae147ap-2")!)
        XCTAssertEqual(a.coordinate(49), Double("0x1.eb851eb851eb8p-1")!)
        XCTAssertEqual(a.coordinate(0), -1)
        XCTAssertEqual(a.coordinate(50), 1)
        let b = try GridAxis(parsing: "-0.5:1.5:41")
        XCTAssertEqual(b.coordinate(1), Double("-0x1.ccccccccccccdp-2")!)
        XCTAssertEqual(b.coordinate(13), Double("0x1.3333333333334p-3")!)
        XCTAssertEqual(b.coordinate(39), Double("0x1.7333333333334p+0")!)
        let c = try GridAxis(parsing: "-2:2:7")
        XCTAssertEqual(c.coordinate(1), Double("-0x1.5555555555556p+0")!)
        XCTAssertEqual(c.coordinate(2), Double("-0x1.5555555555556p-1")!)
        XCTAssertEqual(c.coordinate(5), Double("0x1.5555555555554p+0")!)
        for bad in ["1:1:5", "a:1:3", "-1:1", "-1:1:0"] {
            XCTAssertThrowsError(try GridAxis(parsing: bad)) { XCTAssertTrue("\($0)".contains(bad), "\($0)") }
        }
    }
}

extension GeometryTests {
    /// A trajectory lying in a plane: the two principal directions span it, the first follows
    /// the axis of larger spread, and the explained variance is all in two components.
    func testPrincipalComponentsOfATrajectoryInAPlane() throws {
        let p = 50
        var rng = TerrainRNG(seed: 4)
        let centre: [Float] = (0..<p).map { _ in Float(rng.normal()) }
        var u = (0..<p).map { _ in rng.normal() }, w = (0..<p).map { _ in rng.normal() }
        let nu = Kernels.dot(u, u).squareRoot()
        u = u.map { $0 / nu }
        let c = Kernels.dot(w, u)
        w = zip(w, u).map { $0 - c * $1 }
        let nw = Kernels.dot(w, w).squareRoot()
        w = w.map { $0 / nw }
        let a: [Double] = [-3, -1, 0.5, 2, 4, 5.5], b: [Double] = [0.3, -0.2, 0.5, -0.4, 0.1, 0.2]
        var trajectory = [[Float]]()
        for k in 0..<6 {
            var point = [Float](repeating: 0, count: p)
            for i in 0..<p {
                let value: Double = Double(centre[i]) + a[k] * u[i] + b[k] * w[i]
                point[i] = Float(value)
            }
            trajectory.append(point)
        }
        let (dirs, ratios) = try Directions.principalComponents(center: centre, trajectory: trajectory)
        let d1 = dirs[0].map(Double.init), d2 = dirs[1].map(Double.init)
        XCTAssertEqual(abs(Kernels.dot(d1, u)), 1, accuracy: 1e-4, "first component along the spread axis")
        let along: Double = Kernels.dot(d2, u), across: Double = Kernels.dot(d2, w)
        XCTAssertEqual(along * along + across * across, 1, accuracy: 1e-4)
        XCTAssertEqual(Kernels.dot(d1, d2), 0, accuracy: 1e-5)
        XCTAssertEqual(ratios[0] + ratios[1], 1, accuracy: 1e-6)
        XCTAssertGreaterThan(ratios[0], 0.95)
        XCTAssertThrowsError(try Directions.principalComponents(center: centre, trajectory: [centre]))
    }
}

import Foundation

extension GeometryTests {
    /// Recomputed BatchNorm statistics are the cumulative average over the data (for equal
    /// batches: the data's per-channel mean), with dropout off.
    func testBatchNormStatisticsAreRecomputedAsACumulativeAverage() throws {
        let (train, _) = try TestSupport.mnist1d()
        let data = train.prefix(512)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8], batchNorm: true, dropout: 0.5),
                                                         dataShape: [40], outputs: 10, seed: 1)
        let bn = model.layers.layers.compactMap { $0 as? BatchNorm<Float> }[0]
        bn.runningMean = Tensor(shape: [8], repeating: 7)
        XCTAssertTrue(Evaluator.recomputeBatchNormStatistics(model, on: data, batchSize: 128))
        let z = model.layers.layers[0].forward(data.x, context: .eval)   // the Linear before the BatchNorm
        for ch in 0..<8 {
            let mean = (0..<512).reduce(0.0) { $0 + Double(z[$1, ch]) } / 512
            XCTAssertEqual(Double(bn.runningMean.storage[ch]), mean, accuracy: 1e-5 * max(1, abs(mean)))
        }
        XCTAssertEqual(bn.batchesTracked, 4)
        let plain: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8]), dataShape: [40], outputs: 10, seed: 1)
        XCTAssertFalse(Evaluator.recomputeBatchNormStatistics(plain, on: data))
    }
}

extension GeometryTests {
    /// Reusing the first layer's products gives the direct evaluation's values (bit for bit at
    /// the origin, to Float rounding elsewhere), and declines models it cannot speed up.
    func testPlaneEvaluatorMatchesDirectEvaluation() throws {
        let (train, _) = try TestSupport.mnist1d()
        let data = train.prefix(1100)   // three chunks, the last partial
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [32, 16], batchNorm: true), dataShape: [40], outputs: 10, seed: 2)
        let space = ParameterSpace(model)
        let centre = space.values()
        let d1 = Directions.random(layout: space.layout, center: centre, seed: 1, normalization: .filter, oneDimensional: .copy)
        let d2 = Directions.random(layout: space.layout, center: centre, seed: 2, normalization: .filter, oneDimensional: .copy)
        let plane = try XCTUnwrap(PlaneEvaluator(model: model, data: data, loss: .crossEntropy, centre: centre, d1: d1, d2: d2))
        for (a, b) in [(0.0, 0.0), (0.5, -0.25), (-1.0, 1.0), (0.1, 0.9)] {
            space.setValues(Directions.point(center: centre, d1, a, d2, b))
            let direct = Evaluator.evaluate(model, on: data, loss: .crossEntropy)
            let reused = plane.evaluate(alpha: a, beta: b)
            if a == 0 && b == 0 {
                XCTAssertEqual(reused.loss.bitPattern, direct.loss.bitPattern)
            } else {
                XCTAssertEqual(reused.loss, direct.loss, accuracy: 1e-5 * direct.loss, "(\(a), \(b))")
            }
            XCTAssertEqual(reused.accuracy!, direct.accuracy!, accuracy: 2.0 / 1100)
        }
        let cnn: Model<Float> = try ModelBuilder.build(.exampleCNN, dataShape: [40], outputs: 10, seed: 0)
        let c = ParameterSpace(cnn).values()
        XCTAssertNil(PlaneEvaluator(model: cnn, data: data, loss: .crossEntropy, centre: c, d1: c, d2: nil))
    }
}

extension GeometryTests {
    /// The state space is the parameter vector followed by each BatchNorm's running mean and
    /// variance (PyTorch's `state_dict` order, `num_batches_tracked` left out); writing a
    /// vector back sets exactly those, and random directions treat the statistics by the
    /// one-dimensional rule (zero under `ignore`, the statistic itself under `copy`).
    func testTheStateSpaceAppendsTheBatchNormStatistics() throws {
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet, channels: [4, 8], inputShape: [3, 8, 8]),
                                                         dataShape: [3, 8, 8], outputs: 10, seed: 1)
        let parameters = ParameterSpace(model), states = StateSpace(model)
        let channels = states.norms.reduce(0) { $0 + $1.channels }
        XCTAssertGreaterThan(channels, 0)
        XCTAssertEqual(states.dimension, parameters.dimension + 2 * channels)
        let statistics = states.layout.filter { $0.role == .statistic }.map(\.name)
        let expected = model.namedBuffers.map(\.name).filter { !$0.hasSuffix("num_batches_tracked") }
        XCTAssertEqual(statistics, expected)
        XCTAssertEqual(statistics.first.map { $0.hasSuffix("running_mean") }, true)
        var v = states.values()
        XCTAssertEqual(Array(v[0..<parameters.dimension]), parameters.values())
        for i in parameters.dimension..<v.count { v[i] = Float(i % 7) + 0.25 }
        states.setValues(v)
        XCTAssertEqual(states.values(), v)
        let bn = states.norms[0]
        XCTAssertEqual(bn.runningMean.storage, (0..<bn.channels).map { Float((parameters.dimension + $0) % 7) + 0.25 })
        XCTAssertEqual(Array(states.values()[0..<parameters.dimension]), parameters.values(), "parameters untouched")
        let ignore = Directions.random(layout: states.layout, center: v, seed: 3, normalization: .filter, oneDimensional: .ignore)
        let copy = Directions.random(layout: states.layout, center: v, seed: 3, normalization: .filter, oneDimensional: .copy)
        XCTAssertEqual(Array(ignore[parameters.dimension...]), [Float](repeating: 0, count: 2 * channels))
        XCTAssertEqual(Array(copy[parameters.dimension...]), Array(v[parameters.dimension...]))
        XCTAssertEqual(Array(ignore[0..<parameters.dimension]),
                       Directions.random(layout: parameters.layout, center: parameters.values(), seed: 3, normalization: .filter, oneDimensional: .ignore),
                       "the parameters' part is the parameter-space direction")
    }
}
