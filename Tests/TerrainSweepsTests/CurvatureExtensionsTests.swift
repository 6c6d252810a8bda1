import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// Issue 14's curvature options in surface sweeps: `surface.convexity` (λ_max, λ_min and
/// |λ_min/λ_max| per point), `directions: {kind: hessian}`, `curvature.layers` and the
/// negative side of the SLQ summary.
final class CurvatureExtensionsTests: XCTestCase {
    private let data = TestSupport.dataPath("mnist1d.npz")

    private func spec(_ surface: String, curvature: String = "") throws -> SurfaceSpec {
        let text = """
        kind: surface
        model: {kind: mlp, hidden: [8]}
        data: {path: \(data), train_subset: 300, test_subset: 100}
        surface:
          train: {optimizer: {name: adam, lr: 0.01}, batch_size: 50, epochs: 2, seed: 1}
          x: "-1:1:3"
          y: "-1:1:3"
        \(surface)
        \(curvature)
        """
        let parsed = try SweepSpec.parse(text, source: "s.yaml")
        guard let surface = parsed.surface else { throw TerrainError.invalidArgument("not a surface spec") }
        return surface
    }

    func testTheOptionsParseAndNameTheirMetrics() throws {
        let s = try spec("  convexity: {steps: 12, samples: 200, seed: 4}\n  directions: {kind: hessian, samples: 100}",
                         curvature: "curvature: {layers: {steps: 8, probes: 6}, lanczos: {runs: 2, steps: 10}}")
        XCTAssertEqual(s.convexity, ConvexityProbe(steps: 12, samples: 200, seed: 4))
        XCTAssertEqual(s.metricNames, ["train_loss", "train_acc", "test_loss", "test_acc", "lambda_max", "lambda_min", "eigen_ratio"])
        XCTAssertEqual(s.directionKind, .hessian)
        XCTAssertEqual(s.normalization, .none, "Hessian eigenvectors stay unit vectors by default")
        XCTAssertEqual(s.hessianSamples, 100)
        XCTAssertEqual(s.curvature?.layerSteps, 8)
        XCTAssertEqual(s.curvature?.layerProbes, 6)
        XCTAssertEqual(try spec("  convexity: true").convexity, ConvexityProbe())
        for (surface, message) in [("  convexity: {steps: 1}", "surface.convexity.steps"),
                                   ("  convexity: {stride: 3}", "stride"),
                                   ("  directions: {kind: random, samples: 10}", "surface.directions.samples"),
                                   ("  directions: {kind: hessian, states: true}", "surface.directions.states")] {
            XCTAssertThrowsError(try spec(surface), surface) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        XCTAssertThrowsError(try spec("", curvature: "curvature: {layers: {probes: 1}}")) { XCTAssertTrue("\($0)".contains("curvature.layers.probes"), "\($0)") }
    }

    /// A tile without the option stores the parameters it stored before (no `convexity` key).
    func testTilesWithoutConvexityKeepTheirBytes() throws {
        let tile = SurfaceKind.Tile(x: [0, 1], y: nil, start: 0, end: 2, sets: ["train"], recomputeBatchNorm: nil)
        let json = String(decoding: try JSONEncoder().encode(tile), as: UTF8.self)
        XCTAssertFalse(json.contains("convexity"))
        XCTAssertEqual(tile.valuesPerPoint, 2)
        var with = tile
        with.convexity = ConvexityProbe(steps: 5)
        XCTAssertEqual(with.valuesPerPoint, 5)
        with.convexity = ConvexityProbe(steps: 1)
        XCTAssertNotNil(with.problem)
    }

    /// Hessian directions are the top-2 eigenvectors (unit, orthogonal), sign-fixed so that
    /// their largest entry is positive; 1-D surfaces get the top one.
    func testHessianDirectionsAreTheSignFixedTopEigenvectors() throws {
        let (train, _) = try DataLoader.load(DataSpec(path: data, trainSubset: 200), baseDirectory: "/", seed: 0, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8]), dataShape: [40], outputs: 10, seed: 2)
        let space = ParameterSpace(model)
        let p = try spec("  directions: {kind: hessian, seed: 5}").directionsParams
        XCTAssertEqual(p.loss, .crossEntropy)
        XCTAssertNil(p.samples)
        let d = try SurfaceSpec.directions(p, centre: space.values(), layout: space.layout, dataShape: [40], outputs: 10, model: model, train: train)
        let d1 = d.d1.map(Double.init), d2 = try XCTUnwrap(d.d2).map(Double.init)
        XCTAssertEqual(Kernels.dot(d1, d1), 1, accuracy: 1e-5)
        XCTAssertEqual(Kernels.dot(d2, d2), 1, accuracy: 1e-5)
        XCTAssertEqual(Kernels.dot(d1, d2), 0, accuracy: 1e-4)
        let pairs = try HessianOperator(model: model, data: train, loss: .crossEntropy).topEigenpairs(k: 2, seed: 5)
        for (d, pair) in zip([d1, d2], pairs) {
            XCTAssertGreaterThan(abs(Kernels.dot(d, pair.vector)), 0.99999)
            XCTAssertGreaterThan(d.max()!, -d.min()!, "the largest-magnitude entry is positive")
        }
        XCTAssertThrowsError(try SurfaceSpec.directions(p, centre: space.values(), layout: space.layout, dataShape: [40], outputs: 10))
    }

    /// `layers` probes and Lanczos runs merge into the summary: per-group spectra in parameter
    /// order, λ_min/λ_max as the extreme Ritz values, the mass below zero from the weights.
    func testLayerSpectraAndTheNegativeSideMergeIntoTheSummary() throws {
        let (train, _) = try DataLoader.load(DataSpec(path: data, trainSubset: 200), baseDirectory: "/", seed: 0, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [6], activation: .tanh), dataShape: [40], outputs: 10, seed: 2)
        let h = try HessianOperator(model: model, data: train, loss: .crossEntropy)
        var layers = HessianKind.Probe(mode: .layers, index: 0, steps: 8, seed: 1)
        layers.probes = 4
        let out = HessianKind.measure(layers, on: h)
        XCTAssertEqual(Set(out.keys), ["group:layers.0", "group:layers.2", "dimension", "free_dimension"])
        let network = NetworkParams(model: model.spec, data: DataSpec(path: data), dataSHA256: "", dataSeed: 0, loss: .crossEntropy)
        let params = Networked(network, layers)
        let encoded = try JSONEncoder().encode(out)
        XCTAssertEqual(HessianKind().judge(TaskOutput(output: [UInt8](encoded)), params: params, task: 1), .accept(nil))
        let lanczos = (0..<3).map { i -> (params: HessianKind.Probe, output: [String: [Double]]) in
            let probe = HessianKind.Probe(mode: .lanczos, index: UInt64(i), steps: 20, seed: 3)
            return (probe, HessianKind.measure(probe, on: h))
        }
        let s = CurvatureSpec.summarize(lanczos + [(layers, out)])
        XCTAssertEqual(s.layers?.map(\.name), ["layers.0", "layers.2"])
        XCTAssertEqual(s.layers, h.layerSpectra(steps: 8, probes: 4, seed: 1))
        let ritz = lanczos.flatMap { $0.output["values"]! }
        XCTAssertEqual(s.lambdaMin, ritz.min())
        XCTAssertEqual(s.lambdaMax, ritz.max())
        XCTAssertEqual(s.eigenRatio, abs(ritz.min()! / ritz.max()!))
        let threshold = 0.01 * ritz.map(abs).max()!  // eigenvalues within 1 % of the spectral radius count as zero
        let mass = lanczos.map { o in zip(o.output["values"]!, o.output["weights"]!).filter { $0.0 < -threshold }.reduce(0.0) { $0 + $1.1 } }
        XCTAssertEqual(s.negativeMass!, mass.reduce(0, +) / 3, accuracy: 1e-15)
    }
}
