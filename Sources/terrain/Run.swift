import ArgumentParser
import Foundation
import TerrainCoordinator
import TerrainSweeps
import TerrainWeb

/// `terrain run SPEC --workers N`: coordinator in-process plus N local worker processes.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a sweep on this machine: a coordinator in this process and N worker processes (OPENBLAS_NUM_THREADS=1 each).")

    @Argument(help: "The sweep spec (YAML).")
    var spec: String

    @Option(name: .shortAndLong, help: "Worker processes to start (the default is the number of cores).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "The dataset file (default: <spec name>.sqlite).")
    var dataset: String?

    @Flag(help: "No progress bar.")
    var quiet = false

    @OptionGroup(title: "Live page and metrics") var http: HTTPOptions

    func run() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        let sweep = try CLI.loadSweep(spec)
        LocalSockets.removeStale(in: NSTemporaryDirectory())
        let socketDir = NSTemporaryDirectory() + "terrain-\(getpid())"
        try FileManager.default.createDirectory(atPath: socketDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: socketDir) }
        let endpoint = "ipc://\(socketDir)/coordinator.sock"
        Coordinator.installSignalHandlers()
        let executable = CLI.executablePath
        let launched = LaunchedWorkers()
        let path = dataset ?? "\(sweep.name).sqlite"
        let metrics = try http.binding() == nil ? nil : WebMetrics()
        // Serves until the process exits (stopping it under a client's request can trip NIO).
        _ = try http.start(dataset: path, live: metrics)
        // Whatever ends the coordinator — the sweep finishing, a signal, an error such as a
        // full disk — ends its workers with it (they would otherwise wait --give-up-after).
        let summary: CoordinatorSummary
        do {
            summary = try CLI.runCoordinator(sweep, endpoints: [endpoint], dataset: path,
                                             curve: nil, grace: 10, quiet: quiet, observer: metrics) { _ in
                var environment = ProcessInfo.processInfo.environment
                environment["OPENBLAS_NUM_THREADS"] = "1"
                for _ in 0..<workers {
                    let p = Process()
                    p.executableURL = URL(fileURLWithPath: executable)
                    p.arguments = ["worker", "--connect", endpoint, "--give-up-after", "30"]
                    p.environment = environment
                    p.standardError = FileHandle.nullDevice
                    do { try p.run(); launched.add(p) } catch {
                        FileHandle.standardError.write(Data("Error: cannot start a worker process: \(error)\n".utf8))
                    }
                }
            }
        } catch {
            launched.wait(seconds: 0)
            throw error
        }
        // A finished sweep releases its workers (they leave on `done`); a stopped one cannot
        // use what they are computing any more: they are killed (a re-run resumes, long tasks
        // from their last checkpoint).
        launched.wait(seconds: summary.finished ? 5 : 0)
        if !summary.finished { throw ExitCode(130) }
    }
}

/// The worker processes `terrain run` started.
final class LaunchedWorkers: @unchecked Sendable {
    private var processes: [Process] = []
    private let lock = NSLock()

    func add(_ p: Process) {
        lock.lock()
        processes.append(p)
        lock.unlock()
    }

    /// Waits up to `seconds` for the workers to leave on their own, then kills the rest.
    func wait(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        lock.lock()
        let all = processes
        lock.unlock()
        for p in all {
            while p.isRunning && Date() < deadline { usleep(20_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        for p in all { p.waitUntilExit() }
    }
}

/// The `$TMPDIR/terrain-<pid>/` socket directories of `terrain run`.
enum LocalSockets {
    /// Removes the directories of `terrain run` processes that no longer exist (one killed
    /// with SIGKILL cannot remove its own). Only directories this user owns that hold nothing
    /// but a coordinator socket are touched.
    static func removeStale(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix("terrain-") {
            guard let pid = Int32(name.dropFirst("terrain-".count)), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno != ESRCH { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            var s = stat()
            guard lstat(path, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR, s.st_uid == getuid(),
                  let contents = try? FileManager.default.contentsOfDirectory(atPath: path),
                  contents.allSatisfy({ $0 == "coordinator.sock" }) else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
