import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainSweeps
import XCTest

/// Surface sweeps through the real runtime: values at the centre, and determinism across
/// tile sizes, worker counts and a killed worker.
final class SurfaceSweepTests: XCTestCase {
    private var harnesses: [ProcessHarness] = []

    override func tearDown() {
        for h in harnesses { h.cleanUp() }
    }

    private static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Trains a small MLP briefly and writes its checkpoint.
    private func centre(in dir: String) throws -> (path: String, model: Model<Float>, train: Dataset<Float>) {
        let spec = DataSpec(path: Self.repo.appendingPathComponent("data/mnist1d.npz").path, trainSubset: 600, testSubset: 300)
        let (train, _) = try DataLoader.load(spec, baseDirectory: "/", seed: TerrainRNG.derive(0, "data"), as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [24]), dataShape: [40], outputs: 10, seed: 1)
        try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 50, epochs: 3, seed: 1, optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
        let path = dir + "/centre.safetensors"
        try Checkpoint.save(model: model, step: 0, to: path)
        return (path, model, train)
    }

    private func spec(_ h: ProcessHarness, checkpoint: String, tile: Int, axes: String = "x: \"-1:1:9\"\n  y: \"-0.5:0.5:9\"") throws -> String {
        try h.write("surface-\(tile).yaml", """
        name: s
        kind: surface
        model: {kind: mlp, hidden: [24]}
        data: {path: \(Self.repo.appendingPathComponent("data/mnist1d.npz").path), train_subset: 600, test_subset: 300}
        surface:
          checkpoint: \(checkpoint)
          \(axes)
          directions: {kind: random, normalization: filter, seed: 4}
          tile: \(tile)
        runtime: {heartbeat_ms: 100, liveness: 5}
        """)
    }

    private func grid(_ h: ProcessHarness, points: Int = 81, metrics: Int = 4) throws -> [[Double]] {
        let ds = try h.open()
        let outputs = try ds.completedOutputs().map { (params: $0.params, output: $0.output) }
        return try SurfaceSpec.assemble(points: points, metrics: metrics, outputs: outputs)
    }

    func testValueAtTheOriginEqualsTheCentreCheckpointsLoss() throws {
        let h = try ProcessHarness(name: "origin")
        harnesses.append(h)
        let (path, _, _) = try centre(in: h.dir)
        let s = try spec(h, checkpoint: path, tile: 8, axes: "x: \"-1:1:7\"\n  y: \"-1:1:5\"")
        try h.runToEnd(s)
        let g = try grid(h, points: 35)
        // The origin is x index 3, y index 2 → flat index 2·7 + 3 = 17.
        // Reference: the evaluation `terrain train`/`terrain evaluate` use, on the loaded checkpoint.
        let sweep = try SweepSpec.load(path: s)
        let (train, test) = try DataLoader.load(sweep.surface!.data, baseDirectory: "/", seed: sweep.surface!.dataSeed, as: Float.self)
        let reference: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [24]), dataShape: [40], outputs: 10, seed: 0)
        try Checkpoint.load(path, into: reference)
        let m = Evaluator.evaluate(reference, on: train, loss: .crossEntropy)
        let t = Evaluator.evaluate(reference, on: test!, loss: .crossEntropy)
        XCTAssertEqual(g[0][17].bitPattern, m.loss.bitPattern, "train loss at (0, 0): \(g[0][17]) vs \(m.loss)")
        XCTAssertEqual(g[1][17], m.accuracy)
        XCTAssertEqual(g[2][17].bitPattern, t.loss.bitPattern)
        XCTAssertFalse(g[0].contains { $0.isNaN })
        XCTAssertGreaterThan(g[0][0], g[0][17], "a corner of the plane is higher than the trained centre")
    }

    func testTileSizeWorkerCountAndAKilledWorkerDoNotChangeAnyValue() throws {
        let ha = try ProcessHarness(name: "tile1")
        let hb = try ProcessHarness(name: "tile64")
        harnesses += [ha, hb]
        let (path, _, _) = try centre(in: ha.dir)
        // A: tile 1, one worker.
        try ha.runToEnd(try spec(ha, checkpoint: path, tile: 1))
        // B: tile 64 (81 points: two tasks), three workers, one killed mid-sweep.
        let cb = try hb.coordinator(try spec(hb, checkpoint: path, tile: 64))
        let workers = try (0..<3).map { try hb.worker("w\($0)") }
        hb.waitFor("workers busy") { (try? hb.open().readProgress().running) ?? 0 >= 1 }
        kill(workers[0].processIdentifier, SIGKILL)
        XCTAssertEqual(hb.waitForExit(cb), 0, hb.output("coordinator"))
        for w in workers.dropFirst() { _ = hb.waitForExit(w) }
        let a = try grid(ha), b = try grid(hb)
        for m in 0..<4 {
            XCTAssertEqual(a[m].map(\.bitPattern), b[m].map(\.bitPattern), "metric \(m) differs between the runs")
        }
        XCTAssertFalse(a[0].contains { $0.isNaN })
    }
}

