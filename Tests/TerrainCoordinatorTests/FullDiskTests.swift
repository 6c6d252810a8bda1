import Foundation
import TerrainCore
import TerrainDataset
import TerrainTestSupport
import XCTest

/// A full filesystem (a small tmpfs the test mounts; it needs root, and is skipped with a
/// message otherwise): the dataset's writes fail cleanly, naming the file, and lose nothing;
/// `terrain run` takes its workers down with it; every export format and the renderer fail
/// with a non-zero status, name the file, and leave no partial file behind.
final class FullDiskTests: XCTestCase {
    private var harness: ProcessHarness!
    private var mounted: String?
    private static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    override func setUpWithError() throws {
        _ = try ProcessHarness.terrain
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs to fill needs root; run the tests as root to cover full disks") }
        harness = try ProcessHarness(name: name.filter { $0.isLetter })
    }

    override func tearDown() {
        harness?.cleanUp()
        if let m = mounted { umount2(m, Int32(MNT_DETACH)) ; rmdir(m) }
    }

    /// Mounts a tmpfs of `kilobytes` at a fresh directory and returns its path.
    private func mountSmallFilesystem(kilobytes: Int) throws -> String {
        let path = "/tmp/tfull-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        XCTAssertEqual(mkdir(path, 0o755), 0)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(kilobytes)k") == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(path)
            throw XCTSkip("cannot mount a tmpfs here (\(reason))")
        }
        mounted = path
        return path
    }

    /// Fills the filesystem at `path` completely with a file named `filler`.
    private func fill(_ path: String) {
        let fd = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let block = [UInt8](repeating: 0xAA, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, 4096) }) > 0 {}
        close(fd)
    }

    private func run(_ args: [String], label: String) throws -> (status: Int32, output: String) {
        let p = try harness.start(args, label: label)
        let status = harness.waitForExit(p, seconds: 300)
        return (status, harness.output(label))
    }

    func testAFullDiskStopsTerrainRunAndItsWorkersCleanlyAndARerunResumes() throws {
        let disk = try mountSmallFilesystem(kilobytes: 512)
        let dataset = disk + "/sweep.sqlite"
        let spec = try harness.write("spec.yaml", "name: full\nkind: probe\nprobe: {tasks: 120, sleep_ms: 5, payload_bytes: 16384}\n")
        let first = try harness.start(["run", spec, "--workers", "2", "--dataset", dataset, "--quiet"], label: "run1")
        let status = harness.waitForExit(first, seconds: 300)
        let out = harness.output("run1")
        XCTAssertNotEqual(status, 0, out)
        XCTAssertTrue(out.contains("\(dataset): cannot write the dataset"), out)
        XCTAssertTrue(out.contains("disk is full") || out.contains("SQLITE_FULL"), out)
        // `terrain run` waited for its workers: none is left running.
        let socketDir = "terrain-\(first.processIdentifier)"
        XCTAssertEqual(Self.processes(mentioning: socketDir), [], "the workers went down with the coordinator")

        // What was committed is intact and consistent; a rerun with room resumes and finishes.
        let ds = try SweepDataset(path: dataset, readOnly: true)
        XCTAssertEqual(try ds.table("PRAGMA integrity_check").rows, [[.text("ok")]])
        let committed = try ds.resultRows()
        XCTAssertLessThan(committed.count, 120)
        XCTAssertEqual(try ds.readProgress().done, committed.count)
        XCTAssertEqual(mount("tmpfs", disk, "tmpfs", UInt(MS_REMOUNT), "size=16m"), 0, String(cString: strerror(errno)))
        let (again, rerun) = try run(["run", spec, "--workers", "2", "--dataset", dataset, "--quiet"], label: "run2")
        XCTAssertEqual(again, 0, rerun)
        let after = try SweepDataset(path: dataset, readOnly: true)
        XCTAssertEqual(try after.resultRows().count, 120)
        let rows = Dictionary(uniqueKeysWithValues: try after.resultRows().map { ($0.task, $0.received) })
        for r in committed { XCTAssertEqual(rows[r.task], r.received, "task \(r.task) was kept, not recomputed") }
    }

    func testEveryExportAndTheRendererFailOnAFullDiskNamingTheFileAndLeaveNothingBehind() throws {
        let surface = try surfaceDataset()
        let runs = try trainingDataset()
        let disk = try mountSmallFilesystem(kilobytes: 64)
        fill(disk)
        let attempts: [(label: String, args: [String], files: [String])] = [
            ("csv", ["export", surface, "--format", "csv", "-o", disk + "/s.csv"], ["s.csv"]),
            ("npz", ["export", surface, "--format", "npz", "-o", disk + "/s.npz"], ["s.npz"]),
            ("h5", ["export", surface, "--format", "h5", "-o", disk + "/s.h5"], ["s.h5"]),
            ("vts", ["export", surface, "--format", "vts", "-o", disk + "/s.vts"], ["s.vts"]),
            ("svg", ["render", surface, "-o", disk + "/s.svg"], ["s.svg"]),
            ("runs-csv", ["export", runs, "--format", "csv", "-o", disk + "/r.csv"], ["r-runs.csv", "r-curves.csv"]),
            ("runs-npz", ["export", runs, "--format", "npz", "-o", disk + "/r.npz"], ["r.npz"]),
        ]
        for a in attempts {
            let (status, out) = try run(a.args, label: a.label)
            XCTAssertEqual(status, 1, "\(a.label): \(out)")
            XCTAssertTrue(out.contains(disk + "/"), "\(a.label) names the file: \(out)")
            XCTAssertTrue(["No space left on device", "enough space", "H5"].contains { out.contains($0) }, "\(a.label) says why: \(out)")
            XCTAssertFalse(out.contains("wrote "), "\(a.label) claims success: \(out)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk), ["filler"], "\(a.label) left a file behind")
        }
        // With room again, the same commands succeed.
        unlink(disk + "/filler")
        for a in attempts {
            let (status, out) = try run(a.args, label: a.label + "-ok")
            XCTAssertEqual(status, 0, "\(a.label): \(out)")
            for f in a.files {
                XCTAssertTrue(FileManager.default.fileExists(atPath: disk + "/" + f), "\(a.label): \(f)")
                unlink(disk + "/" + f)
            }
        }
    }

    /// A finished 9×9 surface of a briefly trained MLP.
    private func surfaceDataset() throws -> String {
        let data = Self.repo.appendingPathComponent("data/mnist1d.npz").path
        let spec = DataSpec(path: data, trainSubset: 300, testSubset: 100)
        let (train, _) = try DataLoader.load(spec, baseDirectory: "/", seed: TerrainRNG.derive(0, "data"), as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [8]), dataShape: [40], outputs: 10, seed: 1)
        try Trainer(model: model, train: train, config: TrainingConfig(batchSize: 50, epochs: 1, seed: 1, optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
        let checkpoint = harness.dir + "/centre.safetensors"
        try Checkpoint.save(model: model, step: 0, to: checkpoint)
        let yaml = try harness.write("surface.yaml", """
            name: surface
            kind: surface
            model: {kind: mlp, hidden: [8]}
            data: {path: \(data), train_subset: 300, test_subset: 100}
            surface: {checkpoint: \(checkpoint), x: "-1:1:9", y: "-1:1:9", tile: 27}
            """)
        let dataset = harness.dir + "/surface.sqlite"
        let (status, out) = try run(["run", yaml, "--workers", "1", "--dataset", dataset, "--quiet"], label: "surface")
        XCTAssertEqual(status, 0, out)
        return dataset
    }

    /// A finished two-run training grid.
    private func trainingDataset() throws -> String {
        let yaml = try harness.write("training.yaml", """
            name: runs
            kind: training
            model: {kind: mlp, hidden: [8]}
            data: {path: \(Self.repo.appendingPathComponent("data/mnist1d.npz").path), train_subset: 200, test_subset: 100}
            training: {optimizer: {name: sgd}, epochs: 1, eval_every: 2}
            grid: {batch_size: [50], lr: [0.05, 0.1]}
            """)
        let dataset = harness.dir + "/runs.sqlite"
        let (status, out) = try run(["run", yaml, "--workers", "1", "--dataset", dataset, "--quiet"], label: "runs")
        XCTAssertEqual(status, 0, out)
        return dataset
    }

    /// Pids of live processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
        }
    }
}
