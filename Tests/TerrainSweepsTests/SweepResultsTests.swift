import Foundation
import TerrainDataset
import TerrainExport
import TerrainSweeps
import XCTest

/// What `terrain status`, `export` and `render` get from each sweep kind for a stored sweep,
/// on datasets written here (no coordinator, no training).
final class SweepResultsTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-results-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func row(_ task: Int64, kind: String, batch: Int = 32, lr: Double = 0.1, seed: UInt64 = 0, status: String = "completed",
                     acc: Double?, branch: String? = nil, level: Int? = nil, density: Double? = nil) -> RunRows {
        var r = RunRow(task: task, kind: kind, seed: seed, batchSize: batch, learningRate: lr, effectiveLearningRate: lr, optimizer: "sgd",
                       momentum: 0, weightDecay: 0, status: status, totalSteps: 10)
        r.testAccuracy = acc
        r.branch = branch
        r.level = level
        r.density = density
        r.lambdaMax = status == "completed" ? 10 * lr : nil
        let curve = [0, 5].map { step in
            CurvePointRow(task: task, step: step, epoch: Double(step) / 5, trainLoss: 1, trainAccuracy: nil, testLoss: nil,
                          testAccuracy: acc, learningRate: lr, lambdaMax: 3, validationLoss: nil, validationAccuracy: nil)
        }
        return RunRows(run: r, curve: curve)
    }

    private func stored(kind: String, name: String, rows: [RunRows]) throws -> StoredSweep {
        let path = dir + "/\(kind).sqlite"
        let ds = try SweepDataset(path: path)
        try ds.create(spec: "name: \(name)\nkind: \(kind)\n", specHash: "0123456789abcdef", kind: kind,
                      tasks: rows.indices.map { StoredTask(id: UInt64($0 + 1), kind: kind == "lottery" ? "lottery" : "run", params: []) })
        try ds.commit(results: rows.enumerated().map { i, r in
            .init(task: UInt64(i + 1), attempt: 1, worker: "w", output: [], digest: [UInt8](repeating: 0, count: 32), elapsed: 0,
                  received: 0, blobs: [], rows: r)
        }, statuses: [], events: [])
        return try StoredSweep(path: path)
    }

    func testATrainingSweepReportsItsRunsAndBestCellAndDrawsOneFigurePerRequest() throws {
        let sweep = try stored(kind: "training", name: "grid", rows: [
            row(1, kind: "run", batch: 32, lr: 0.1, seed: 0, acc: 0.6), row(2, kind: "run", batch: 32, lr: 0.1, seed: 1, acc: 0.8),
            row(3, kind: "run", batch: 64, lr: 0.1, acc: 0.5), row(4, kind: "run", batch: 64, lr: 4, status: "diverged", acc: nil),
        ])
        XCTAssertEqual(sweep.name, "grid")
        let lines = try sweep.sweepKind.statusLines(sweep)
        XCTAssertEqual(lines.first, "runs: 3 completed, 1 diverged")
        XCTAssertEqual(lines.last, "best: batch size 32, lr 0.1, sgd, momentum 0, weight decay 0: mean test accuracy 70.00% over 2 seed(s)")
        let figures = try sweep.sweepKind.render(sweep, options: RenderOptions(figure: "all"))
        XCTAssertEqual(figures.map { ($0.path as NSString).lastPathComponent },
                       ["training-sharpness-b32.svg", "training-sharpness-b64.svg", "training-heatmap.svg", "training-accuracy.svg",
                        "training-lambda.svg"], "λmax along training per batch size, then one figure per request")
        XCTAssertEqual(try sweep.sweepKind.render(sweep, options: RenderOptions(output: dir + "/h.svg")).map(\.path), [dir + "/h.svg"])
        XCTAssertThrowsError(try sweep.sweepKind.render(sweep, options: RenderOptions(figure: "curves"))) { e in
            XCTAssertEqual("\(e)", "--figure curves: a training sweep draws heatmap, accuracy, lambda, sharpness, all")
        }
        XCTAssertThrowsError(try sweep.sweepKind.render(sweep, options: RenderOptions(log: true))) { e in
            XCTAssertTrue("\(e)".contains("a training sweep takes --figure"), "\(e)")
        }
        guard case let .tables(runs, curves, attributes) = try sweep.sweepKind.export(sweep, options: ExportOptions()).content else {
            return XCTFail("a training sweep exports tables")
        }
        XCTAssertEqual(runs.rowCount, 4)
        XCTAssertEqual(curves.rowCount, 8)
        XCTAssertEqual(attributes["runs_done"], "4")
        XCTAssertThrowsError(try sweep.sweepKind.export(sweep, options: ExportOptions(directions: "d.safetensors"))) { e in
            XCTAssertEqual("\(e)", "--directions applies to surface sweeps only")
        }
    }

    func testALotterySweepTabulatesLevelsAndDrawsAccuracyAgainstDensity() throws {
        let sweep = try stored(kind: "lottery", name: "lt", rows: [
            row(1, kind: "lottery", seed: 0, acc: 0.9, branch: "main", level: 0, density: 1),
            row(2, kind: "lottery", seed: 1, acc: 0.8, branch: "main", level: 0, density: 1),
            row(3, kind: "lottery", seed: 0, status: "diverged", acc: nil, branch: "random_reinit", level: 1, density: 0.8),
        ])
        XCTAssertEqual(try sweep.sweepKind.statusLines(sweep), [
            "level  branch          density  mean test acc  seeds",
            "    0  main             1.0000        85.00%  2",
            "    1  random_reinit    0.8000            –  1  (1 diverged)",
        ])
        let figures = try sweep.sweepKind.render(sweep, options: RenderOptions(output: dir + "/x.svg"))
        XCTAssertEqual(figures.map(\.path), [dir + "/x.svg"])
        XCTAssertTrue(figures[0].svg.contains(">main<"))
        XCTAssertThrowsError(try sweep.sweepKind.render(sweep, options: RenderOptions(output: "x.svg", figure: "all"))) { e in
            XCTAssertEqual("\(e)", "--figure all writes every figure under its default name; drop --output")
        }
    }

    func testAProbeSweepHasNothingToExportOrDraw() throws {
        let path = dir + "/p.sqlite"
        try SweepDataset(path: path).create(spec: "kind: probe\nprobe: {tasks: 1}\n", specHash: "h", kind: "probe",
                                            tasks: [StoredTask(id: 1, kind: "probe", params: [])])
        let sweep = try StoredSweep(path: path)
        XCTAssertEqual(try sweep.sweepKind.statusLines(sweep), [])
        XCTAssertThrowsError(try sweep.sweepKind.export(sweep, options: ExportOptions())) { e in
            XCTAssertTrue("\(e)".contains("a probe sweep has no results to export"), "\(e)")
        }
        XCTAssertThrowsError(try sweep.sweepKind.render(sweep, options: RenderOptions()))
    }

    func testADatasetOfAnUnknownKindIsNamed() throws {
        let path = dir + "/u.sqlite"
        try SweepDataset(path: path).create(spec: "kind: future\n", specHash: "h", kind: "future", tasks: [])
        let sweep = try StoredSweep(path: path)
        XCTAssertThrowsError(try sweep.sweepKind) { e in
            XCTAssertTrue("\(e)".contains("unknown sweep kind 'future'"), "\(e)")
        }
    }
}
