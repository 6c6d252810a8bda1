import ArgumentParser
import Foundation
import TerrainWeb

/// `--http HOST:PORT` and `--http-token` of `coordinator`, `run` and `serve` (docs/http.md,
/// docs/security.md).
struct HTTPOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve the live page, its JSON API and /metrics on HOST:PORT (port 0: any free port; the address is printed). Loopback needs no token; any other address needs --http-token.",
                               valueName: "host:port"))
    var http: String?

    @Option(help: ArgumentHelp("The access token HTTP clients must send (Authorization: Bearer TOKEN or ?token=TOKEN); default: $\(WebBinding.tokenVariable). At least 16 characters.",
                               valueName: "token"))
    var httpToken: String?

    /// The binding asked for, or `nil` without `--http` (or `defaultAddress` when `always`).
    func binding(default address: String? = nil) throws -> WebBinding? {
        guard let address = http ?? address else { return nil }
        let token = httpToken ?? ProcessInfo.processInfo.environment[WebBinding.tokenVariable].flatMap { $0.isEmpty ? nil : $0 }
        do { return try WebBinding(address, token: token) } catch { throw CLI.Failure(message: error.description) }
    }

    /// Starts the server for the dataset at `path` when `--http` was given (or `default`),
    /// printing where it listens on standard error.
    func start(dataset path: String, live: WebMetrics?, default address: String? = nil) throws -> WebServer? {
        guard let binding = try binding(default: address) else { return nil }
        // Before the first use of Swift concurrency in this process (the server's own).
        WebServer.runConcurrencyOnTheEventLoop()
        do {
            let server = try WebServer.start(SweepView(path: path, live: live), binding: binding)
            FileHandle.standardError.write(Data((server.announcement(tokenRequired: binding.token != nil) + "\n").utf8))
            return server
        } catch {
            throw CLI.Failure(message: error.description)
        }
    }
}
