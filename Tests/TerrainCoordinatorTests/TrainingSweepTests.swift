import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainSweeps
import XCTest

/// Lottery-ticket and batch-size sweeps through the real runtime: determinism across worker
/// counts and a killed worker, resuming from checkpoints, divergence.
final class TrainingSweepTests: XCTestCase {
    private var harnesses: [ProcessHarness] = []

    override func tearDown() {
        for h in harnesses { h.cleanUp() }
    }

    private static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/mnist1d.npz").path

    static let lotterySpec = """
        name: lottery
        kind: lottery
        model: {kind: mlp, hidden: [64, 32]}
        data: {path: \(data), train_subset: 1000, test_subset: 300}
        training:
          optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
          batch_size: 50
          epochs: 4
          eval_every: 10
          checkpoint_every: 1
        lottery: {levels: 2, rewind_step: 5, seeds: [0, 1], controls: [random_reinit, random_prune]}
        runtime: {heartbeat_ms: 100, liveness: 5}
        """

    static let gridSpec = """
        name: grid
        kind: training
        model: {kind: mlp, hidden: [64]}
        data: {path: \(data), train_subset: 1000, test_subset: 300}
        training:
          optimizer: {name: sgd, momentum: 0.9}
          schedule: {kind: cosine, scaling: linear, reference_batch_size: 50}
          epochs: 4
          eval_every: 10
          checkpoint_every: 1
          diverge_above: 100
          target_accuracy: 0.3
        grid: {batch_size: [25, 100], lr: [0.05, 400], seeds: [0, 1]}
        curvature: {lambda_max: true, samples: 200, iterations: 8}
        runtime: {heartbeat_ms: 100, liveness: 5}
        """

    /// Everything of a dataset that must not depend on who computed it: outputs, artifacts,
    /// the runs and curve tables (not timings, workers or attempts).
    private func content(_ h: ProcessHarness) throws -> [String] {
        let ds = try h.open()
        var lines = try ds.completedOutputs().map { "\($0.task) \($0.kind) \(SHA256.hex(SHA256.hash($0.output)))" }
        for t in try ds.table("SELECT task, name, hash FROM result_artifacts ORDER BY task, name").rows { lines.append("artifact \(t)") }
        for t in try ds.table("SELECT * FROM runs ORDER BY task").rows { lines.append("run \(t)") }
        for t in try ds.table("SELECT * FROM curve_points ORDER BY task, step").rows { lines.append("curve \(t)") }
        return lines
    }

    /// Runs `spec` with one worker, and with three of which one is SIGKILLed after `killAfter`
    /// results; returns both datasets' content.
    private func runTwice(_ spec: String, tasks: Int, killAfter: Int) throws -> (one: [String], three: [String], killed: ProcessHarness) {
        let a = try ProcessHarness(name: "one"), b = try ProcessHarness(name: "three")
        harnesses += [a, b]
        try a.runToEnd(try a.write("s.yaml", spec))
        let cb = try b.coordinator(try b.write("s.yaml", spec))
        let workers = try (0..<3).map { try b.worker("w\($0)") }
        // Kill a worker while it computes: worker names are host-pid-random.
        var victim: (task: Int64, pid: Int32, name: String)? = nil
        b.waitFor("\(killAfter) results and a task running") {
            guard b.resultCount() >= killAfter, let ds = try? b.open(),
                  let rows = try? ds.table("SELECT id, worker FROM tasks WHERE status = 'running' ORDER BY id").rows else { return false }
            for r in rows {
                guard case .integer(let id) = r[0], case .text(let name) = r[1] else { continue }
                let parts = name.split(separator: "-")
                if parts.count >= 3, let pid = Int32(parts[parts.count - 2]), workers.contains(where: { $0.processIdentifier == pid }) {
                    victim = (id, pid, name)
                    return true
                }
            }
            return false
        }
        if let victim { kill(victim.pid, SIGKILL) }
        XCTAssertEqual(b.waitForExit(cb), 0, b.output("coordinator"))
        for w in workers { _ = b.waitForExit(w) }
        if let victim {
            // Unless its result got out just before the kill, the task ran again elsewhere.
            let ds = try b.open()
            let storedBy = try ds.table("SELECT worker FROM results WHERE task = \(victim.task)").rows.first?.first
            if storedBy != .text(victim.name) {
                XCTAssertGreaterThanOrEqual(try ds.task(UInt64(victim.task))?.attempts ?? 0, 2, "task \(victim.task) ran again after its worker died")
            }
        }
        XCTAssertEqual(a.resultCount(), tasks)
        XCTAssertEqual(b.resultCount(), tasks)
        return (try content(a), try content(b), b)
    }

