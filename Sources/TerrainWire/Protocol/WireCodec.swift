/// Encodes and decodes ``WireMessage``s as ZeroMQ frames (docs/protocol.md).
public enum WireCodec {
    /// The protocol version this build speaks.
    public static let version: UInt8 = 1
    /// The largest header frame accepted.
    public static let maxHeaderBytes = 64 * 1024
    /// The most blob frames a message may carry.
    public static let maxBlobs = 64
    /// The largest frame accepted (also the coordinator's `ZMQ_MAXMSGSIZE`).
    public static let maxFrameBytes = 256 * 1024 * 1024

    /// The frames of `message` (without any routing id).
    public static func encode(_ message: WireMessage, version: UInt8 = WireCodec.version) -> [[UInt8]] {
        var w = WireFieldWriter(version: version, type: message.typeCode)
        var blobs: [[UInt8]] = []
        switch message {
        case .hello(let h):
            w.string("worker", h.worker)
            w.string("host", h.host)
            w.u64("pid", h.pid)
            w.string("kinds", h.kinds.joined(separator: ","))
            w.u64("slots", h.slots)
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
            w.u64("task", t.task)
            w.u64("attempt", t.attempt)
            w.string("kind", t.kind)
            w.bytes("params", t.params)
            if !t.artifacts.isEmpty { w.bytes("artifacts", t.artifacts.flatMap { $0 }) }
            if !t.inputs.isEmpty { w.string("inputs", t.inputs) }
        case .heartbeat(let tasks):
            w.u64List("tasks", tasks)
        case .result(let r):
            w.u64("task", r.task)
            w.u64("attempt", r.attempt)
            w.bytes("output", r.output)
            w.f64("elapsed", r.elapsed)
            if r.credit > 0 { w.u64("credit", r.credit) }
            if let s = r.startStep { w.u64("start_step", s) }
            if !r.blobs.isEmpty {
                w.string("names", r.blobs.map(\.name).joined(separator: "\n"))
                blobs = r.blobs.map(\.data)
            }
        case .failure(let f):
            w.u64("task", f.task)
            w.u64("attempt", f.attempt)
            w.string("error", f.error)
            w.bool("retryable", f.retryable)
            if f.credit > 0 { w.u64("credit", f.credit) }
        case .ack(let tasks):
            w.u64List("tasks", tasks)
        case .goodbye(let reason):
            w.string("reason", reason)
        case .done(let reason):
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
            blobs = [c.data]
        }
        return [w.bytes] + blobs
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
        let r = try WireFieldReader(header)
        let blobs = Array(frames.dropFirst())
        func noBlobs() throws(WireError) {
            if !blobs.isEmpty { throw WireError.malformed("message type \(type) carries no blob frames") }
        }
        func hashes(_ bytes: [UInt8], _ field: String) throws(WireError) -> [[UInt8]] {
            guard bytes.count % 32 == 0 else { throw WireError.malformed("\(field) is not a list of 32-byte hashes") }
            return stride(from: 0, to: bytes.count, by: 32).map { Array(bytes[$0 ..< $0 + 32]) }
        }
        switch type {
        case 1:
            try noBlobs()
            let kinds = try r.string("kinds").split(separator: ",").map(String.init)
            return .hello(WorkerHello(worker: try r.string("worker"), host: try r.string("host"), pid: try r.u64("pid"),
                                      kinds: kinds, slots: try r.u64("slots")))
        case 2:
            try noBlobs()
            return .welcome(sweep: try r.string("sweep"), heartbeatMilliseconds: try r.u64("heartbeat_ms"), liveness: try r.u64("liveness"))
        case 3:
            let raw = try r.u64("code")
            return .reject(code: RejectCode(rawValue: raw) ?? .malformed, reason: try r.string("reason"))
        case 4:
            try noBlobs()
            return .ready(credit: try r.u64("credit"))
        case 5:
            try noBlobs()
            return .task(TaskAssignment(task: try r.u64("task"), attempt: try r.u64("attempt"), kind: try r.string("kind"),
                                        params: try r.bytes("params"),
                                        artifacts: try hashes(try r.bytes("artifacts", default: []), "artifacts"),
                                        inputs: try r.string("inputs", default: "")))
        case 6:
            try noBlobs()
            return .heartbeat(tasks: try r.u64List("tasks", required: false))
        case 7:
            let names = try r.string("names", default: "")
            let nameList = names.isEmpty ? [] : names.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard nameList.count == blobs.count else {
                throw WireError.malformed("result names \(nameList.count) blobs but carries \(blobs.count)")
            }
            return .result(TaskResult(task: try r.u64("task"), attempt: try r.u64("attempt"), output: try r.bytes("output"),
                                      elapsed: try r.f64("elapsed", default: 0), credit: try r.u64("credit", default: 0),
                                      blobs: Array(zip(nameList, blobs)).map { (name: $0.0, data: $0.1) },
                                      startStep: r.fields["start_step"] == nil ? nil : try r.u64("start_step")))
        case 8:
            try noBlobs()
            return .failure(TaskFailure(task: try r.u64("task"), attempt: try r.u64("attempt"), error: try r.string("error"),
                                        retryable: try r.bool("retryable", default: true), credit: try r.u64("credit", default: 0)))
        case 9:
            try noBlobs()
            return .ack(tasks: try r.u64List("tasks"))
        case 10:
            try noBlobs()
            return .goodbye(reason: try r.string("reason", default: ""))
        case 11:
            try noBlobs()
            return .done(reason: try r.string("reason", default: ""))
        case 12:
            try noBlobs()
            return .fetch(hashes: try hashes(try r.bytes("hashes"), "hashes"))
        case 13:
            guard blobs.count == 1 else { throw WireError.malformed("artifact needs exactly one blob frame") }
            let hash = try r.bytes("hash")
            guard hash.count == 32 else { throw WireError.malformed("artifact hash is \(hash.count) bytes, not 32") }
            return .artifact(hash: hash, data: blobs[0])
        case 14:
            guard blobs.count == 1 else { throw WireError.malformed("checkpoint needs exactly one blob frame") }
            return .checkpoint(TaskCheckpoint(task: try r.u64("task"), attempt: try r.u64("attempt"), step: try r.u64("step"), data: blobs[0]))
        default:
            throw WireError.unknownType(type)
        }
    }
}