extension SurfaceSweepTests {
    /// 1-D interpolation on the grid users write, `-0.2:1.2:29` (step 0.05, which puts t = 0 at
    /// −2.8e-17): the endpoints equal the two checkpoints' losses, the barrier is recorded in the
    /// dataset and `terrain status` prints it; curvature tasks of the same sweep merge into one
    /// summary.
    func testInterpolationEndpointsBarrierAndCurvatureSummaryLandInTheDataset() throws {
        let h = try ProcessHarness(name: "interp")
        harnesses.append(h)
        let (a, modelA, train) = try centre(in: h.dir)
        let modelB: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [24]), dataShape: [40], outputs: 10, seed: 9)
        try Trainer(model: modelB, train: train, config: TrainingConfig(batchSize: 50, epochs: 3, seed: 2, optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
        let b = h.dir + "/b.safetensors"
        try Checkpoint.save(model: modelB, step: 0, to: b)
        let spec = try h.write("interp.yaml", """
        kind: surface
        model: {kind: mlp, hidden: [24]}
        data: {path: \(Self.repo.appendingPathComponent("data/mnist1d.npz").path), train_subset: 600, test_subset: 300}
        surface:
          checkpoint: \(a)
          x: "-0.2:1.2:29"
          directions: {kind: interpolation, to: \(b)}
          tile: 8
        curvature: {eigenvalues: 1, hutchinson: 6, lanczos: {runs: 2, steps: 10}, samples: 200}
        runtime: {heartbeat_ms: 100}
        """)
        try h.runToEnd(spec)
        let sweep = try SweepSpec.load(path: spec)
        let (trainSet, _) = try DataLoader.load(sweep.surface!.data, baseDirectory: "/", seed: sweep.surface!.dataSeed, as: Float.self)
        let lossA = Evaluator.evaluate(modelA, on: trainSet, loss: .crossEntropy).loss
        let lossB = Evaluator.evaluate(modelB, on: trainSet, loss: .crossEntropy).loss
        let ds = try h.open()
        let grid = try self.grid(h, points: 29)
        // x = -0.2, -0.15, …: t ≈ 0 (−2.8e-17) is index 4, t = 1 is index 24.
        XCTAssertEqual(grid[0][4], lossA, accuracy: 1e-6 * lossA, "θ_A − 2.8e-17·(θ_B − θ_A) rounds to θ_A")
        XCTAssertEqual(grid[0][24], lossB, accuracy: 1e-6 * lossB, "θ_A + 1·(θ_B − θ_A) rounds to θ_B within an ulp")
        let summaries = try ds.summaries()
        let interpolation = try JSONSerialization.jsonObject(with: Data(summaries["interpolation"]!.utf8)) as! [String: Any]
        let barrier = try XCTUnwrap(interpolation["train_barrier"] as? Double, "\(interpolation)")
        XCTAssertEqual(barrier, (4...24).map { grid[0][$0] }.max()! - max(grid[0][4], grid[0][24]), accuracy: 1e-12)
        XCTAssertEqual(interpolation["test_loss_a"] as? Double ?? .nan, grid[2][4], accuracy: 1e-12 * grid[2][4], "to an ulp through the JSON summary")
        let status = try h.start(["status", h.dataset], label: "status")
        XCTAssertEqual(h.waitForExit(status), 0, h.output("status"))
        XCTAssertTrue(h.output("status").contains("train_barrier \(String(format: "%.6g", barrier))"), h.output("status"))
        XCTAssertFalse(h.output("status").contains("nan"), h.output("status"))
        let curvature = try JSONDecoder().decode(CurvatureSpec.Summary.self, from: Data(summaries["curvature"]!.utf8))
        XCTAssertEqual(curvature.eigenvalues?.count, 1)
        XCTAssertEqual(curvature.probes, 6)
        XCTAssertNotNil(curvature.traceStandardError)
        XCTAssertEqual(curvature.lanczosRuns, 2)
        XCTAssertEqual(curvature.density?.count, curvature.densityGrid?.count)
        XCTAssertEqual(curvature.eigenvalueResiduals?.count, 1)
        // The density figure, re-broadened as PyHessian does, states its conventions.
        let svg = h.dir + "/density.svg"
        let render = try h.start(["render", h.dataset, "--density", "--sigma", "pyhessian", "--output", svg], label: "render")
        XCTAssertEqual(h.waitForExit(render), 0, h.output("render"))
        let figure = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(figure.contains("PyHessian") && figure.contains("probability density (integrates to 1"), figure)
        let refused = try h.start(["render", h.dataset, "--sigma", "0.1"], label: "refused")
        XCTAssertNotEqual(h.waitForExit(refused), 0)
        XCTAssertTrue(h.output("refused").contains("--sigma sets the broadening of the eigenvalue density: use it with --density"),
                      h.output("refused"))
    }
}

