import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainSweeps
import XCTest

/// Surface values and curvature at the centre against an independent numpy reference
/// (Fixtures/surface/make_surface_reference.py: float64 forward passes and an exact Hessian
/// from analytic gradients, on a Terrain checkpoint and the directions Terrain generated).
final class SurfaceReferenceTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/surface")

    struct Reference: Decodable {
        struct Point: Decodable {
            var alpha: Double, beta: Double
            var train_loss: Double, train_acc: Double, test_loss: Double, test_acc: Double
        }
        var points: [Point]
        var lambda_max: Double, lambda_2: Double, lambda_min: Double, trace: Double
        var eigenvalues_by_magnitude: [Double]
    }

    private func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("reference.json")))
    }

    func testSurfaceValuesMatchTheNumpyReference() throws {
        let h = try ProcessHarness(name: "ref")
        defer { h.cleanUp() }
        let spec = Self.fixtures.appendingPathComponent("surface.yaml").path
        let c = try h.start(["coordinator", spec, "--bind", h.endpoint, "--dataset", h.dataset, "--quiet"], label: "coordinator")
        let w = try h.worker("w")
        XCTAssertEqual(h.waitForExit(c), 0, h.output("coordinator"))
        _ = h.waitForExit(w)
        let sweep = try SweepSpec.load(path: spec)
        let s = sweep.surface!
        let grid = try SurfaceSpec.assemble(points: s.points, metrics: 4, outputs: try h.open().completedOutputs().map { ($0.params, $0.output) })
        // The directions Terrain generates today are the ones the reference was computed with.
        let directions = try SafeTensors.read(contentsOf: Self.fixtures.appendingPathComponent("directions.safetensors").path).tensors
        let stored = try h.open().staticInputs(of: 1)
        let d1: [Float] = stored["d1"]!.withUnsafeBytes { raw in (0..<(stored["d1"]!.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        XCTAssertEqual(Array(d1.prefix(640)), try directions["d1.layers.0.weight"]!.values(as: Float.self), "direction d1 changed since the fixture was made")
        for p in try reference().points {
            let i = s.x.coordinates.firstIndex(of: p.alpha)!, j = s.y!.coordinates.firstIndex(of: p.beta)!
            let k = j * s.x.count + i
            for (m, expected) in [(0, p.train_loss), (2, p.test_loss)] {
                XCTAssertEqual(grid[m][k], expected, accuracy: 1e-4 * abs(expected), "metric \(m) at (\(p.alpha), \(p.beta))")
            }
            XCTAssertEqual(grid[1][k], p.train_acc, accuracy: 1e-9)
            XCTAssertEqual(grid[3][k], p.test_acc, accuracy: 1e-9)
        }
    }

    private func hessian() throws -> HessianOperator<Float> {
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [16]), dataShape: [40], outputs: 10, seed: 0)
        try Checkpoint.load(Self.fixtures.appendingPathComponent("centre.safetensors").path, into: model)
        let (train, _) = try DataLoader.load(DataSpec(path: Self.fixtures.appendingPathComponent("../../../../data/mnist1d.npz").standardizedFileURL.path),
                                             baseDirectory: "/", seed: 0, as: Float.self)
        return try HessianOperator(model: model, data: train, loss: .crossEntropy)
    }

    func testTopEigenvaluesAndTraceMatchTheNumpyReference() throws {
        let r = try reference()
        let h = try hessian()
        // λ_max by power iteration (here also the largest in magnitude: λ_min ≈ −0.06) and by Lanczos.
        let top = h.topEigenpairs(k: 2, maxIterations: 300, tolerance: 1e-7, seed: 2)
        XCTAssertEqual(top[0].value, r.lambda_max, accuracy: 0.01 * abs(r.lambda_max))
        XCTAssertEqual(top[1].value, r.lambda_2, accuracy: 0.01 * abs(r.lambda_2), "second eigenvalue by deflation")
        XCTAssertEqual(h.largestEigenvalue(steps: 80, seed: 1), r.lambda_max, accuracy: 0.01 * abs(r.lambda_max))
        XCTAssertEqual(h.exactTrace(), r.trace, accuracy: 0.01 * abs(r.trace))
    }

    /// `terrain evaluate --eigenvalues 3` and `curvature.eigenvalues: 3` share power iteration's
    /// defaults (`PowerIteration`, relative tolerance 1e-5): the three eigenvalues of largest
    /// magnitude, largest first, then match numpy's `eigvalsh` of the exact Hessian to 1e-4
    /// relative from every start vector, each within its residual ‖Hv − λv‖ of the reference.
    /// The 1e-4 tolerance `terrain evaluate` used before stops early on this spectrum
    /// (λ2/λ1 ≈ 0.87): 2.6–3.5e-4 off from seeds 1 and 2, and from seed 3 it settles on λ2 first.
    func testTopThreeEigenvaluesWithTheSharedDefaultsMatchTheNumpyReference() throws {
        let r = try reference()
        let h = try hessian()
        XCTAssertEqual(r.eigenvalues_by_magnitude.count, 3)
        for seed: UInt64 in 0...3 {
            let pairs = h.topEigenpairs(k: 3, seed: seed)
            for (i, (pair, expected)) in zip(pairs, r.eigenvalues_by_magnitude).enumerated() {
                XCTAssertTrue(pair.converged, "seed \(seed): λ\(i + 1) after \(pair.iterations) iterations")
                XCTAssertEqual(pair.value, expected, accuracy: 1e-4 * abs(expected), "seed \(seed): λ\(i + 1)")
                XCTAssertLessThanOrEqual(abs(pair.value - expected), pair.residual, "seed \(seed): λ\(i + 1) within its residual")
            }
        }
    }

    func testHutchinsonAndLanczosTraceEstimatesAgreeWithTheReferenceWithinTheirError() throws {
        let r = try reference()
        let h = try hessian()
        let samples = (0..<200).map { h.hutchinsonSample(seed: 7, index: UInt64($0)) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let se = (samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count - 1) / Double(samples.count)).squareRoot()
        XCTAssertEqual(mean, r.trace, accuracy: 4 * se, "Hutchinson \(mean) ± \(se)")
        XCTAssertLessThan(se, 0.2 * abs(r.trace))
        var slq = [Double]()
        for i in 0..<10 {
            let run = h.lanczos(steps: 40, seed: 8, index: UInt64(i))
            XCTAssertEqual(run.weights.reduce(0, +), 1, accuracy: 1e-9)
            slq.append(Double(h.dimension) * zip(run.values, run.weights).reduce(0) { $0 + $1.0 * $1.1 })
        }
        let slqMean = slq.reduce(0, +) / Double(slq.count)
        let slqSE = (slq.reduce(0) { $0 + ($1 - slqMean) * ($1 - slqMean) } / Double(slq.count - 1) / Double(slq.count)).squareRoot()
        XCTAssertEqual(slqMean, r.trace, accuracy: 4 * slqSE + 1e-6, "SLQ trace \(slqMean) ± \(slqSE)")
    }
}
