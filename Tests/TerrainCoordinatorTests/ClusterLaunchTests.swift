import Foundation
import TerrainCoordinator
import TerrainCore
import TerrainDataset
import TerrainTestSupport
import TerrainWire
import XCTest

/// Launching as batch systems do, with real processes: the endpoint file (an ephemeral port,
/// workers waiting for it, a coordinator that moves), signals as schedulers send them, and the
/// worker's placement (SLURM's variables) in `terrain status` and the dataset.
final class ClusterLaunchTests: XCTestCase {
    private var harness: ProcessHarness!

    override func setUpWithError() throws {
        _ = try ProcessHarness.terrain
        harness = try ProcessHarness(name: name.filter { $0.isLetter })
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    private var endpointFile: String { harness.dir + "/endpoint" }

    private func probeSpec(tasks: Int, sleepMs: Int) throws -> String {
        try harness.write("spec.yaml", """
        name: cl
        kind: probe
        probe:
          tasks: \(tasks)
          sleep_ms: \(sleepMs)
        runtime:
          heartbeat_ms: 100
          liveness: 5
        """)
    }

    /// A coordinator on an ephemeral TCP port publishing it in the endpoint file.
    private func coordinator(_ spec: String, label: String) throws -> Process {
        try harness.start(["coordinator", spec, "--bind", "tcp://127.0.0.1:*", "--dataset", harness.dataset, "--quiet",
                           "--endpoint-file", endpointFile], label: label)
    }

    private func worker(_ label: String, extra: [String] = [], environment: [String: String] = [:]) throws -> Process {
        try harness.start(["worker", "--connect", "@" + endpointFile, "--give-up-after", "60"] + extra, label: label, environment: environment)
    }

    private func assertEveryTaskOnce(_ n: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let rows = try harness.open().resultRows()
        XCTAssertEqual(rows.count, n, "results", file: file, line: line)
        XCTAssertEqual(Set(rows.map(\.task)), Set(1...UInt64(n)), "every task exactly once", file: file, line: line)
    }

    private func terrain(_ args: [String]) throws -> String {
        let label = "cli-\(UInt32.random(in: 0 ... .max))"
        let p = try harness.start(args, label: label)
        p.waitUntilExit()
        return harness.output(label)
    }

    func testWorkerStartedFirstWaitsForTheEndpointFileAndReportsItsSlurmPlacement() throws {
        let slurm = ["SLURM_JOB_ID": "812", "SLURM_ARRAY_JOB_ID": "810", "SLURM_ARRAY_TASK_ID": "2", "SLURM_STEP_ID": "0",
                     "SLURM_PROCID": "1", "SLURMD_NODENAME": "n2"]
        let w = try worker("w", environment: slurm)
        usleep(300_000)
        XCTAssertTrue(w.isRunning, "the worker waits for the file: \(harness.output("w"))")
        let spec = try probeSpec(tasks: 40, sleepMs: 60)
        let c = try coordinator(spec, label: "c")
        harness.waitFor("the endpoint file") { (try? EndpointFile.read(endpointFile)) != nil }
        let endpoint = try XCTUnwrap(EndpointFile.read(endpointFile))
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
        XCTAssertNotEqual(endpoint, "tcp://127.0.0.1:0")
        XCTAssertFalse(endpoint.hasSuffix(":*"), "the bound port, not the wildcard: \(endpoint)")
        let text = try String(contentsOfFile: endpointFile, encoding: .utf8)
        XCTAssertTrue(text.contains("pid \(c.processIdentifier)"), text)
        XCTAssertTrue(harness.output("c").contains(endpoint), harness.output("c"))

        harness.waitFor("5 results") { harness.resultCount() >= 5 }
        let placement = "slurm job 812 (array 810_2) step 0 task 1 node n2"
        harness.waitFor("the worker's row") { ((try? harness.open().workerRows()) ?? []).count == 1 }
        let status = try terrain(["status", harness.dataset])
        XCTAssertTrue(status.contains("workers connected (1):"), status)
        XCTAssertTrue(status.contains(placement), status)

        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("c"))
        XCTAssertEqual(harness.waitForExit(w), 0, harness.output("w"))
        XCTAssertEqual(try EndpointFile.read(endpointFile), EndpointFile.finished, "a finished sweep leaves the finished line")
        try assertEveryTaskOnce(40)
        // A worker arriving after the end (a late array task) leaves at once.
        let late = try worker("late")
        XCTAssertEqual(harness.waitForExit(late), 0, harness.output("late"))
        XCTAssertTrue(harness.output("late").contains("the sweep is finished"), harness.output("late"))
        let rows = try harness.open().workerRows()
        XCTAssertEqual(rows.map(\.placement), [placement])
        XCTAssertEqual(rows.first?.pid, UInt64(w.processIdentifier))
        XCTAssertTrue(try harness.open().resultRows().allSatisfy { $0.worker == rows[0].worker }, "results name the worker's row")
        let joined = try harness.open().events(kind: "worker-joined")
        XCTAssertTrue(joined.contains { $0.detail.contains(placement) }, "\(joined)")
        XCTAssertTrue(try terrain(["status", harness.dataset]).contains("batch jobs slurm 812"))
    }

