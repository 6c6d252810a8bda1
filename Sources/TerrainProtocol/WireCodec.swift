/// Encodes and decodes ``WireMessage``s as ZeroMQ frames (docs/protocol.md).
public enum WireCodec {
    /// The protocol version this build speaks. Version 3 adds lease tokens (`task.lease`,
    /// echoed by `result`, `failure` and `checkpoint`) and field ranges; version 2 carried
    /// lists as lists (docs/protocol.md, "Changes").
    public static let version: UInt8 = 3
    /// The largest header frame accepted.
    public static let maxHeaderBytes = 64 * 1024
    /// The most blob frames a message may carry.
    public static let maxBlobs = 64
    /// The largest frame accepted (also the coordinator's `ZMQ_MAXMSGSIZE`).
    public static let maxFrameBytes = 256 * 1024 * 1024
    /// The length of an artifact hash (SHA-256).
    public static let hashBytes = 32
    /// The length of a lease token.
    public static let leaseBytes = 16

    /// The frames of `message` (without any routing id).
    public static func encode(_ message: WireMessage, version: UInt8 = WireCodec.version) -> [[UInt8]] {
        var w = WireFieldWriter(version: version, type: message.typeCode)
        var blobs: [[UInt8]] = []
        switch message {
        case .hello(let h):
            w.string("worker", h.worker)
            w.string("host", h.host)
            w.u64("pid", h.pid)
            w.stringList("kinds", h.kinds)
            w.u64("slots", h.slots)
            if !h.placement.isEmpty { w.string("placement", h.placement) }
        case .welcome(let sweep, let hb, let liveness):
            w.string("sweep", sweep)
            w.u64("heartbeat_ms", hb)
            w.u64("liveness", liveness)
        case .reject(let code, let reason):
            w.u64("code", code.rawValue)
            w.string("reason", reason)
        case .ready(let credit):
            w.u64("credit", credit)
        case .task(let t):
            encodeTask(t, into: &w)
        case .heartbeat(let tasks), .ack(let tasks):
            w.u64List("tasks", tasks)
        case .result(let r):
            blobs = encodeResult(r, into: &w)
        case .failure(let f):
            w.u64("task", f.task)
            w.u64("attempt", f.attempt)
            w.string("error", f.error)
            w.bool("retryable", f.retryable)
            if f.credit > 0 { w.u64("credit", f.credit) }
            w.bytes("lease", f.lease)
        case .goodbye(let reason), .done(let reason):
            w.string("reason", reason)
        case .fetch(let hashes):
            w.bytes("hashes", hashes.flatMap { $0 })
        case .artifact(let hash, let data):
            w.bytes("hash", hash)
            blobs = [data]
        case .checkpoint(let c):
            w.u64("task", c.task)
            w.u64("attempt", c.attempt)
            w.u64("step", c.step)
            w.bytes("lease", c.lease)
            blobs = [c.data]
        }
        return [w.bytes] + blobs
    }

    private static func encodeTask(_ t: TaskAssignment, into w: inout WireFieldWriter) {
        w.u64("task", t.task)
        w.u64("attempt", t.attempt)
        w.string("kind", t.kind)
        w.bytes("params", t.params)
        w.bytes("lease", t.lease)
        if !t.inputs.isEmpty {
            w.records("inputs", t.inputs) { r, input in
                r.u64("task", input.dependency)
                r.string("name", input.name)
                r.bytes("hash", input.hash)
            }
        }
    }

    private static func encodeResult(_ r: TaskResult, into w: inout WireFieldWriter) -> [[UInt8]] {
        w.u64("task", r.task)
        w.u64("attempt", r.attempt)
        w.bytes("output", r.output)
        w.f64("elapsed", r.elapsed)
        if r.credit > 0 { w.u64("credit", r.credit) }
        if let s = r.startStep { w.u64("start_step", s) }
        w.bytes("lease", r.lease)
        guard !r.blobs.isEmpty else { return [] }
        w.stringList("names", r.blobs.map(\.name))
        return r.blobs.map(\.data)
    }

