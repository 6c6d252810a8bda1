import ArgumentParser
import Foundation
import TerrainCoordinator
import TerrainSweeps
import TerrainWire
import TerrainWeb

/// `terrain coordinator SPEC --bind ENDPOINT [--dataset FILE]`.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Serve a sweep to workers over ZeroMQ, recording results in one SQLite dataset.",
        discussion: "Resumes when started again on the same dataset. SIGINT, SIGTERM or SIGUSR1 stop dispatching, wait for running tasks (--grace), and leave the dataset consistent; a second signal stops at once. Exit status: 0 the sweep finished (every task done or failed; `terrain status` lists failures), 130 stopped by a signal (resumable: run it again on the same dataset), 1 an error (spec, dataset, endpoint).")

    @Argument(help: "The sweep spec (YAML).")
    var spec: String

    @Option(name: .long, help: "Endpoint to bind (repeatable). The default accepts local workers only; for a cluster bind e.g. tcp://0.0.0.0:5555, preferably with --curve-key.")
    var bind: [String] = ["tcp://127.0.0.1:5555"]

    @Option(help: "The dataset file (default: <spec name>.sqlite).")
    var dataset: String?

    @OptionGroup var security: CoordinatorSecurityOptions

    @Option(help: "Seconds to wait for running tasks after SIGINT/SIGTERM.")
    var grace: Double = 10

    @Flag(help: "Serve plaintext on endpoints other hosts can reach (without it, a coordinator without --curve-key binds only loopback and ipc:// endpoints). Anyone who can reach the port can then join, read the sweep's inputs and submit results: use it only on a network you trust.")
    var insecure = false

    @Flag(help: "No progress bar.")
    var quiet = false

    @OptionGroup var cluster: CoordinatorClusterOptions
    @OptionGroup(title: "Live page and metrics") var http: HTTPOptions

    func run() throws {
        let sweep = try CLI.loadSweep(spec)
        let path = dataset ?? "\(sweep.name).sqlite"
        try cluster.check(dataset: path)
        Coordinator.installSignalHandlers()
        let publisher = cluster.publisher(sweep: sweep.name, dataset: path)
        let metrics = try http.binding() == nil ? nil : WebMetrics()
        // Serves until the process exits (stopping it under a client's request can trip NIO).
        _ = try http.start(dataset: path, live: metrics)
        let summary: CoordinatorSummary
        do {
            summary = try CLI.runCoordinator(sweep, endpoints: bind, dataset: path, curve: try security.load(), grace: grace,
                                             quiet: quiet, insecure: insecure, observer: metrics, started: publisher.publish)
        } catch {
            publisher.withdraw(finished: false)
            throw error
        }
        publisher.withdraw(finished: summary.finished)
        if !summary.finished { throw ExitCode(130) }
    }
}

/// CURVE options of the coordinator.
struct CoordinatorSecurityOptions: ParsableArguments {
    @Option(help: "Enable CurveZMQ with this key pair (path prefix: reads PATH.key and PATH.key_secret, as written by `terrain keys generate`).")
    var curveKey: String?

    @Option(help: "Directory of admitted worker public keys (*.key); with --curve-key every other peer is refused.")
    var allowedKeys: String?

    func load() throws -> (server: CurveKeyPair, allowedWorkers: Set<[UInt8]>)? {
        guard let curveKey else {
            if allowedKeys != nil { throw ValidationError("--allowed-keys needs --curve-key") }
            return nil
        }
        guard let allowedKeys else { throw ValidationError("--curve-key needs --allowed-keys DIR (the workers' public keys)") }
        do {
            let pair = try CurveKeyPair.read(publicPath: curveKey + ".key", secretPath: curveKey + ".key_secret")
            var allowed = Set<[UInt8]>()
            let files = try FileManager.default.contentsOfDirectory(atPath: allowedKeys).filter { $0.hasSuffix(".key") }.sorted()
            for f in files { allowed.insert(try CurveKeyPair.readPublicKey(path: allowedKeys + "/" + f)) }
            if allowed.isEmpty { throw CLI.Failure(message: "\(allowedKeys): no *.key public keys found") }
            return (pair, allowed)
        } catch let e as CLI.Failure {
            throw e
        } catch {
            throw CLI.Failure(message: "\(error)")
        }
    }
}