    func testWorkerFollowsACoordinatorThatMovesToAnotherPort() throws {
        let spec = try probeSpec(tasks: 60, sleepMs: 40)
        let c1 = try coordinator(spec, label: "c1")
        let w = try worker("w")
        harness.waitFor("5 results") { harness.resultCount() >= 5 }
        let first = try XCTUnwrap(EndpointFile.read(endpointFile))
        kill(c1.processIdentifier, SIGUSR1)
        XCTAssertEqual(harness.waitForExit(c1), 130, "SIGUSR1 (SLURM's warning before a time limit) stops it, resumable: \(harness.output("c1"))")
        XCTAssertFalse(FileManager.default.fileExists(atPath: endpointFile), "a stopped coordinator withdraws its endpoint")
        XCTAssertEqual(try harness.open().readProgress().state, "stopped")
        XCTAssertTrue(w.isRunning, "the worker waits for a coordinator")

        // A port the first coordinator did not use: the worker must read the file again.
        let c2 = try coordinator(spec, label: "c2")
        harness.waitFor("the second endpoint") { (try? EndpointFile.read(endpointFile)).flatMap { $0 } != nil }
        XCTAssertNotEqual(try EndpointFile.read(endpointFile), first)
        XCTAssertEqual(harness.waitForExit(c2), 0, harness.output("c2"))
        XCTAssertEqual(harness.waitForExit(w), 0, harness.output("w"))
        try assertEveryTaskOnce(60)
        XCTAssertGreaterThanOrEqual(try harness.open().workerRows().count, 2, "the worker joined both coordinators")
    }

    func testWorkerWithoutAnEndpointFileGivesUp() throws {
        let w = try harness.start(["worker", "--connect", "@" + harness.dir + "/never", "--give-up-after", "1"], label: "w")
        XCTAssertEqual(harness.waitForExit(w), 4, harness.output("w"))
        XCTAssertTrue(harness.output("w").contains("@\(harness.dir)/never"), harness.output("w"))
    }

    func testCoordinatorRefusesAnEndpointFileInAMissingDirectory() throws {
        let spec = try probeSpec(tasks: 2, sleepMs: 0)
        let c = try harness.start(["coordinator", spec, "--bind", "tcp://127.0.0.1:*", "--dataset", harness.dataset,
                                   "--endpoint-file", harness.dir + "/no/such/dir/endpoint"], label: "c")
        XCTAssertEqual(harness.waitForExit(c), 1)
        XCTAssertTrue(harness.output("c").contains("does not exist"), harness.output("c"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.dataset), "refused before the dataset was created")
    }