extension SurfaceSweepTests {
    /// The plane through three checkpoints passes through each of them.
    func testPlaneThroughThreeCheckpointsPassesThroughEachOfThem() throws {
        let h = try ProcessHarness(name: "plane")
        harnesses.append(h)
        let (a, modelA, train) = try centre(in: h.dir)
        var others = [(String, Model<Float>)]()
        for (i, seed) in [(1, UInt64(21)), (2, UInt64(22))] {
            let m: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [24]), dataShape: [40], outputs: 10, seed: seed)
            try Trainer(model: m, train: train, config: TrainingConfig(batchSize: 50, epochs: 2, seed: seed, optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
            let path = h.dir + "/m\(i).safetensors"
            try Checkpoint.save(model: m, step: 0, to: path)
            others.append((path, m))
        }
        let spec = try h.write("plane.yaml", """
        kind: surface
        model: {kind: mlp, hidden: [24]}
        data: {path: \(Self.repo.appendingPathComponent("data/mnist1d.npz").path), train_subset: 600, test_subset: 300}
        surface:
          checkpoint: \(a)
          x: "0:1:2"
          y: "0:1:2"
          directions: {kind: plane, to: \(others[0].0), third: \(others[1].0)}
          sets: [train]
        runtime: {heartbeat_ms: 100}
        """)
        try h.runToEnd(spec)
        let sweep = try SweepSpec.load(path: spec)
        let (trainSet, _) = try DataLoader.load(sweep.surface!.data, baseDirectory: "/", seed: sweep.surface!.dataSeed, as: Float.self)
        let grid = try self.grid(h, points: 4, metrics: 2)
        for (index, model) in [(0, modelA), (1, others[0].1), (2, others[1].1)] {
            let expected = Evaluator.evaluate(model, on: trainSet, loss: .crossEntropy).loss
            XCTAssertEqual(grid[0][index], expected, accuracy: 1e-6 * expected, "corner \(index)")
        }
    }
}

extension SurfaceSweepTests {
    /// θ* trained by the sweep's own first task: the grid's centre equals the loss of the same
    /// training run done here, bit for bit.
    func testCentreTrainedInTheSweepMatchesTheSameTrainingRunLocally() throws {
        let h = try ProcessHarness(name: "trained")
        harnesses.append(h)
        let spec = try h.write("trained.yaml", """
        kind: surface
        model: {kind: mlp, hidden: [16]}
        data: {path: \(Self.repo.appendingPathComponent("data/mnist1d.npz").path), train_subset: 400, test_subset: 200}
        surface:
          train: {optimizer: {name: adam, lr: 0.01}, schedule: {kind: cosine}, batch_size: 50, epochs: 2, seed: 6}
          x: "-1:1:3"
          y: "-1:1:3"
          tile: 4
        runtime: {heartbeat_ms: 100}
        """)
        try h.runToEnd(spec, workers: 2)
        let sweep = try SweepSpec.load(path: spec)
        let s = sweep.surface!
        let (train, _) = try DataLoader.load(s.data, baseDirectory: "/", seed: s.dataSeed, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(s.model, dataShape: [40], outputs: 10, seed: TerrainRNG.derive(6, "init"))
        try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 50, epochs: 2, seed: TerrainRNG.derive(6, "data"),
                                                                       optimizer: OptimizerSpec(name: .adam, lr: 0.01),
                                                                       schedule: LearningRateSchedule(kind: .cosine))).run()
        let grid = try self.grid(h, points: 9)
        XCTAssertEqual(grid[0][4].bitPattern, Evaluator.evaluate(model, on: train, loss: .crossEntropy).loss.bitPattern)
        XCTAssertFalse(grid[0].contains { $0.isNaN })
    }
}

extension SurfaceSweepTests {
    /// Directions and the centre reach each worker once, however many tiles it computes.
    func testArtifactsAreSentToAWorkerOnlyOnce() throws {
        let h = try ProcessHarness(name: "artifacts")
        harnesses.append(h)
        let (path, _, _) = try centre(in: h.dir)
        try h.runToEnd(try spec(h, checkpoint: path, tile: 3))   // 81 points: 27 tasks
        let sent = try h.open().events(kind: "artifact-sent")
        XCTAssertEqual(sent.count, 3, "centre, d1 and d2, once each: \(sent.map(\.detail))")
        XCTAssertEqual(try h.open().resultRows().count, 27)
    }
}
