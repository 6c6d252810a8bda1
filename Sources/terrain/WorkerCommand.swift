import ArgumentParser
import Foundation
import TerrainWire
import TerrainWorker

/// `terrain worker --connect ENDPOINT`.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run tasks for a coordinator until it says the sweep is done.",
        discussion: "Exit status: 0 done (or stopped by SIGTERM after handing in its task), 3 protocol version mismatch, 4 no coordinator answered (--give-up-after), 5 refused by the coordinator.")

    @Option(help: "The coordinator's endpoint, e.g. tcp://head-node:5555.")
    var connect: String

    @Option(help: "CurveZMQ: this worker's key pair (path prefix: PATH.key and PATH.key_secret).")
    var curveKey: String?

    @Option(help: "CurveZMQ: the coordinator's public key file.")
    var serverKey: String?

    @Option(help: "Tasks to hold beyond the one computing (hides the network round trip).")
    var prefetch: Int = 1

    @Option(help: "Exit with status 4 when no coordinator has answered for this many seconds.")
    var giveUpAfter: Double?

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
        Worker.installSignalHandlers()
        let worker = Worker(options: WorkerOptions(endpoint: connect, curve: curve, prefetch: max(0, prefetch),
                                                       giveUpAfter: giveUpAfter, protocolVersion: protocolVersion,
                                                       computeExecutable: CLI.executablePath))
        let exit = try worker.run()
        switch exit {
        case .done(let reason): FileHandle.standardError.write(Data("worker: \(reason)\n".utf8))
        case .signalled: FileHandle.standardError.write(Data("worker: stopped by signal after handing in its work\n".utf8))
        case let .rejected(code, reason):
            FileHandle.standardError.write(Data("Error: the coordinator refused this worker (code \(code.rawValue)): \(reason)\n".utf8))
        case .gaveUp(let reason): FileHandle.standardError.write(Data("Error: \(reason)\n".utf8))
        }
        if exit.status != 0 { throw ExitCode(exit.status) }
    }
}
