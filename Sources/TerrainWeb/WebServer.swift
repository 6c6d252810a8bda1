import Foundation
import Hummingbird
import Logging
import NIOCore
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
    /// The event loop every server of this process shares, its thread at a lower CPU priority:
    /// NIO's singleton group of one thread when ``runConcurrencyOnTheEventLoop()`` made it Swift
    /// concurrency's executor, else a group of one thread of its own.
    static let eventLoops: MultiThreadedEventLoopGroup = {
        let group = concurrencyOnTheEventLoop.value ? MultiThreadedEventLoopGroup.singleton : MultiThreadedEventLoopGroup(numberOfThreads: 1)
        group.next().execute { yieldToTheCoordinator() }
        return group
    }()

    private static let concurrencyOnTheEventLoop = Flag()

    /// Makes the server's event-loop thread the executor of all of this process's Swift
    /// concurrency (NIO's concurrency take-over), so that a request's handler runs on the
    /// thread that read it instead of hopping to Swift's global pool and back: two thread
    /// wake-ups less per request (docs/performance.md#http-polling). In Terrain only the HTTP
    /// server uses Swift concurrency, so nothing else moves.
    ///
    /// Call from the main thread, before anything in the process has used Swift concurrency
    /// (the CLI calls it before starting the server); later calls return the first answer.
    /// Returns false (and changes nothing) when the runtime offers no hook; the server then
    /// runs on a group of its own, as it does in processes that never call this.
    @discardableResult
    public static func runConcurrencyOnTheEventLoop() -> Bool {
        let adopted = takeOver
        concurrencyOnTheEventLoop.value = adopted
        return adopted
    }

    /// NIO's take-over, done once however often it is asked for (NIO traps on a second).
    private static let takeOver: Bool = {
        NIOSingletons.groupLoopCountSuggestion = 1
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
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
        let logger = serverLogger(level: ProcessInfo.processInfo.environment["TERRAIN_HTTP_LOG"].flatMap { Logger.Level(rawValue: $0) })
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

    /// Hummingbird's logger: standard error at `level` (`TERRAIN_HTTP_LOG`), else one that
    /// discards everything. Hummingbird attaches a request id to its logger per request, and
    /// swift-log's stream handler formats its metadata on every change (≈ 5 % of the server's
    /// CPU per request in `perf`), so the unlogged server does not carry one.
    static func serverLogger(level: Logger.Level?) -> Logger {
        guard let level else { return Logger(label: "terrain.http", factory: { _ in SwiftLogNoOpLogHandler() }) }
        var logger = Logger(label: "terrain.http", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        return logger
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

/// A boolean set once on the main thread before the server starts and read after.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
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
