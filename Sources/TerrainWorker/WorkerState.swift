import Logging
import TerrainCore
import TerrainProtocol

/// The worker's state machine: a value type with no I/O, after swift-nio's and
/// swift-cluster-membership's. Events go in (a message from the coordinator, a finished
/// computation, a checkpoint, time, a signal); actions come out, carrying their data, for
/// ``WorkerShell`` to perform. It owns every policy of the worker side of docs/protocol.md:
/// credit and prefetch, fetching and caching artifacts, liveness and reconnecting with
/// backoff, resending unacknowledged results, and leaving on a signal.
public struct WorkerState: Sendable {
    /// What does not change while the worker runs.
    public struct Config: Sendable {
        /// The coordinator's endpoint (for messages).
        public var endpoint: String
        /// Tasks held beyond the one computing (credit = 1 + prefetch).
        public var prefetch: Int
        /// Exit when no coordinator has welcomed us for this long, seconds; `nil` = never.
        public var giveUpAfter: Double?
        /// Byte budget of the artifact cache.
        public var cacheBytes: Int

        /// Creates a configuration.
        public init(endpoint: String, prefetch: Int = 1, giveUpAfter: Double? = nil, cacheBytes: Int = 1 << 30) {
            self.endpoint = endpoint
            self.prefetch = max(0, prefetch)
            self.giveUpAfter = giveUpAfter
            self.cacheBytes = cacheBytes
        }
    }

    /// Something that happened. Times are monotonic seconds.
    public enum Event: Sendable {
        /// The worker starts.
        case start(now: Double)
        /// A message from the coordinator.
        case received(WireMessage, now: Double)
        /// Frames from the coordinator that did not decode (they still prove it alive).
        case malformed(WireError, now: Double)
        /// The computation of the current task ended with this `result` or `failure`.
        case computed(WireMessage, now: Double)
        /// The running task saved its state.
        case checkpoint(TaskCheckpoint, now: Double)
        /// Time passed.
        case tick(now: Double)
        /// SIGTERM/SIGINT/SIGUSR1: finish the current task, hand it in, leave.
        case signal(now: Double)
        /// A second signal, or the grace period ran out: leave now, handing the current task
        /// back unfinished (the coordinator requeues it at the goodbye).
        case abandon(reason: String, now: Double)
        /// The endpoint file names another coordinator (it moved): connect there anew.
        case endpointChanged(String, now: Double)
        /// The shell holds an artifact's bytes already (a data file on local disk): counted in
        /// the cache without fetching it.
        case held(hash: [UInt8], size: Int, now: Double)
    }

    /// What the shell must do, in order.
    public enum Action: Sendable, Equatable {
        /// Drop the connection and connect anew under a new identity, then say hello.
        case connect
        /// Send this message on the current connection.
        case send(WireMessage)
        /// Keep these artifact bytes (their hash checked).
        case store(hash: [UInt8], data: [UInt8])
        /// Drop this artifact's bytes.
        case evict(hash: [UInt8])
        /// Start computing this task; every input's bytes are stored.
        case compute(TaskAssignment)
        /// Log a line.
        case log(Logger.Level, String)
        /// Stop the worker.
        case exit(WorkerExit)
    }

    public let config: Config
    private var welcomed = false
    private var heartbeatInterval = 1.0
    private var liveness = 5
    private var lastHeard = 0.0
    private var lastSent = 0.0
    private var lastWelcome = 0.0
    private var backoff = 0.5
    private var leaving = false
    private var queue: [TaskAssignment] = []
    private var computing: UInt64? = nil
    private var unacked: [UInt64: TaskResult] = [:]
    private var cache: ArtifactIndex
    private var fetching: Set<[UInt8]> = []

    /// A worker that has not started.
    public init(config: Config) {
        self.config = config
        cache = ArtifactIndex(budget: config.cacheBytes)
    }

    /// The tasks it holds: the one computing, then the queue.
    public var heldTasks: [UInt64] { (computing.map { [$0] } ?? []) + queue.map(\.task) }
    /// Results sent but not acknowledged, by task.
    public var unacknowledged: [UInt64] { unacked.keys.sorted() }
    /// Whether the coordinator welcomed the current connection.
    public var isWelcomed: Bool { welcomed }

