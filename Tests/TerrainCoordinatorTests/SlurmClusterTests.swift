import Foundation
import TerrainDataset
import TerrainTestSupport
import TerrainWire
import XCTest

/// The job scripts of deploy/slurm/ under a real slurmctld and two emulated slurmd nodes on
/// this machine (deploy/slurm/local-cluster.sh). Runs with `make test-cluster` (as root: it
/// installs Debian's slurm-wlm and munge when missing); skipped otherwise.
///
/// One test, in order, to share the cluster's start and the one requeue (about two minutes:
/// SLURM's start delay for a requeued job): the all-in-one script finishes a probe sweep and a
/// small surface identical to `terrain run`; the split form survives `scancel` of its worker
/// array and a second array finishes; the all-in-one script with a node marked down mid-run
/// (`--no-kill`) starts its worker step again; and a job warned of its time limit (USR1 to the
/// batch shell) drains, requeues itself and resumes.
final class SlurmClusterTests: XCTestCase {
    private static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private var harness: ProcessHarness!
    private var clusterDir: String?

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["TERRAIN_CLUSTER_TESTS"] == "1" else {
            throw XCTSkip("the SLURM test runs with `make test-cluster` (TERRAIN_CLUSTER_TESTS=1, as root)")
        }
        guard getuid() == 0 else { throw XCTSkip("the SLURM test needs root (it starts munged, slurmctld and slurmd)") }
        _ = try ProcessHarness.terrain
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld") || !FileManager.default.isExecutableFile(atPath: "/usr/sbin/munged") {
            let (status, out) = shell("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge")
            if status != 0 { throw XCTSkip("could not install slurm-wlm and munge: \(out.suffix(500))") }
        }
        harness = try ProcessHarness(name: "slurm")
        chmod(harness.dir, 0o755)
        let dir = harness.dir + "/cluster"
        let (status, out) = shell("\(Self.repo.path)/deploy/slurm/local-cluster.sh start \(dir) 4")
        guard status == 0 else { throw XCTSkip("the local SLURM cluster did not start: \(out)") }
        clusterDir = dir
    }

    override func tearDown() {
        if let clusterDir { _ = shell("\(Self.repo.path)/deploy/slurm/local-cluster.sh stop \(clusterDir)") }
        harness?.cleanUp()
    }

    /// Runs a shell command with the cluster's configuration; status and output.
    @discardableResult
    private func shell(_ command: String, environment: [String: String] = [:]) -> (Int32, String) {
        var env = [String: String]()
        if let clusterDir { env["SLURM_CONF"] = clusterDir + "/slurm.conf" }
        env.merge(environment) { $1 }
        return TestShell.run(command, environment: env)
    }

    /// `sbatch --parsable` of a script of deploy/slurm/ for `spec` in `workdir`; the job id.
    private func submit(_ script: String, spec: String, workdir: String, options: String = "", extra: [String: String] = [:]) throws -> String {
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        var env = ["TERRAIN_SPEC": spec, "TERRAIN": try ProcessHarness.terrain, "TERRAIN_WORKDIR": workdir, "TERRAIN_GRACE": "5",
                   "TERRAIN_GIVE_UP": "200", "TERRAIN_SLURM_DIR": Self.repo.path + "/deploy/slurm"]
        env.merge(extra) { $1 }
        let (status, out) = shell("cd \(workdir) && sbatch --parsable --export=ALL \(options) \(Self.repo.path)/deploy/slurm/\(script)", environment: env)
        XCTAssertEqual(status, 0, out)
        return out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    }

    /// The job's state as `scontrol` reports it (`RUNNING`, `COMPLETED`, …; "" once purged).
    private func state(_ job: String) -> String {
        let (_, out) = shell("scontrol show job \(job) 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n1 | cut -d= -f2")
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func exitCode(_ job: String) -> String {
        let (_, out) = shell("scontrol show job \(job) | grep -o ' ExitCode=[0-9:]*' | head -n1 | cut -d= -f2")
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func waitForJob(_ job: String, _ what: String, seconds: Double = 300) {
        harness.waitFor("job \(job) \(what)", seconds: seconds) { ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"].contains(state(job)) }
    }

    private func results(_ dataset: String) throws -> [UInt64: [UInt8]] {
        guard FileManager.default.fileExists(atPath: dataset) else { return [:] }
        return (try? SweepDataset(path: dataset, readOnly: true).resultDigests()) ?? [:]
    }

    /// The same spec run by `terrain run` on this machine: the reference results.
    private func reference(_ spec: String, name: String) throws -> [UInt64: [UInt8]] {
        let dataset = harness.dir + "/\(name)-reference.sqlite"
        let p = try harness.start(["run", spec, "--workers", "2", "--dataset", dataset, "--quiet"], label: "\(name)-reference")
        XCTAssertEqual(harness.waitForExit(p, seconds: 300), 0, harness.output("\(name)-reference"))
        return try results(dataset)
    }

    private func logs(_ workdir: String) -> String {
        let (_, out) = shell("tail -n 30 \(workdir)/*.out \(workdir)/logs/coordinator-*.log 2>&1; tail -n 40 \(clusterDir ?? "")/log/slurmctld.log")
        return out
    }

    private func probeSpec(_ name: String, tasks: Int, sleepMs: Int) throws -> String {
        try harness.write("\(name).yaml", "name: \(name)\nkind: probe\nprobe: {tasks: \(tasks), sleep_ms: \(sleepMs), blob_bytes: 64, chain: 4}\nruntime: {heartbeat_ms: 200}\n")
    }

    /// The reference of a probe sweep: the same tasks without sleeping (a probe's output
    /// depends on its index and inputs only), run by `terrain run`.
    private func probeReference(_ name: String, tasks: Int) throws -> [UInt64: [UInt8]] {
        try reference(try probeSpec(name + "-reference", tasks: tasks, sleepMs: 0), name: name)
    }

    func testJobScriptsUnderARealSlurm() throws {
        try allInOneFinishesIdenticalToTerrainRun()
        try splitFormSurvivesCancelledArrays()
        try nodeDownRelaunchesTheWorkerStep()
        try timeLimitRequeuesAndResumes()
        let (_, queue) = shell("squeue -h")
        XCTAssertEqual(queue.trimmingCharacters(in: .whitespacesAndNewlines), "", "no job left")
    }

    private func allInOneFinishesIdenticalToTerrainRun() throws {
        let probe = try probeSpec("probe", tasks: 60, sleepMs: 30)
        let surface = try harness.write("surface.yaml", """
        name: surface
        kind: surface
        model: {kind: mlp, hidden: [24]}
        data: {path: \(Self.repo.path)/data/mnist1d.npz, train_subset: 600, test_subset: 300}
        surface:
          train: {optimizer: {name: adam, lr: 0.01}, batch_size: 50, epochs: 2, seed: 1}
          x: "-1:1:9"
          y: "-1:1:9"
          directions: {kind: random, normalization: filter, seed: 4}
          tile: 9
        runtime: {heartbeat_ms: 200}
        """)
        for (name, spec) in [("probe", probe), ("surface", surface)] {
            let workdir = harness.dir + "/\(name)"
            let started = Date()
            let job = try submit("terrain-sweep.sbatch", spec: spec, workdir: workdir, options: "--nodes=2 --ntasks=4")
            waitForJob(job, "to finish")
            let seconds = Date().timeIntervalSince(started)
            XCTAssertEqual(state(job), "COMPLETED", logs(workdir))
            XCTAssertEqual(exitCode(job), "0:0", logs(workdir))
            let got = try results(workdir + "/\(name).sqlite")
            XCTAssertFalse(got.isEmpty, logs(workdir))
            XCTAssertEqual(got, try reference(spec, name: name), "\(name): the same results as terrain run")
            let rows = try SweepDataset(path: workdir + "/\(name).sqlite", readOnly: true).workerRows()
            XCTAssertEqual(rows.count, 4, "four workers")
            XCTAssertEqual(Set(rows.map { $0.placement.contains("slurm job \(job) step 0") }), [true], "\(rows.map(\.placement))")
            XCTAssertEqual(Set(rows.compactMap { $0.placement.split(separator: " ").last.map(String.init) }), ["n1", "n2"], "both nodes")
            XCTAssertEqual(try EndpointFile.read(workdir + "/\(name).endpoint"), EndpointFile.finished)
            print("slurm all-in-one \(name): \(got.count) tasks in \(String(format: "%.1f", seconds)) s from sbatch to completion")
        }
    }

    private func splitFormSurvivesCancelledArrays() throws {
        let spec = try probeSpec("split", tasks: 80, sleepMs: 150)
        let workdir = harness.dir + "/split"
        let dataset = workdir + "/split.sqlite"
        let coordinator = try submit("terrain-coordinator.sbatch", spec: spec, workdir: workdir)
        let first = try submit("terrain-workers.sbatch", spec: spec, workdir: workdir, options: "--dependency=after:\(coordinator) --array=0-1 --ntasks=2")
        harness.waitFor("10 results") { ((try? results(dataset)) ?? [:]).count >= 10 }
        shell("scancel \(first)")
        harness.waitFor("the first array to end") { !["RUNNING", "PENDING", "COMPLETING"].contains(state(first + "_0")) }
        let before = try results(dataset).count
        XCTAssertLessThan(before, 80, "the sweep is not over yet")
        XCTAssertEqual(state(coordinator), "RUNNING", logs(workdir))
        let second = try submit("terrain-workers.sbatch", spec: spec, workdir: workdir, options: "--array=0-1 --ntasks=2")
        waitForJob(coordinator, "to finish")
        XCTAssertEqual(state(coordinator), "COMPLETED", logs(workdir))
        let got = try results(dataset)
        XCTAssertEqual(Set(got.keys), Set(1...80), "every task once")
        XCTAssertEqual(got, try probeReference("split", tasks: 80))
        for i in 0...1 { waitForJob("\(second)_\(i)", "to leave") }
        // An array arriving after the end leaves at once, successfully.
        let late = try submit("terrain-workers.sbatch", spec: spec, workdir: workdir, options: "--ntasks=1")
        waitForJob(late, "to leave")
        XCTAssertEqual(exitCode(late), "0:0", logs(workdir))
    }

    private func nodeDownRelaunchesTheWorkerStep() throws {
        let spec = try probeSpec("nodedown", tasks: 60, sleepMs: 200)
        let workdir = harness.dir + "/nodedown"
        let dataset = workdir + "/nodedown.sqlite"
        let job = try submit("terrain-sweep.sbatch", spec: spec, workdir: workdir, options: "--nodes=2 --ntasks=4 --no-kill")
        harness.waitFor("8 results") { ((try? results(dataset)) ?? [:]).count >= 8 }
        shell("scontrol update nodename=n2 state=down reason=terrain-test")
        waitForJob(job, "to finish")
        shell("scontrol update nodename=n2 state=resume")
        XCTAssertEqual(state(job), "COMPLETED", logs(workdir))
        let out = (try? String(contentsOfFile: workdir + "/terrain-\(job).out", encoding: .utf8)) ?? ""
        XCTAssertTrue(out.contains("worker step 2 started"), "the worker step was started again: \(out)")
        XCTAssertEqual(try results(dataset), try probeReference("nodedown", tasks: 60))
    }

    /// What `--signal=B:USR1@N` does before a time limit — USR1 to the batch shell only — sent
    /// by the test at a moment it chooses (SLURM sends it up to 60 s early, at the resolution of
    /// its event handling, which a test of a few minutes cannot wait out).
    private func timeLimitRequeuesAndResumes() throws {
        // 300 tasks of 0.3 s on 2 workers: about 45 s of work; the warning comes after 20 results.
        let spec = try probeSpec("requeue", tasks: 300, sleepMs: 300)
        let workdir = harness.dir + "/requeue"
        let dataset = workdir + "/requeue.sqlite"
        let started = Date()
        let job = try submit("terrain-sweep.sbatch", spec: spec, workdir: workdir, options: "--nodes=1 --ntasks=2 --time=10")
        harness.waitFor("20 results") { ((try? results(dataset)) ?? [:]).count >= 20 }
        let out = try String(contentsOfFile: workdir + "/terrain-\(job).out", encoding: .utf8)
        let shellPID = try XCTUnwrap(out.split(separator: "\n").first { $0.contains("run 0") }
            .flatMap { $0.split(separator: "batch shell pid ").last?.split(separator: ")").first }.flatMap { Int32($0) }, out)
        kill(shellPID, SIGUSR1)
        harness.waitFor("the requeue", seconds: 200) { shell("scontrol show job \(job) | grep -o 'Restarts=[0-9]*'").1.contains("Restarts=1") }
        let firstRun = try results(dataset).count
        XCTAssertLessThan(firstRun, 300, "the first run was stopped before the end")
        XCTAssertEqual(try SweepDataset(path: dataset, readOnly: true).readProgress().state, "stopped")
        let log = try String(contentsOfFile: workdir + "/terrain-\(job).out", encoding: .utf8)
        XCTAssertTrue(log.contains("coordinator exited with status 130") && log.contains("requeueing job \(job)"), log)
        waitForJob(job, "to finish after its requeue", seconds: 400)
        XCTAssertEqual(state(job), "COMPLETED", logs(workdir))
        XCTAssertEqual(try results(dataset), try probeReference("requeue", tasks: 300))
        let placements = Set(try SweepDataset(path: dataset, readOnly: true).workerRows().map(\.placement))
        XCTAssertTrue(placements.contains { $0.contains("restart 1") }, "the second run's workers say so: \(placements)")
        print("slurm USR1 requeue: \(String(format: "%.0f", Date().timeIntervalSince(started))) s from sbatch to completion (\(firstRun) tasks in the first run)")
    }
}
