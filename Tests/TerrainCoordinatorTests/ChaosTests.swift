import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainTestSupport
import XCTest

/// Chaos with the default `runtime:` settings (`max_attempts: 3`, heartbeats every second,
/// dead after five): worker processes SIGKILLed at random and replaced, the coordinator
/// SIGKILLed and restarted twice. Nothing may be lost: every task ends done, stored exactly
/// once, bit-identical to an undisturbed run of the same spec (docs/protocol.md, "Liveness,
/// leases and retries": a lost worker is not evidence against its task).
final class ChaosTests: XCTestCase {
    var harnesses: [ProcessHarness] = []
    /// How long the last undisturbed reference run took; `chaos` paces its kills by it.
    var referenceSeconds: Double?
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/mnist1d.npz").path

    override func setUpWithError() throws {
        _ = try ProcessHarness.terrain
    }

    override func tearDown() {
        for h in harnesses { h.cleanUp() }
    }

    /// What an undisturbed run of `yaml` stores: each task's result digest.
    func undisturbed(_ yaml: String, workers: Int) throws -> [UInt64: [UInt8]] {
        let h = try ProcessHarness(name: "reference")
        harnesses.append(h)
        let start = Date()
        try h.runToEnd(try h.write("spec.yaml", yaml), workers: workers, seconds: 600)
        referenceSeconds = Date().timeIntervalSince(start)
        return try h.open().resultDigests()
    }

    /// What happened during a chaos run.
    struct Chaos {
        var kills = 0
        var restarts = 0
        var seconds = 0.0
    }

    /// Runs `yaml` to the end while killing a random worker every `killEvery` seconds (and
    /// starting a replacement), and SIGKILLing the coordinator once a third and once two thirds
    /// of the `tasks` results are stored (restarting it on the same dataset). Fails the test
    /// unless the last coordinator finishes with status 0 within ten minutes (a hang guard).
    /// With `paced`, the interval shrinks to a tenth of the undisturbed run's duration at most,
    /// so that a faster machine still sees workers killed mid-task (CI once finished a sweep
    /// after 3 kills in 3 s); the results may not depend on when the kills come.
    func chaos(_ h: ProcessHarness, _ yaml: String, tasks: Int, workers: Int, killEvery: ClosedRange<Double>,
                       seed: UInt64, paced: Bool = true) throws -> Chaos {
        let spec = try h.write("spec.yaml", yaml)
        var killEvery = killEvery
        if paced, let reference = referenceSeconds {
            let upper = min(killEvery.upperBound, max(0.06, reference / 10))
            killEvery = min(killEvery.lowerBound, upper / 3) ... upper
        }
        var rng = SystemRandomNumberGeneratorFree(seed: seed)
        func uniform(_ r: ClosedRange<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * Double(rng.next() % 10_000) / 10_000 }
        var record = Chaos()
        let start = Date()
        var coordinator = try h.coordinator(spec, label: "c0")
        var pool = try (0..<workers).map { try h.worker("w\($0)") }
        var spawned = workers
        var nextKill = Date().addingTimeInterval(uniform(killEvery))
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline {
            usleep(20_000)
            if !coordinator.isRunning {
                XCTAssertEqual(coordinator.terminationStatus, 0, h.output("c\(record.restarts)"))
                break
            }
            if record.restarts < 2 && h.resultCount() * 3 >= tasks * (record.restarts + 1) {
                    kill(coordinator.processIdentifier, SIGKILL)
                coordinator.waitUntilExit()
                record.restarts += 1
                coordinator = try h.coordinator(spec, label: "c\(record.restarts)")
                continue
            }
            guard Date() >= nextKill else { continue }
            let victim = Int(rng.next() % UInt64(pool.count))
            kill(pool[victim].processIdentifier, SIGKILL)
            pool[victim].waitUntilExit()
            record.kills += 1
            pool[victim] = try h.worker("w\(spawned)")
            spawned += 1
            nextKill = Date().addingTimeInterval(uniform(killEvery))
        }
        XCTAssertFalse(coordinator.isRunning, "the sweep did not finish within ten minutes under chaos")
        // Workers connected to the last coordinator were told the sweep is finished and exit at
        // once; a replacement started in its last moments never met it and would retry for its
        // `--give-up-after` minute, so whatever still runs after ten seconds is stopped.
        let settled = Date().addingTimeInterval(10)
        while pool.contains(where: \.isRunning) && Date() < settled { usleep(20_000) }
        for w in pool where w.isRunning { kill(w.processIdentifier, SIGKILL); w.waitUntilExit() }
        record.seconds = Date().timeIntervalSince(start)
        return record
    }