    /// Parses frames (without the routing id). Throws ``WireError`` for anything that is not
    /// a well-formed message of this version — except `reject`, which is read in any version.
    public static func decode(_ frames: [[UInt8]]) throws(WireError) -> WireMessage {
        guard let header = frames.first, header.count >= 4, header[0] == 0x54, header[1] == 0x52 else {
            throw WireError.badMagic
        }
        guard header.count <= maxHeaderBytes else { throw WireError.tooLarge("header frame of \(header.count) bytes") }
        guard frames.count - 1 <= maxBlobs else { throw WireError.tooLarge("\(frames.count - 1) blob frames") }
        for f in frames where f.count > maxFrameBytes { throw WireError.tooLarge("frame of \(f.count) bytes") }
        let type = header[3]
        if header[2] != version && type != 3 { throw WireError.unsupportedVersion(header[2]) }
        let message = WireFrames(fields: try WireFieldReader(header), blobs: Array(frames.dropFirst()), type: type)
        switch type {
        case 1: return try message.hello()
        case 2:
            try message.noBlobs()
            let r = message.fields
            let hb = try r.u64("heartbeat_ms"), liveness = try r.u64("liveness")
            try WireRanges.check(hb, in: WireRanges.heartbeatMilliseconds, "heartbeat_ms")
            try WireRanges.check(liveness, in: WireRanges.liveness, "liveness")
            return .welcome(sweep: try r.string("sweep"), heartbeatMilliseconds: hb, liveness: liveness)
        case 3:
            let raw = try message.fields.u64("code")
            return .reject(code: RejectCode(rawValue: raw) ?? .malformed, reason: try message.fields.string("reason"))
        case 4:
            try message.noBlobs()
            return .ready(credit: try message.fields.u64("credit"))
        case 5: return try message.task()
        case 6:
            try message.noBlobs()
            return .heartbeat(tasks: try message.taskList("tasks", required: false))
        case 7: return try message.result()
        case 8: return try message.failure()
        case 9:
            try message.noBlobs()
            return .ack(tasks: try message.taskList("tasks", required: true))
        case 10:
            try message.noBlobs()
            return .goodbye(reason: try message.fields.string("reason", default: ""))
        case 11:
            try message.noBlobs()
            return .done(reason: try message.fields.string("reason", default: ""))
        case 12:
            try message.noBlobs()
            let hashes = try message.hashes("hashes")
            try WireRanges.check(hashes.count, in: WireRanges.fetchedHashes, "hashes' count")
            return .fetch(hashes: hashes)
        case 13: return try message.artifact()
        case 14: return try message.checkpoint()
        default: throw WireError.unknownType(type)
        }
    }
}

/// A received message's header fields and blob frames, read into typed messages.
private struct WireFrames {
    let fields: WireFieldReader
    let blobs: [[UInt8]]
    let type: UInt8

    func noBlobs() throws(WireError) {
        if !blobs.isEmpty { throw WireError.malformed("message type \(type) carries no blob frames") }
    }

    func hashes(_ field: String) throws(WireError) -> [[UInt8]] {
        let bytes = try fields.bytes(field)
        let n = WireCodec.hashBytes
        guard bytes.count % n == 0 else { throw WireError.malformed("\(field) is not a list of \(n)-byte hashes") }
        return stride(from: 0, to: bytes.count, by: n).map { Array(bytes[$0 ..< $0 + n]) }
    }

    /// A u64 list of task ids (each in ``WireRanges/ids``, at most ``WireRanges/listedTasks``).
    func taskList(_ field: String, required: Bool) throws(WireError) -> [UInt64] {
        let list = try fields.u64List(field, required: required)
        try WireRanges.check(list.count, in: 0 ... WireRanges.listedTasks, "\(field)' count")
        for id in list { try WireRanges.check(id, in: WireRanges.ids, field) }
        return list
    }

    /// The task id and attempt fields every per-task message carries.
    func taskAndAttempt() throws(WireError) -> (task: UInt64, attempt: UInt64) {
        let task = try fields.u64("task"), attempt = try fields.u64("attempt")
        try WireRanges.check(task, in: WireRanges.ids, "task")
        try WireRanges.check(attempt, in: WireRanges.ids, "attempt")
        return (task, attempt)
    }