    /// Applies one event and returns what the shell must do.
    public mutating func handle(_ event: Event) -> [Action] {
        var out = [Action]()
        switch event {
        case .start(let now):
            lastWelcome = now
            connect(now: now, into: &out)
        case let .received(message, now):
            lastHeard = now
            receive(message, now: now, into: &out)
            startNext(now: now, into: &out)
        case let .malformed(error, now):
            lastHeard = now
            out.append(.log(.warning, "dropped a malformed message from the coordinator: \(error)"))
        case let .computed(message, now): computed(message, now: now, into: &out)
        case let .checkpoint(c, now):
            // Progress of the running task: forward it; the task goes on. A connection the
            // coordinator has not welcomed holds no lease: the checkpoint would be dropped.
            if welcomed { send(.checkpoint(c), now: now, into: &out) }
        case .tick(let now): tick(now: now, into: &out)
        case .signal:
            guard !leaving else { break }
            leaving = true
            queue.removeAll()
            out.append(.log(.notice, "stopping: finishing the current task, handing back the rest"))
        case let .abandon(reason, now):
            let held = heldTasks
            queue.removeAll()
            leaving = true
            let what = held.isEmpty ? "no task running" : "task \(held.map { String($0) }.joined(separator: ", ")) handed back unfinished"
            send(.goodbye(reason: "worker stopping now (\(reason)); \(what)"), now: now, into: &out)
            out.append(.exit(.abandoned("\(reason); \(what)")))
        case let .held(hash, size, _):
            guard !cache.contains(hash) else { break }
            let pinned = Set(queue.flatMap(\.artifacts))
            for old in cache.insert(hash, size: size, pinned: pinned) { out.append(.evict(hash: old)) }
        case let .endpointChanged(endpoint, now):
            out.append(.log(.notice, "the coordinator moved to \(endpoint); connecting there"))
            queue.removeAll()
            connect(now: now, into: &out)
        }
        return out
    }

    // MARK: Events

    private mutating func receive(_ message: WireMessage, now: Double, into out: inout [Action]) {
        switch message {
        case let .welcome(_, hb, live):
            welcomed = true
            lastWelcome = now
            heartbeatInterval = max(Double(hb) / 1000, 0.01)
            liveness = Int(clamping: live)
            // Results the previous connection never saw acknowledged go out again.
            for task in unacked.keys.sorted() { send(.result(unacked[task]!), now: now, into: &out) }
            let slots = 1 + config.prefetch
            let credit = UInt64(slots - min(heldTasks.count, slots))
            if !leaving && credit > 0 { send(.ready(credit: credit), now: now, into: &out) }
        case let .reject(code, reason):
            guard code == .unknownPeer else { out.append(.exit(.rejected(code, reason))); return }
            // The coordinator restarted or dropped us: the tasks we hold are no longer ours.
            // Results wait for the new welcome (hello first).
            out.append(.log(.info, "the coordinator does not know this connection; introducing again"))
            queue.removeAll()
            connect(now: now, into: &out)
        case .task(let t):
            lastWelcome = now
            queue.append(t)
            let missing = t.artifacts.filter { !cache.contains($0) && !fetching.contains($0) }
            if !missing.isEmpty {
                fetching.formUnion(missing)
                send(.fetch(hashes: missing), now: now, into: &out)
            }
        case let .artifact(hash, data):
            guard SHA256.hash(data) == hash else {
                out.append(.log(.warning, "artifact \(SHA256.hex(hash).prefix(12)) failed its hash check; asking again"))
                send(.fetch(hashes: [hash]), now: now, into: &out)
                return
            }
            fetching.remove(hash)
            if !cache.contains(hash) {
                out.append(.store(hash: hash, data: data))
                let pinned = Set(queue.flatMap(\.artifacts))
                for old in cache.insert(hash, size: data.count, pinned: pinned) { out.append(.evict(hash: old)) }
            }
        case .ack(let tasks):
            for t in tasks { unacked.removeValue(forKey: t) }
        case .heartbeat(let leased):
            // The coordinator lists our leases: a queued task it does not list was given to
            // another worker (or the sweep moved on); drop it and offer the slot again.
            let listed = Set(leased)
            let before = queue.count
            queue.removeAll { !listed.contains($0.task) }
            let dropped = before - queue.count
            if dropped > 0 {
                out.append(.log(.info, "dropped \(dropped) queued task(s) the coordinator gave to another worker"))
                if welcomed && !leaving { send(.ready(credit: UInt64(dropped)), now: now, into: &out) }
            }
            if let c = computing, !listed.contains(c), welcomed {
                out.append(.log(.info, "task \(c) was given to another worker; finishing it anyway (the first result wins)"))
            }
        case .done(let reason):
            out.append(.exit(.done(reason)))
        case .hello, .ready, .result, .failure, .goodbye, .fetch, .checkpoint:
            out.append(.log(.warning, "the coordinator sent a worker-only message (type \(message.typeCode)); ignored"))
        }
    }

