import ArgumentParser
import Foundation
import TerrainWire

/// `terrain keys generate NAME`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "CurveZMQ key pairs.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a CurveZMQ key pair: NAME.key (public, give it to peers) and NAME.key_secret (mode 0600).")

        @Argument(help: "Name of the key pair (e.g. coordinator, worker-node3).")
        var name: String

        @Option(help: "Directory to write into.")
        var directory: String = "."

        func run() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let base = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: base + ".key_secret") {
                throw CLI.Failure(message: "\(base).key_secret exists; refusing to overwrite a secret key")
            }
            let pair = try CurveKeyPair.generate()
            try pair.write(publicPath: base + ".key", secretPath: base + ".key_secret")
            print("wrote \(base).key (public) and \(base).key_secret (secret, mode 0600)")
        }
    }
}
