import ArgumentParser
import Foundation
import TerrainCoordinator
import TerrainSweeps

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

    func run() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        let sweep = try CLI.loadSweep(spec)
        let socketDir = NSTemporaryDirectory() + "terrain-\(getpid())"
        try FileManager.default.createDirectory(atPath: socketDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: socketDir) }
        let endpoint = "ipc://\(socketDir)/coordinator.sock"
        Coordinator.installSignalHandlers()
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
        let launched = LaunchedWorkers()
        let summary = try CLI.runCoordinator(sweep, endpoints: [endpoint], dataset: dataset ?? "\(sweep.name).sqlite",
                                             curve: nil, grace: 10, quiet: quiet) { _ in
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