    private mutating func computed(_ message: WireMessage, now: Double, into out: inout [Action]) {
        computing = nil
        let credit: UInt64 = leaving ? 0 : 1
        switch message {
        case .result(var r):
            r.credit = credit
            unacked[r.task] = r
            // Hello first: a connection the coordinator has not welcomed keeps the result
            // until it is (every unacknowledged result goes out after a welcome).
            if welcomed { send(.result(r), now: now, into: &out) }
        case .failure(var f):
            f.credit = credit
            // A failure is about a lease, which a new connection does not hold: the
            // coordinator retries the task when it notices the lost lease.
            if welcomed { send(.failure(f), now: now, into: &out) }
        default:
            preconditionFailure("a computation ends with a result or a failure, not message type \(message.typeCode)")
        }
        startNext(now: now, into: &out)
    }

    private mutating func tick(now: Double, into out: inout [Action]) {
        if leaving && computing == nil && (unacked.isEmpty || !welcomed || now - lastHeard > 2) {
            send(.goodbye(reason: "worker stopping (signal)"), now: now, into: &out)
            out.append(.exit(.signalled))
            return
        }
        if welcomed && now - lastSent >= heartbeatInterval {
            send(.heartbeat(tasks: heldTasks), now: now, into: &out)
        }
        startNext(now: now, into: &out)
        // The coordinator is silent: reconnect under a new identity.
        let silentLimit = welcomed ? heartbeatInterval * Double(liveness) : max(2, backoff * 2)
        guard now - lastHeard > silentLimit else { return }
        if let limit = config.giveUpAfter, now - lastWelcome > limit {
            out.append(.exit(.gaveUp("no coordinator answered at \(config.endpoint) for \(Int(limit)) s")))
            return
        }
        out.append(.log(.warning, "no word from the coordinator for \(Int(now - lastHeard)) s; reconnecting"))
        queue.removeAll()
        connect(now: now, into: &out)
        backoff = min(backoff * 2, 10)
    }

    // MARK: Internals

    /// A new connection: nothing it asked for is on its way any more.
    private mutating func connect(now: Double, into out: inout [Action]) {
        welcomed = false
        lastHeard = now
        lastSent = now
        fetching = []
        out.append(.connect)
    }

    private mutating func send(_ message: WireMessage, now: Double, into out: inout [Action]) {
        lastSent = now
        out.append(.send(message))
    }

    /// Whether the coordinator has welcomed this connection and been heard from within the
    /// liveness window: a worker woken from SIGSTOP must not start a prefetched task before
    /// it knows the task is still its own.
    private func connectionIsFresh(_ now: Double) -> Bool {
        welcomed && now - lastHeard <= heartbeatInterval * Double(liveness)
    }

    /// Hands the oldest task whose artifacts are all held to the compute thread.
    private mutating func startNext(now: Double, into out: inout [Action]) {
        guard computing == nil, connectionIsFresh(now),
              let index = queue.firstIndex(where: { $0.artifacts.allSatisfy(cache.contains) }) else { return }
        let t = queue.remove(at: index)
        computing = t.task
        out.append(.compute(t))
    }
}