    func assertNothingLost(_ h: ProcessHarness, tasks: Int, reference: [UInt64: [UInt8]], _ record: Chaos,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let ds = try h.open()
        let p = try ds.readProgress()
        let events = try ds.eventCounts()
        print("chaos: \(record.kills) workers killed, \(record.restarts) coordinator restarts, \(String(format: "%.1f", record.seconds)) s; events \(events.sorted { $0.key < $1.key })")
        XCTAssertEqual(record.restarts, 2, "the coordinator was killed twice", file: file, line: line)
        XCTAssertGreaterThan(record.kills, 3, "workers were killed", file: file, line: line)
        let quarantined = try ds.events(kind: "quarantined").map(\.detail)
        XCTAssertEqual(p.failed, 0, "nothing quarantined: \(quarantined)", file: file, line: line)
        XCTAssertEqual(p.done, tasks, file: file, line: line)
        XCTAssertEqual(try ds.resultRows().count, tasks, "every task stored exactly once", file: file, line: line)
        XCTAssertEqual(reference.count, tasks, file: file, line: line)
        let digests = try ds.resultDigests()
        for id in 1...UInt64(tasks) {
            XCTAssertEqual(digests[id], reference[id], "task \(id) differs from the undisturbed run", file: file, line: line)
        }
        XCTAssertEqual(events["determinism-violation"] ?? 0, 0, file: file, line: line)
        XCTAssertEqual(events["bad-result"] ?? 0, 0, "workers said hello before re-sending results", file: file, line: line)
    }

    /// Chains of dependent tasks passing artifacts along, each attempt a second long, under
    /// a kill every 0.3–0.9 s: most attempts are killed, many tasks lose three workers or more
    /// (with lost workers counted as failed attempts, as before, this run quarantined tasks).
    /// A probe's output depends on its index and inputs, not on `sleep_ms`: the undisturbed
    /// reference runs the same chains without the sleep.
    func testChaosWithTheDefaultSpecLosesNoProbeTask() throws {
        let probe = "tasks: 60, chain: 3, blob_bytes: 64"
        let reference = try undisturbed("name: reference\nkind: probe\nprobe: {\(probe)}\n", workers: 2)
        let h = try ProcessHarness(name: "chaos")
        harnesses.append(h)
        let record = try chaos(h, "name: chaos\nkind: probe\nprobe: {\(probe), sleep_ms: 1000}\n", tasks: 60, workers: 3,
                               killEvery: 0.3 ... 0.9, seed: 11, paced: false)
        try assertNothingLost(h, tasks: 60, reference: reference, record)
    }

    /// A lottery sweep — training with checkpoints, levels depending on levels, masks and
    /// weights passed along — under chaos: resumed attempts give the same bits.
    func testChaosWithTheDefaultSpecLosesNoLotteryLevel() throws {
        let yaml = """
        name: chaos-lottery
        kind: lottery
        model: {kind: mlp, hidden: [128, 128]}
        data: {path: \(Self.data), train_subset: 1000, test_subset: 200}
        training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 10
          epochs: 10
          eval_every: 100
          checkpoint_every: 1
        lottery:
          levels: 3
          seeds: [0, 1]
          controls: [random_reinit]
        """
        let reference = try undisturbed(yaml, workers: 2)
        let h = try ProcessHarness(name: "chaos")
        harnesses.append(h)
        let record = try chaos(h, yaml, tasks: 14, workers: 3, killEvery: 0.3 ... 0.9, seed: 5)
        try assertNothingLost(h, tasks: 14, reference: reference, record)
        XCTAssertGreaterThan(try h.open().eventCounts()["resume"] ?? 0, 0, "some level resumed from a checkpoint, with the same bits")
    }

    /// A double-descent grid with label noise and SWA — runs of three widths, each averaging
    /// its iterates across checkpoints — under chaos: resumed runs carry their running
    /// average and give the same bits, including the `final` and `swa` weights. Sized so that
    /// workers are killed mid-run on a quiet machine too (at 1,000 samples and 8 epochs it ended after 4.6 s, before enough kills).
    func testChaosWithTheDefaultSpecLosesNoDoubleDescentOrSWARun() throws {
        let yaml = """
        name: chaos-descent
        kind: training
        model: {kind: mlp, hidden: [128, 128]}
        data: {path: \(Self.data), train_subset: 2000, test_subset: 200, label_noise: 0.1}
        training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 10
          epochs: 12
          eval_every: 100
          checkpoint_every: 1
          swa: {start_epoch: 4, lr: 0.02}
        grid: {width: [0.5, 1, 2], seeds: [0, 1]}
        """
        let reference = try undisturbed(yaml, workers: 2)
        let h = try ProcessHarness(name: "chaos")
        harnesses.append(h)
        let record = try chaos(h, yaml, tasks: 6, workers: 3, killEvery: 0.3 ... 0.9, seed: 7)
        try assertNothingLost(h, tasks: 6, reference: reference, record)
        let ds = try h.open()
        XCTAssertEqual(try ds.runVariants().filter { $0.swaAveraged == 8 && $0.noisyLabels == 200 }.count, 6)
        XCTAssertEqual(try ds.resultArtifacts().count, 12, "final and swa weights of every run")
    }