    /// A lease token (exactly ``WireCodec/leaseBytes`` bytes).
    func lease() throws(WireError) -> [UInt8] {
        let lease = try fields.bytes("lease")
        guard lease.count == WireCodec.leaseBytes else {
            throw WireError.malformed("lease is \(lease.count) bytes, not \(WireCodec.leaseBytes)")
        }
        return lease
    }

    func hello() throws(WireError) -> WireMessage {
        try noBlobs()
        let h = WorkerHello(worker: try fields.string("worker"), host: try fields.string("host"), pid: try fields.u64("pid"),
                            kinds: try fields.stringList("kinds"), slots: try fields.u64("slots"),
                            placement: try fields.string("placement", default: ""))
        try WireRanges.name(h.worker, "worker")
        try WireRanges.check(h.placement.utf8.count, in: 0 ... WireRanges.nameBytes.upperBound, "placement' length")
        try WireRanges.name(h.host, "host")
        try WireRanges.check(h.kinds.count, in: WireRanges.kinds, "kinds' count")
        for k in h.kinds { try WireRanges.name(k, "kinds") }
        try WireRanges.check(h.slots, in: WireRanges.slots, "slots")
        return .hello(h)
    }

    func task() throws(WireError) -> WireMessage {
        try noBlobs()
        var inputs = [TaskInputRef]()
        for (i, r) in try fields.records("inputs").enumerated() {
            let hash = try r.bytes("hash")
            guard hash.count == WireCodec.hashBytes else {
                throw WireError.malformed("inputs[\(i)].hash is \(hash.count) bytes, not \(WireCodec.hashBytes)")
            }
            inputs.append(TaskInputRef(dependency: try r.u64("task"), name: try r.string("name"), hash: hash))
        }
        let (task, attempt) = try taskAndAttempt()
        let kind = try fields.string("kind")
        try WireRanges.name(kind, "kind")
        return .task(TaskAssignment(task: task, attempt: attempt, kind: kind, params: try fields.bytes("params"), inputs: inputs,
                                    lease: try lease()))
    }

    func result() throws(WireError) -> WireMessage {
        let names = try fields.stringList("names", required: false)
        guard names.count == blobs.count else {
            throw WireError.malformed("result names \(names.count) blobs but carries \(blobs.count)")
        }
        let (task, attempt) = try taskAndAttempt()
        let elapsed = try fields.f64("elapsed", default: 0)
        guard WireRanges.elapsed.contains(elapsed) else { throw WireError.malformed("field 'elapsed' is \(elapsed), outside 0…1e9 seconds") }
        let startStep = try fields.optionalU64("start_step")
        if let s = startStep { try WireRanges.check(s, in: WireRanges.steps, "start_step") }
        return .result(TaskResult(task: task, attempt: attempt, output: try fields.bytes("output"), elapsed: elapsed,
                                  credit: try fields.u64("credit", default: 0), blobs: Array(zip(names, blobs)).map { (name: $0.0, data: $0.1) },
                                  startStep: startStep, lease: try lease()))
    }

    func failure() throws(WireError) -> WireMessage {
        try noBlobs()
        let (task, attempt) = try taskAndAttempt()
        return .failure(TaskFailure(task: task, attempt: attempt, error: try fields.string("error"),
                                    retryable: try fields.bool("retryable", default: true), credit: try fields.u64("credit", default: 0),
                                    lease: try lease()))
    }

    func artifact() throws(WireError) -> WireMessage {
        guard blobs.count == 1 else { throw WireError.malformed("artifact needs exactly one blob frame") }
        let hash = try fields.bytes("hash")
        guard hash.count == WireCodec.hashBytes else { throw WireError.malformed("artifact hash is \(hash.count) bytes, not \(WireCodec.hashBytes)") }
        return .artifact(hash: hash, data: blobs[0])
    }

    func checkpoint() throws(WireError) -> WireMessage {
        guard blobs.count == 1 else { throw WireError.malformed("checkpoint needs exactly one blob frame") }
        let (task, attempt) = try taskAndAttempt()
        let step = try fields.u64("step")
        try WireRanges.check(step, in: WireRanges.steps, "step")
        return .checkpoint(TaskCheckpoint(task: task, attempt: attempt, step: step, data: blobs[0], lease: try lease()))
    }
}
