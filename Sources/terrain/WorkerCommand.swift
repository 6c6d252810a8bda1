import ArgumentParser
import Foundation
import TerrainWire
import TerrainWorker

/// `terrain worker --connect ENDPOINT`.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run tasks for a coordinator until it says the sweep is done.",
        discussion: "SIGTERM, SIGINT or SIGUSR1 stop it after its current task is handed in (at most --grace seconds); a second signal stops it at once, handing the task back. Exit status: 0 the sweep is done, 130 stopped by a signal (the sweep resumes without it), 3 protocol version mismatch, 4 no coordinator answered (--give-up-after), 5 refused by the coordinator, 1 any other error.")

    @Option(help: "The coordinator's endpoint, e.g. tcp://head-node:5555, or @FILE: the endpoint file a coordinator writes with --endpoint-file (waited for, and read again whenever the coordinator moves).")
    var connect: String

    @Option(help: "CurveZMQ: this worker's key pair (path prefix: PATH.key and PATH.key_secret).")
    var curveKey: String?

    @Option(help: "CurveZMQ: the coordinator's public key file.")
    var serverKey: String?

    @Option(help: "Tasks to hold beyond the one computing (hides the network round trip).")
    var prefetch: Int = 1

    @Option(help: "Exit with status 4 when no coordinator has answered for this many seconds.")
    var giveUpAfter: Double?

    @Option(help: "Seconds the current task may still run after SIGTERM/SIGUSR1 before it is handed back unfinished (default: until it finishes). Set it below the batch system's kill delay (SLURM's KillWait, Kubernetes' terminationGracePeriodSeconds).")
    var grace: Double?

    @Option(help: .hidden)
    var protocolVersion: UInt8 = WireCodec.version

    func run() throws {
        var curve: (serverPublicKey: [UInt8], keys: CurveKeyPair)? = nil
        switch (curveKey, serverKey) {
        case (nil, nil): break
        case let (key?, server?):
            do {
                curve = (try CurveKeyPair.readPublicKey(path: server), try CurveKeyPair.read(publicPath: key + ".key", secretPath: key + ".key_secret"))
            } catch { throw CLI.Failure(message: "\(error)") }
        default: throw ValidationError("--curve-key and --server-key go together")
        }
        if connect.hasPrefix("@") && connect.count == 1 { throw ValidationError("--connect @FILE needs a file name") }
        if let grace, !(grace >= 0) { throw ValidationError("--grace must be a non-negative number of seconds") }
        Worker.installSignalHandlers()
        var options = WorkerOptions(endpoint: connect, curve: curve, prefetch: max(0, prefetch), giveUpAfter: giveUpAfter,
                                    protocolVersion: protocolVersion, computeExecutable: CLI.executablePath)
        options.grace = grace
        options.placement = WorkerPlacement.describe(ProcessInfo.processInfo.environment)
        let worker = Worker(options: options)
        let exit = try worker.run()
        switch exit {
        case .done(let reason): FileHandle.standardError.write(Data("worker: \(reason)\n".utf8))
        case .signalled: FileHandle.standardError.write(Data("worker: stopped by signal after handing in its work\n".utf8))
        case .abandoned(let why): FileHandle.standardError.write(Data("worker: stopped by signal at once: \(why)\n".utf8))
        case let .rejected(code, reason):
            FileHandle.standardError.write(Data("Error: the coordinator refused this worker (code \(code.rawValue)): \(reason)\n".utf8))
        case .gaveUp(let reason): FileHandle.standardError.write(Data("Error: \(reason)\n".utf8))
        }
        if exit.status != 0 { throw ExitCode(exit.status) }
    }
}
