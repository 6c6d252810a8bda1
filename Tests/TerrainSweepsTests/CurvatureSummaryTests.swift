import Foundation
import TerrainCore
import TerrainDataset
import TerrainExport
import TerrainSweeps
import XCTest

/// What a surface sweep's `hessian` tasks measure and how their outputs merge: the SLQ trace
/// of a pruned network, eigenvalue residuals, and the density's conventions in the figure.
final class CurvatureSummaryTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-curv-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A small trained MLP on 300 MNIST-1D samples, with about half of each weight matrix
    /// masked (pruned) when `pruned`.
    private func hessian(pruned: Bool) throws -> HessianOperator<Float> {
        let (train, _) = try DataLoader.load(DataSpec(path: TestSupport.dataPath("mnist1d.npz"), trainSubset: 300), baseDirectory: "/",
                                             seed: 0, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8]), dataShape: [40], outputs: 10, seed: 4)
        try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 50, epochs: 2, seed: 1,
                                                                       optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
        if pruned {
            var rng = TerrainRNG(seed: 9)
            for p in model.parameters where p.shape.count == 2 {
                p.mask = Tensor(shape: p.shape, storage: (0..<p.count).map { _ in rng.nextUInt32() & 1 == 0 ? 0 : 1 })
                p.applyMask()
            }
        }
        return try HessianOperator(model: model, data: train, loss: .crossEntropy)
    }

    /// The SLQ trace scales each run by the free parameter count: a run's start vector is the
    /// Rademacher probe on the free coordinates, normalized, so `Σₖ τₖθₖ = vᵀHv / P_free` exactly
    /// (Lanczos integrates polynomials of degree ≤ 2m − 1 exactly) and `P_free·Σₖ τₖθₖ` is the
    /// Hutchinson sample `vᵀHv` of the same probe. Scaled by P instead it would overstate the
    /// trace of this half-pruned network by P/P_free ≈ 2.
    func testTheSLQTraceOfAPrunedNetworkMatchesItsExactTrace() throws {
        let h = try hessian(pruned: true)
        XCTAssertLessThan(Double(h.freeDimension), 0.6 * Double(h.dimension), "about half the weights are pruned")
        let exact = h.exactTrace()
        let outputs = (0..<16).map { i -> (params: HessianKind.Probe, output: [String: [Double]]) in
            let probe = HessianKind.Probe(mode: .lanczos, index: UInt64(i), steps: 30, seed: 3)
            return (probe, HessianKind.measure(probe, on: h))
        }
        XCTAssertEqual(outputs[0].output["free_dimension"], [Double(h.freeDimension)])
        let s = CurvatureSpec.summarize(outputs)
        let trace = try XCTUnwrap(s.slqTrace), se = try XCTUnwrap(s.slqTraceStandardError)
        XCTAssertEqual(s.freeDimension, h.freeDimension)
        XCTAssertEqual(trace, exact, accuracy: 4 * se, "SLQ trace \(trace) ± \(se), exact \(exact)")
        // Run by run: the trace of each run is the Hutchinson sample of its start vector.
        for (probe, output) in outputs {
            let run = SpectralDensity.slqTrace(values: output["values"]!, weights: output["weights"]!, freeDimension: h.freeDimension)
            XCTAssertEqual(h.slqTrace(values: output["values"]!, weights: output["weights"]!), run)
            let sample = h.hutchinsonSample(seed: probe.seed, index: probe.index)
            XCTAssertEqual(run, sample, accuracy: 1e-4 * abs(sample), "run \(probe.index): P_free·Σ τθ = vᵀHv")
            let overstated = Double(h.dimension) / Double(h.freeDimension) * run
            XCTAssertGreaterThan(abs(overstated - sample), 0.5 * abs(sample), "the test tells P from P_free")
        }
        // Hutchinson probes are masked too: their mean is the same trace.
        let samples = (0..<64).map { i in HessianKind.measure(HessianKind.Probe(mode: .hutchinson, index: UInt64(i), seed: 5), on: h)["sample"]![0] }
        let merged = CurvatureSpec.summarize(samples.enumerated().map { (HessianKind.Probe(mode: .hutchinson, index: UInt64($0.offset)), ["sample": [$0.element]]) })
        XCTAssertEqual(try XCTUnwrap(merged.trace), exact, accuracy: 4 * (merged.traceStandardError ?? 0))
    }

    /// The eigen task records each eigenvalue's residual ‖Hv − λv‖, and the summary keeps them.
    func testTheEigenTaskRecordsResidualsThatTheSummaryKeeps() throws {
        let h = try hessian(pruned: false)
        let probe = HessianKind.Probe(mode: .eigen, index: 0, eigenvalues: 2, seed: 1)
        let out = HessianKind.measure(probe, on: h)
        let residuals = try XCTUnwrap(out["residuals"])
        XCTAssertEqual(residuals.count, 2)
        let pairs = h.topEigenpairs(k: 2, seed: 1)
        XCTAssertEqual(out["eigenvalues"], pairs.map(\.value), "the task uses the shared defaults, as terrain evaluate does")
        for (r, p) in zip(residuals, pairs) { XCTAssertLessThan(r, 1e-2 * abs(p.value)) }
        let s = CurvatureSpec.summarize([(probe, out)])
        XCTAssertEqual(s.eigenvalueResiduals, residuals)
    }

    private func curvature(_ section: String) throws -> CurvatureSpec {
        let spec = try SweepSpec.parse("""
        kind: surface
        model: {kind: mlp, hidden: [8]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz"))}
        surface: {checkpoint: \(dir)/centre.safetensors, x: "-1:1:3"}
        curvature: \(section)
        """, baseDirectory: dir)
        return try XCTUnwrap(spec.surface?.curvature)
    }

    /// `curvature.eigenvalues` takes a count (power iteration's shared defaults) or
    /// `{count, tolerance, max_iterations}`; the eigen task honours them, and a probe with the
    /// defaults stores no tolerance, so sweeps written before keep their task parameters.
    func testEigenvalueToleranceAndIterationsComeFromTheSpec() throws {
        let plain = try curvature("{eigenvalues: 2}")
        XCTAssertEqual(plain.eigenvalues, 2)
        XCTAssertNil(plain.eigenTolerance)
        XCTAssertNil(plain.eigenIterations)
        let tuned = try curvature("{eigenvalues: {count: 2, tolerance: 1e-7, max_iterations: 4}}")
        XCTAssertEqual(tuned.eigenvalues, 2)
        XCTAssertEqual(tuned.eigenTolerance, 1e-7)
        XCTAssertEqual(tuned.eigenIterations, 4)
        for (section, field) in [("{eigenvalues: {count: 0}}", "curvature.eigenvalues.count"),
                                 ("{eigenvalues: {count: 2, tolerance: 0}}", "curvature.eigenvalues.tolerance"),
                                 ("{eigenvalues: {count: 2, tolerance: 1.5}}", "curvature.eigenvalues.tolerance"),
                                 ("{eigenvalues: {count: 2, max_iterations: 0}}", "curvature.eigenvalues.max_iterations"),
                                 ("{eigenvalues: {count: 2, tol: 1e-5}}", "tol"),
                                 ("{eigenvalues: -1}", "curvature.eigenvalues")] {
            XCTAssertThrowsError(try curvature(section), section) { e in XCTAssertTrue("\(e)".contains(field), "\(section): \(e)") }
        }
        let h = try hessian(pruned: false)
        let capped = HessianKind.measure(HessianKind.Probe(mode: .eigen, index: 0, eigenvalues: 2, seed: 1, tolerance: 1e-7, maxIterations: 4), on: h)
        XCTAssertEqual(capped["iterations"], [4, 4], "a tolerance of 1e-7 is not met in 4 iterations: the cap stops both")
        let json = String(decoding: try JSONEncoder().encode(HessianKind.Probe(mode: .eigen, index: 0, eigenvalues: 2)), as: UTF8.self)
        XCTAssertFalse(json.contains("tolerance") || json.contains("maxIterations"), json)
    }

    /// A stored surface sweep with finished Lanczos runs: the density figure says what it
    /// shows — a probability density (integrates to 1; × P for counts) — and how σ was
    /// chosen; `--sigma` re-broadens the stored Ritz values.
    func testTheDensityFigureStatesItsConventionsAndSigmaCanBeChosen() throws {
        let h = try hessian(pruned: false)
        let path = dir + "/surface.sqlite"
        let ds = try SweepDataset(path: path)
        let spec = """
        kind: surface
        model: {kind: mlp, hidden: [8]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 300}
        surface: {checkpoint: \(dir)/centre.safetensors, x: "-1:1:3"}
        curvature: {lanczos: {runs: 3, steps: 20}}
        """
        let probes = (0..<3).map { HessianKind.Probe(mode: .lanczos, index: UInt64($0), steps: 20, seed: 0) }
        let network = NetworkParams(model: ModelSpec(kind: .mlp, hidden: [8]), data: DataSpec(path: TestSupport.dataPath("mnist1d.npz")),
                                    dataSHA256: "", dataSeed: 0, loss: .crossEntropy)
        try ds.create(spec: spec, specHash: "00", kind: "surface",
                      tasks: try probes.enumerated().map { StoredTask(id: UInt64($0.offset + 1), kind: HessianKind.name,
                                                                      params: try HessianKind.encode(Networked(network, $0.element))) })
        let outputs = probes.map { HessianKind.measure($0, on: h) }
        try ds.commit(results: outputs.enumerated().map { i, o in
            .init(task: UInt64(i + 1), attempt: 1, worker: "w", output: [UInt8](try! JSONEncoder().encode(o)),
                  digest: [UInt8](repeating: 0, count: 32), elapsed: 0, received: 0, blobs: [])
        }, statuses: [], events: [])
        let sweep = try StoredSweep(path: path)
        let standard = try XCTUnwrap(try sweep.sweepKind.render(sweep, options: RenderOptions(density: true)).first).svg
        XCTAssertTrue(standard.contains("probability density (integrates to 1; × P = \(h.freeDimension) for counts)"), standard)
        XCTAssertTrue(standard.contains("σ = Ritz range/100"), standard)
        let ritz = outputs.flatMap { $0["values"]! }
        let sigma = (ritz.max()! - ritz.min()!) / 100
        XCTAssertTrue(standard.contains("Gaussian σ = \(String(format: "%.3g", sigma))"), standard)
        let pyhessian = try XCTUnwrap(try sweep.sweepKind.render(sweep, options: RenderOptions(density: true, sigma: .pyhessian)).first).svg
        XCTAssertTrue(pyhessian.contains("σ² = 1e-5·max(1, range), PyHessian"), pyhessian)
        let chosen = try XCTUnwrap(try sweep.sweepKind.render(sweep, options: RenderOptions(density: true, sigma: .absolute(0.25))).first).svg
        XCTAssertTrue(chosen.contains("Gaussian σ = 0.25 (σ chosen)"), chosen)
        XCTAssertNotEqual(chosen, standard)
    }
}