    /// SIGTERM twice stops a worker at once; one SIGTERM lets it hand in its task; --grace
    /// bounds how long that may take. Every worker stopped by a signal exits 130, and the
    /// sweep still finishes with every task once.
    func testWorkerSignalsSecondSignalAndGrace() throws {
        let spec = try probeSpec(tasks: 3, sleepMs: 3000)
        let c = try harness.coordinator(spec)
        func computing(_ p: Process) {
            harness.waitFor("a task running on \(p.processIdentifier)") {
                ((try? harness.open().readProgress())?.running ?? 0) >= 1 && (try? harness.open().workerRows().last?.pid) == UInt64(p.processIdentifier)
            }
        }
        func lost(_ p: Process) -> [String] {
            ((try? harness.open().events(kind: "worker-lost")) ?? []).filter { $0.worker?.contains("-\(p.processIdentifier)-") == true }.map(\.detail)
        }

        let w1 = try harness.worker("w1", extra: ["--prefetch", "0"])
        computing(w1)
        kill(w1.processIdentifier, SIGTERM)
        usleep(50_000)
        kill(w1.processIdentifier, SIGTERM)
        XCTAssertEqual(harness.waitForExit(w1), 130, harness.output("w1"))
        XCTAssertTrue(harness.output("w1").contains("second signal"), harness.output("w1"))
        harness.waitFor("w1's goodbye") { lost(w1).contains { $0.contains("handed back unfinished") } }
        XCTAssertEqual(harness.resultCount(), 0, "w1 handed in nothing")

        let w2 = try harness.worker("w2", extra: ["--prefetch", "0"])
        computing(w2)
        kill(w2.processIdentifier, SIGTERM)
        XCTAssertEqual(harness.waitForExit(w2), 130, harness.output("w2"))
        XCTAssertTrue(harness.output("w2").contains("after handing in its work"), harness.output("w2"))
        harness.waitFor("w2's result") { harness.resultCount() == 1 }
        XCTAssertTrue(try harness.open().resultRows()[0].worker.contains("-\(w2.processIdentifier)-"))

        let w3 = try harness.worker("w3", extra: ["--prefetch", "0", "--grace", "0.2"])
        computing(w3)
        kill(w3.processIdentifier, SIGTERM)
        XCTAssertEqual(harness.waitForExit(w3), 130, harness.output("w3"))
        XCTAssertTrue(harness.output("w3").contains("grace period ran out"), harness.output("w3"))
        XCTAssertEqual(harness.resultCount(), 1, "w3 handed in nothing")

        let w4 = try harness.worker("w4")
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("coordinator"))
        XCTAssertEqual(harness.waitForExit(w4), 0, harness.output("w4"))
        try assertEveryTaskOnce(3)
    }

    /// No shared filesystem: the data file is moved away once the coordinator has created the
    /// sweep; the worker gets it from the coordinator, keeps it in its file cache under its
    /// hash, and the results are those of `terrain run` reading the file in place.
    func testDataFilesTravelFromTheCoordinatorToTheWorkersCache() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        try FileManager.default.createDirectory(atPath: harness.dir + "/data", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repo.path + "/data/mnist1d.npz", toPath: harness.dir + "/data/m.npz")
        let spec = try harness.write("surface.yaml", """
        name: files
        kind: surface
        model: {kind: mlp, hidden: [16]}
        data: {path: data/m.npz, train_subset: 400, test_subset: 200}
        surface:
          train: {optimizer: {name: adam, lr: 0.01}, batch_size: 50, epochs: 1, seed: 1}
          x: "-1:1:5"
          y: "-1:1:5"
          directions: {kind: random, normalization: filter, seed: 4}
          tile: 25
        runtime: {heartbeat_ms: 100}
        """)
        let reference = harness.dir + "/reference.sqlite"
        let r = try harness.start(["run", spec, "--workers", "1", "--dataset", reference, "--quiet"], label: "reference")
        XCTAssertEqual(harness.waitForExit(r), 0, harness.output("reference"))

        let c = try harness.start(["coordinator", spec, "--bind", harness.endpoint, "--dataset", harness.dataset, "--quiet",
                                   "--endpoint-file", endpointFile], label: "c")
        harness.waitFor("the endpoint file") { (try? EndpointFile.read(endpointFile)) != nil }
        try FileManager.default.moveItem(atPath: harness.dir + "/data", toPath: harness.dir + "/elsewhere")
        let cache = harness.dir + "/cache/"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let w = try harness.start(["worker", "--connect", "@" + endpointFile, "--give-up-after", "60"], label: "w", environment: ["TMPDIR": cache])
        XCTAssertEqual(harness.waitForExit(c), 0, harness.output("c"))
        XCTAssertEqual(harness.waitForExit(w), 0, harness.output("w"))
        XCTAssertEqual(try harness.open().failedTasks().count, 0, harness.output("c"))
        // Every task, θ*'s training included (its summary JSON is key-sorted since the merge
        // of the curvature work; before, its bytes changed from process to process).
        let got = try harness.open().resultDigests(), expected = try SweepDataset(path: reference, readOnly: true).resultDigests()
        XCTAssertEqual(got, expected)
        XCTAssertEqual(got.count, 3)
        let hash = SHA256.hex(SHA256.hash(Array(try Data(contentsOf: URL(fileURLWithPath: harness.dir + "/elsewhere/m.npz")))))
        let cached = cache + "terrain-files-\(getuid())/\(hash)/m.npz"
        XCTAssertTrue(FileManager.default.fileExists(atPath: cached), "the worker's copy, under its hash: \(cached)")
        XCTAssertTrue(try harness.open().events(kind: "artifact-sent").contains { $0.detail.hasPrefix(String(hash.prefix(16))) },
                      "the coordinator sent the file")
    }
}