    func testALotterySweepIsBitIdenticalWithOneWorkerAndWithThreeWorkersOneKilled() throws {
        let (one, three, h) = try runTwice(Self.lotterySpec, tasks: 14, killAfter: 4)
        XCTAssertEqual(one.count, three.count)
        // What the user runs next: exports and the accuracy-vs-density figure.
        for args in [["export", h.dataset, "--format", "csv", "--output", h.dir + "/l"], ["export", h.dataset, "--output", h.dir + "/l.npz"],
                     ["render", h.dataset, "--output", h.dir + "/l.svg"], ["render", h.dataset, "--figure", "all"]] {
            let p = try h.start(args, label: args[0] + (args.last ?? ""))
            XCTAssertEqual(h.waitForExit(p), 0, h.output(args[0] + (args.last ?? "")))
        }
        let runsCSV = try String(contentsOfFile: h.dir + "/l-runs.csv", encoding: .utf8)
        XCTAssertTrue(runsCSV.hasPrefix("task,kind,seed,branch,level,"), runsCSV)
        XCTAssertEqual(runsCSV.split(separator: "\n").count, 15)
        XCTAssertGreaterThan(try String(contentsOfFile: h.dir + "/l-curves.csv", encoding: .utf8).split(separator: "\n").count, 14 * 3)
        let svg = try String(contentsOfFile: h.dir + "/l.svg", encoding: .utf8)
        for branch in ["main", "random_reinit", "random_prune"] { XCTAssertTrue(svg.contains(">\(branch)<"), "legend names \(branch)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: h.dir + "/l.npz"))
        let curves = try String(contentsOfFile: (h.dataset as NSString).deletingPathExtension + "-curves.svg", encoding: .utf8)
        XCTAssertTrue(curves.contains("level 2 (64.0%)"), "one line per level of the main chain, named by its density")
        for (x, y) in zip(one, three) where x != y { XCTFail("differs:\n  \(x)\n  \(y)") }
        XCTAssertEqual(one.filter { $0.hasPrefix("run ") }.count, 14)
        XCTAssertEqual(one.filter { $0.hasPrefix("artifact ") }.count, 2 * 3 + 12 * 2, "weights+mask per task, plus level 0's rewind point")
    }

    func testABatchSizeSweepIsBitIdenticalWithOneWorkerAndWithThreeWorkersOneKilledAndRecordsDivergence() throws {
        let (one, three, h) = try runTwice(Self.gridSpec, tasks: 8, killAfter: 2)
        XCTAssertEqual(one, three)
        let runs = try h.open().table("SELECT lr, status, diverged_step, test_acc, lambda_max FROM runs ORDER BY task").rows
        XCTAssertEqual(runs.count, 8)
        for r in runs {
            guard case .real(let lr) = r[0], case .text(let status) = r[1] else { return XCTFail("\(r)") }
            if lr > 1 {
                XCTAssertEqual(status, "diverged", "lr \(lr)")
                XCTAssertNotEqual(r[2], .null, "the step it diverged at is recorded")
            } else {
                XCTAssertEqual(status, "completed")
                XCTAssertNotEqual(r[3], .null)
                XCTAssertNotEqual(r[4], .null, "λmax at the end")
            }
        }
    }

    func testAWorkerKilledMidTrainingIsResumedFromItsLastCheckpointWithTheSameResult() throws {
        let h = try ProcessHarness(name: "resume")
        harnesses.append(h)
        // One long run: 40 steps per epoch, a checkpoint every epoch.
        let spec = try h.write("s.yaml", """
            name: resume
            kind: training
            model: {kind: mlp, hidden: [128, 128]}
            data: {path: \(Self.data), train_subset: 1000, test_subset: 300}
            training:
              optimizer: {name: sgd, momentum: 0.9}
              epochs: 60
              eval_every: 40
              checkpoint_every: 1
            grid: {batch_size: [25], lr: [0.02]}
            runtime: {heartbeat_ms: 100, liveness: 5}
            """)
        let c = try h.coordinator(spec)
        let first = try h.worker("first")
        var seen: UInt64 = 0
        h.waitFor("a checkpoint at epoch 3 or later") {
            guard FileManager.default.fileExists(atPath: h.dataset), let ds = try? h.open(), let cp = try? ds.checkpoint(of: 1) else { return false }
            seen = cp.step
            return cp.step >= 120
        }
        kill(first.processIdentifier, SIGKILL)
        _ = h.waitForExit(first)
        XCTAssertEqual(h.resultCount(), 0, "the run was still training when its worker died")
        let second = try h.worker("second")
        XCTAssertEqual(h.waitForExit(c), 0, h.output("coordinator"))
        _ = h.waitForExit(second)
        let ds = try h.open()
        let start = try XCTUnwrap(try ds.startSteps()[1])
        XCTAssertGreaterThanOrEqual(start, seen, "resumed from the last checkpoint, not from step 0")
        XCTAssertEqual(start % 40, 0, "checkpoints are taken at epoch ends")
        XCTAssertTrue(try ds.events(kind: "resume").contains { $0.task == 1 && $0.detail.contains("from step \(start)") })
        XCTAssertEqual(try ds.task(1)?.attempts, 2)
        XCTAssertNil(try ds.checkpoint(of: 1), "a finished task's checkpoint is dropped")
        // The same run, uninterrupted, in this process.
        let task = try SweepSpec.load(path: spec).expand()[0]
        let reference = try RunKind().run(task: 1, attempt: 1, params: task.params, inputs: [])
        XCTAssertEqual(reference.startStep, 0)
        let stored = try XCTUnwrap(try ds.completedOutputs().first)
        XCTAssertEqual(stored.output, reference.output, "final metrics and curve equal an uninterrupted run's")
    }

    /// The qualitative lottery-ticket result on MNIST-1D with the example MLP (40-256-256-10):
    /// after 7 levels of 20 % (density ≈ 0.21) the rewound ticket keeps its accuracy, a random
    /// reinitialization of the same mask does not. (examples/lottery-mlp.yaml, shortened to
    /// one seed and 10 epochs; measured 60.9 % dense, 63.5 % ticket, 49.6 % reinit.)
    func testTheWinningTicketAtDensityPoint2KeepsDenseAccuracyAndRandomReinitFallsBelowIt() throws {
        let h = try ProcessHarness(name: "imp")
        harnesses.append(h)
        let spec = try h.write("s.yaml", """
            name: imp
            kind: lottery
            model: {kind: mlp, hidden: [256, 256]}
            data: {path: \(Self.data)}
            training:
              optimizer: {name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.0005}
              schedule: {kind: cosine}
              batch_size: 128
              epochs: 10
            lottery: {levels: 7, fraction: 0.2, scope: global, rewind_step: 0, seeds: [0], controls: [random_reinit]}
            """)
        try h.runToEnd(spec, workers: 2, seconds: 600)
        var acc = [String: Double]()
        var density = [String: Double]()
        for r in try h.open().table("SELECT branch, level, test_acc, density FROM runs").rows {
            guard case .text(let b) = r[0], case .integer(let l) = r[1], case .real(let a) = r[2], case .real(let d) = r[3] else { continue }
            acc["\(b)/\(l)"] = a
            density["\(b)/\(l)"] = d
        }
        let dense = try XCTUnwrap(acc["main/0"]), ticket = try XCTUnwrap(acc["main/7"]), reinit = try XCTUnwrap(acc["random_reinit/7"])
        XCTAssertEqual(density["main/7"]!, pow(0.8, 7), accuracy: 1e-3)
        XCTAssertGreaterThan(ticket, dense - 0.03, "the ticket at density 0.21 stays within 3 points of dense (\(ticket) vs \(dense))")
        XCTAssertLessThan(reinit, ticket - 0.03, "random reinitialization of the same mask is clearly worse (\(reinit) vs \(ticket))")
    }

    func testAGridOverOptimizersRendersOneFigurePerVariant() throws {
        let h = try ProcessHarness(name: "variants")
        harnesses.append(h)
        let spec = try h.write("s.yaml", """
            name: variants
            kind: training
            model: {kind: mlp, hidden: [16]}
            data: {path: \(Self.data), train_subset: 200, test_subset: 100}
            training: {optimizer: {name: sgd, momentum: 0.9}, epochs: 1}
            grid: {batch_size: [50, 100], lr: [0.05], optimizer: [sgd, sam]}
            curvature: {lambda_max: true, samples: 50, iterations: 3}
            runtime: {heartbeat_ms: 100, liveness: 5}
            """)
        try h.runToEnd(spec)
        let render = try h.start(["render", h.dataset, "--figure", "all"], label: "render")
        XCTAssertEqual(h.waitForExit(render), 0, h.output("render"))
        let base = (h.dataset as NSString).deletingPathExtension
        for figure in ["heatmap", "accuracy", "lambda"] {
            for variant in ["sgd", "sgd-sam"] {
                let path = "\(base)-\(figure)-\(variant).svg"
                XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(path): \(h.output("render"))")
            }
        }
        for batch in [50, 100] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(base)-sharpness-b\(batch).svg"), "λmax along training per batch size")
        }
        let lambda = try String(contentsOfFile: "\(base)-lambda-sgd-sam.svg", encoding: .utf8)
        XCTAssertTrue(lambda.contains("(2+2β)/η"), "with momentum the edge of stability is (2+2β)/η")
        let status = try h.start(["status", h.dataset], label: "status")
        XCTAssertEqual(h.waitForExit(status), 0)
        XCTAssertTrue(h.output("status").contains("runs: 4 completed"), h.output("status"))
    }
}