    /// A mode-connectivity sweep — end points trained with checkpoints, a Bezier bend trained
    /// with checkpoints between them, the line and the curve evaluated — under chaos: the
    /// results, and the `paths` and `path_points` tables derived from them, are those of an
    /// undisturbed run bit for bit.
    func testChaosWithTheDefaultSpecLosesNoModeConnectivityTask() throws {
        let yaml = """
        name: chaos-connectivity
        kind: connectivity
        model: {kind: mlp, hidden: [128, 128]}
        data: {path: \(Self.data), train_subset: 1000, test_subset: 200}
        training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 10
          epochs: 8
          checkpoint_every: 1
        curve_training:
          optimizer: {name: sgd, lr: 0.02, momentum: 0.9}
          batch_size: 10
          epochs: 8
          checkpoint_every: 1
        connectivity: {pairs: [[0, 1]], curves: [bezier], points: 11}
        """
        try assertPathSweepSurvivesChaos(yaml, tasks: 5, paths: 2, seed: 17, figures: ["loss", "error"])
    }

    /// An instability sweep — a parent keeping its state at each branch step, children
    /// resumed from checkpoints, lines between them — under chaos, as above.
    func testChaosWithTheDefaultSpecLosesNoInstabilityBranch() throws {
        let yaml = """
        name: chaos-instability
        kind: instability
        model: {kind: mlp, hidden: [128, 128]}
        data: {path: \(Self.data), train_subset: 1000, test_subset: 200}
        training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 10
          epochs: 10
          checkpoint_every: 1
        instability: {branch_steps: [0, 300], seeds: [0], points: 11}
        """
        try assertPathSweepSurvivesChaos(yaml, tasks: 7, paths: 2, seed: 23, figures: ["barrier", "lines"])
    }

    /// Runs `yaml` undisturbed and under chaos, compares them, then renders `figures` and
    /// exports the four tables of the chaos run through the CLI.
    private func assertPathSweepSurvivesChaos(_ yaml: String, tasks: Int, paths: Int, seed: UInt64, figures: [String],
                                              file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try ProcessHarness(name: "reference")
        harnesses.append(reference)
        let start = Date()
        try reference.runToEnd(try reference.write("spec.yaml", yaml), workers: 2, seconds: 600)
        referenceSeconds = Date().timeIntervalSince(start)
        let h = try ProcessHarness(name: "chaos")
        harnesses.append(h)
        let record = try chaos(h, yaml, tasks: tasks, workers: 3, killEvery: 0.3 ... 0.9, seed: seed)
        try assertNothingLost(h, tasks: tasks, reference: try reference.open().resultDigests(), record, file: file, line: line)
        for sql in ["SELECT * FROM paths ORDER BY task", "SELECT * FROM path_points ORDER BY task, idx", "SELECT * FROM runs ORDER BY task"] {
            let want = try reference.open().table(sql).rows, got = try h.open().table(sql).rows
            XCTAssertEqual(got, want, sql, file: file, line: line)
        }
        XCTAssertEqual(try h.open().table("SELECT * FROM paths").rows.count, paths, file: file, line: line)
        XCTAssertGreaterThan(try h.open().eventCounts()["resume"] ?? 0, 0, "some run resumed from a checkpoint, with the same bits", file: file, line: line)
        let base = (h.dataset as NSString).deletingPathExtension
        for (label, args) in [("render", ["render", h.dataset, "--figure", "all"]), ("export", ["export", h.dataset, "--format", "csv"])] {
            XCTAssertEqual(h.waitForExit(try h.start(args, label: label)), 0, h.output(label), file: file, line: line)
        }
        for figure in figures {
            let svg = try String(contentsOfFile: "\(base)-\(figure).svg", encoding: .utf8)
            XCTAssertTrue(svg.contains("<polyline"), "\(figure) draws lines", file: file, line: line)
        }
        let csv = try String(contentsOfFile: "\(base)-paths.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, paths + 1, file: file, line: line)
        XCTAssertTrue(csv[0].hasPrefix("task,shape,pair,seed,seed_b,branch_step,level,points,train_barrier"), String(csv[0]), file: file, line: line)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(base)-path_points.csv"), file: file, line: line)
    }
}
