import Foundation
import Hummingbird
import Logging
import NIOPosix

/// The HTTP server of `--http`: Hummingbird on one SwiftNIO event-loop thread of its own,
/// serving a ``SweepView``. It never runs on the coordinator's thread and never touches its
/// socket: what it shows comes from the dataset (read-only) and the coordinator's published
/// snapshots. One event loop (not one per core) keeps the server from competing with the
/// coordinator for more than one core's worth of threads, and the server's threads run at
/// nice 10 (docs/performance.md#http-polling).
public final class WebServer: @unchecked Sendable {
    /// The address it listens on, port resolved (`http://127.0.0.1:8080`).
    public private(set) var url = ""
    private var task: Task<Void, Never>?
    /// The event loop every server of this process shares, its thread at a lower CPU priority.
    static let eventLoops: MultiThreadedEventLoopGroup = {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        group.next().execute { yieldToTheCoordinator() }
        return group
    }()

    /// Lowers the calling thread's CPU priority to nice 10 (Linux priorities are per thread):
    /// when the cores are busy, the coordinator's thread (nice 0) gets about ten times the
    /// server's share, so HTTP load waits rather than the dispatch. Best effort.
    static func yieldToTheCoordinator() {
        // `who` 0 is the calling thread on Linux (its nice value is per thread).
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        if getpriority(which, 0) < 10 { _ = setpriority(which, 0, 10) }
    }

    /// Starts serving `view` on `binding` and returns once the port is bound. Throws
    /// ``WebError/server(_:)`` when it cannot bind.
    public static func start(_ view: SweepView, binding: WebBinding, streamInterval: Double = 1) throws(WebError) -> WebServer {
        let server = WebServer()
        let ready = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        var logger = Logger(label: "terrain.http")
        logger.logLevel = ProcessInfo.processInfo.environment["TERRAIN_HTTP_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        let responder = WebResponder(view: view, binding: binding, streamInterval: streamInterval)
        let app = Application(responder: responder, configuration: .init(address: .hostname(binding.host, port: binding.port), serverName: "terrain"),
                              onServerRunning: { channel in
                                  outcome.set(port: channel.localAddress?.port ?? binding.port)
                                  ready.signal()
                              }, eventLoopGroupProvider: .shared(eventLoops), logger: logger)
        server.task = Task.detached {
            do { try await app.run() } catch {
                outcome.set(error: "\(error)")
                ready.signal()
            }
        }
        ready.wait()
        let (port, error) = outcome.get()
        if let error { throw .server("cannot serve HTTP on \(binding.host):\(binding.port): \(error)") }
        let host = binding.host.contains(":") ? "[\(binding.host)]" : binding.host
        server.url = "http://\(host):\(port ?? binding.port)"
        return server
    }

    /// Stops the server (open streams end).
    public func stop() {
        task?.cancel()
        task = nil
    }

    /// The line printed at start: where to point a browser (the token as a query parameter
    /// is not printed; docs/security.md).
    public func announcement(tokenRequired: Bool) -> String {
        "http: serving the live page, API and /metrics on \(url)/" + (tokenRequired ? " (access token required: \(url)/?token=…)" : "")
    }
}

private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    private var error: String?
    func set(port: Int) { lock.lock(); self.port = port; lock.unlock() }
    func set(error: String) { lock.lock(); self.error = error; lock.unlock() }
    func get() -> (Int?, String?) { lock.lock(); defer { lock.unlock() }; return (port, error) }
}
