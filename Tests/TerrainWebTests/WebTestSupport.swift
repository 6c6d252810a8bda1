import Foundation
import XCTest

/// Tiny sweeps of every kind, run once per test process with the real `terrain` binary, and
/// the processes the web tests start.
enum WebTestSupport {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

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

    /// A folder for one test's files (kept: screenshots and reports are looked at).
    static func directory(_ name: String) throws -> String {
        let d = NSTemporaryDirectory() + "terrain-web-tests-\(getpid())/\(name)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static let mnist = repo.appendingPathComponent("data/mnist1d.npz").path

    /// Specs of every kind, small enough to run in seconds.
    static let specs: [String: String] = [
        "probe": """
            name: web-probe
            kind: probe
            probe: {tasks: 60, sleep_ms: 5, payload_bytes: 16, chain: 3, fail: [7]}
            runtime: {max_attempts: 2, heartbeat_ms: 200, liveness: 5}
            """,
        "surface": """
            name: web-surface
            kind: surface
            model: {kind: mlp, hidden: [16]}
            data: {path: \(mnist), train_subset: 300, test_subset: 200}
            surface:
              train: {optimizer: {name: sgd, lr: 0.1, momentum: 0.9}, batch_size: 50, epochs: 2, seed: 1}
              x: "-1:1:11"
              y: "-1:1:11"
              directions: {kind: random, normalization: filter, seed: 4}
              tile: 16
            runtime: {heartbeat_ms: 200, liveness: 5}
            """,
        "lottery": """
            name: web-lottery
            kind: lottery
            model: {kind: mlp, hidden: [16]}
            data: {path: \(mnist), train_subset: 300, test_subset: 200}
            training: {optimizer: {name: sgd, lr: 0.1, momentum: 0.9}, batch_size: 50, epochs: 2, eval_every: 3}
            lottery: {levels: 3, seeds: [0], controls: [random_reinit]}
            runtime: {heartbeat_ms: 200, liveness: 5}
            """,
        "training": """
            name: web-training
            kind: training
            model: {kind: mlp, hidden: [16]}
            data: {path: \(mnist), train_subset: 300, test_subset: 200}
            training: {optimizer: {name: sgd, momentum: 0.9}, epochs: 2, eval_every: 3}
            grid: {batch_size: [25, 100], lr: [0.02, 0.1], seeds: [0]}
            runtime: {heartbeat_ms: 200, liveness: 5}
            """,
    ]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var finished: [String: String] = [:]

    /// The dataset of the finished tiny sweep of `kind`, run on first use (2 workers).
    static func dataset(_ kind: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let d = finished[kind] { return d }
        let dir = try directory("datasets")
        let spec = dir + "/\(kind).yaml"
        try specs[kind]!.write(toFile: spec, atomically: true, encoding: .utf8)
        let path = dir + "/\(kind).sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let r = try run([try terrain, "run", spec, "--workers", "2", "--dataset", path, "--quiet"])
        guard r.status == 0 else { throw RawHTTP.Failure("terrain run \(kind) failed (\(r.status)): \(r.output)") }
        finished[kind] = path
        return path
    }

    /// Runs a program to its end; standard output and error together.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: arguments[0])
        p.arguments = Array(arguments.dropFirst())
        p.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"].merging(environment) { $1 }) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A background `terrain` process whose standard error is watched for the HTTP address.
    final class Background {
        let process = Process()
        let log: String

        init(_ arguments: [String], log: String, environment: [String: String] = [:]) throws {
            self.log = log
            FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: try WebTestSupport.terrain)
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"].merging(environment) { $1 }) { $1 }
            let handle = FileHandle(forWritingAtPath: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// The port of the `http: serving … on http://HOST:PORT/` line (waits up to 120 s: a
        /// hang guard, not a performance limit).
        func port() throws -> Int {
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                for line in output.split(separator: "\n") where line.hasPrefix("http: serving") {
                    if let r = line.range(of: #":(\d+)/"#, options: .regularExpression), let p = Int(line[r].dropFirst().dropLast()) { return p }
                }
                if !process.isRunning { throw RawHTTP.Failure("terrain exited before serving HTTP: \(output)") }
                usleep(50_000)
            }
            throw RawHTTP.Failure("no HTTP address printed: \(output)")
        }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// Whether `python3 -c "import <module>"` works; tries `pip install` once when not
    /// (as `make pydeps` does), quietly.
    static func python(has module: String, package: String) -> Bool {
        if (try? run(["/usr/bin/env", "python3", "-c", "import \(module)"]).status) == 0 { return true }
        _ = try? run(["/usr/bin/env", "python3", "-m", "pip", "install", "--quiet", package])
        return (try? run(["/usr/bin/env", "python3", "-c", "import \(module)"]).status) == 0
    }
}
