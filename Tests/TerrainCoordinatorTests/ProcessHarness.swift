import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainTestSupport
import XCTest

/// Starts and watches real `terrain` processes for the runtime tests.
final class ProcessHarness {
    let dir: String
    let endpoint: String
    let dataset: String
    private(set) var processes: [Process] = []

    init(name: String) throws {
        // Short: an ipc:// socket path must fit in sun_path (108 bytes).
        dir = "/tmp/trt-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        endpoint = "ipc://\(dir)/c.sock"
        dataset = "\(dir)/sweep.sqlite"
    }

    /// The `terrain` binary next to the test bundle.
    static var terrain: String {
        get throws {
            let d = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for c in [d, d.deletingLastPathComponent()] {
                let p = c.appendingPathComponent("terrain").path
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
            throw XCTSkip("the terrain executable was not built next to the tests (run `make test`)")
        }
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = "\(dir)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts `terrain ARGS`, output to files in the test folder.
    @discardableResult
    func start(_ args: [String], label: String, environment: [String: String] = [:], directory: String? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Self.terrain)
        p.arguments = args
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        env.merge(environment) { $1 }
        p.environment = env
        FileManager.default.createFile(atPath: "\(dir)/\(label).out", contents: nil)
        FileManager.default.createFile(atPath: "\(dir)/\(label).err", contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: "\(dir)/\(label).out")
        p.standardError = FileHandle(forWritingAtPath: "\(dir)/\(label).err")
        try p.run()
        processes.append(p)
        return p
    }

    func coordinator(_ spec: String, extra: [String] = [], label: String = "coordinator") throws -> Process {
        try start(["coordinator", spec, "--bind", endpoint, "--dataset", dataset, "--quiet"] + extra, label: label)
    }

    func worker(_ label: String, extra: [String] = []) throws -> Process {
        try start(["worker", "--connect", endpoint, "--give-up-after", "60"] + extra, label: label)
    }

    func output(_ label: String) -> String {
        ((try? String(contentsOfFile: "\(dir)/\(label).out", encoding: .utf8)) ?? "") +
            ((try? String(contentsOfFile: "\(dir)/\(label).err", encoding: .utf8)) ?? "")
    }

    /// Polls `condition` every 20 ms; fails the test after `seconds` (a guard against hangs,
    /// not a performance assertion).
    func waitFor(_ what: String, seconds: Double = 120, file: StaticString = #filePath, line: UInt = #line,
                 _ condition: () throws -> Bool) rethrows {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        XCTFail("gave up waiting for: \(what)", file: file, line: line)
    }

    func waitForExit(_ p: Process, seconds: Double = 120, file: StaticString = #filePath, line: UInt = #line) -> Int32 {
        waitFor("process \(p.processIdentifier) to exit", seconds: seconds, file: file, line: line) { !p.isRunning }
        if p.isRunning { p.terminate(); p.waitUntilExit() }
        return p.terminationStatus
    }

    /// Runs `spec` to the end with a coordinator and `workers` worker processes; fails the
    /// test unless the coordinator exits with status 0 within `seconds` (a hang guard).
    func runToEnd(_ spec: String, workers: Int = 1, seconds: Double = 120, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try coordinator(spec)
        let started = try (0..<workers).map { try worker("w\($0)") }
        XCTAssertEqual(waitForExit(c, seconds: seconds, file: file, line: line), 0, output("coordinator"), file: file, line: line)
        for w in started { _ = waitForExit(w, file: file, line: line) }
    }

    /// Results committed so far (0 while the dataset does not exist yet).
    func resultCount() -> Int {
        guard FileManager.default.fileExists(atPath: dataset), let ds = try? SweepDataset(path: dataset, readOnly: true),
              let rows = try? ds.resultRows() else { return 0 }
        return rows.count
    }

    func open() throws -> SweepDataset { try SweepDataset(path: dataset, readOnly: true) }

    func cleanUp() {
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in processes { p.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
