import Foundation
import Hummingbird
import TerrainDataset

/// Answers every HTTP request of the live page, the JSON API and `/metrics` (docs/http.md).
///
/// Only `GET` and `HEAD` exist (405 otherwise); a missing or wrong token is 401; an unknown
/// path 404; a bad query value 400; a dataset that does not exist yet 503. Errors are JSON
/// `{"error": "…"}`. Nothing a client sends reaches the coordinator.
struct WebResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let view: SweepView
    let binding: WebBinding
    /// Seconds between two server-sent events of `/api/stream`.
    let streamInterval: Double

    static let statuses: Set<String> = ["waiting", "queued", "running", "done", "failed"]

    func respond(to request: Request, context: Context) async throws -> Response {
        // Handlers run on Swift's concurrency pool: those threads yield to the coordinator too.
        WebServer.yieldToTheCoordinator()
        guard request.method == .get || request.method == .head else {
            return Self.error(.methodNotAllowed, "only GET is served", extra: [.allow: "GET, HEAD"])
        }
        var query = [String: String]()
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        var bearer: String? = nil
        if let h = request.headers[.authorization], h.hasPrefix("Bearer ") { bearer = String(h.dropFirst(7)) }
        guard binding.admits(bearer: bearer, query: query["token"]) else {
            return Self.error(.unauthorized, "a valid access token is required (Authorization: Bearer TOKEN or ?token=TOKEN)",
                              extra: [.wwwAuthenticate: "Bearer realm=\"terrain\""])
        }
        do {
            return try route(request.uri.path, query: query)
        } catch let f as HTTPFailure {
            return Self.error(f.status, f.message)
        } catch {
            return Self.error(.internalServerError, "\(error)")
        }
    }

    private func route(_ path: String, query: [String: String]) throws -> Response {
        for key in query.keys.sorted() where !Self.allowedParameters.contains(key) {
            throw HTTPFailure(.badRequest, "unknown query parameter '\(key)' (known: \(Self.allowedParameters.sorted().joined(separator: ", ")))")
        }
        switch path {
        case "/", "/index.html":
            return Self.body(Array(LivePage.html.utf8), type: "text/html; charset=utf-8")
        case "/metrics":
            return Self.body(try view.metrics(), type: "text/plain; version=0.0.4; charset=utf-8")
        case "/api/status": return Self.json(try view.status())
        case "/api/workers": return Self.json(try view.workers())
        case "/api/tasks":
            let status = query["status"]
            if let status, !Self.statuses.contains(status) {
                throw HTTPFailure(.badRequest, "status must be one of \(Self.statuses.sorted().joined(separator: ", ")), not '\(status)'")
            }
            return Self.json(try view.tasks(status: status, limit: try Self.limit(query, default: 1000)))
        case "/api/events": return Self.json(try view.events(limit: try Self.limit(query, default: 100)))
        case "/api/surface": return Self.json(try view.surface(metric: query["metric"]))
        case "/api/runs": return Self.json(try view.runs())
        case "/api/figures": return Self.json(try view.figures())
        case "/api/spec": return Self.json(try view.spec())
        case "/api/stream": return stream()
        default:
            throw HTTPFailure(.notFound, "no such path: \(path.prefix(200)) (docs/http.md lists the API)")
        }
    }

    static let allowedParameters: Set<String> = ["token", "status", "limit", "metric"]

    static func limit(_ query: [String: String], default value: Int) throws -> Int {
        guard let text = query["limit"] else { return value }
        guard let n = Int(text), (1 ... 100_000).contains(n) else { throw HTTPFailure(.badRequest, "limit must be a number from 1 to 100000") }
        return n
    }

    /// `/api/stream`: Server-Sent Events, one `status` event per interval (the `/api/status`
    /// answer), until the client goes away.
    private func stream() -> Response {
        let view = self.view, interval = streamInterval
        let body = ResponseBody { writer in
            var last: [UInt8] = []
            while !Task.isCancelled {
                let status = (try? view.status()) ?? Array(#"{"state":"unavailable"}"#.utf8)
                if status != last {
                    try await writer.write(ByteBuffer(bytes: Array("event: status\ndata: ".utf8) + status + Array("\n\n".utf8)))
                    last = status
                } else {
                    try await writer.write(ByteBuffer(bytes: Array(": keep-alive\n\n".utf8)))
                }
                try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    static func json(_ bytes: [UInt8]) -> Response { body(bytes, type: "application/json") }

    static func body(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store", .contentLength: String(bytes.count)],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, extra: HTTPFields = [:]) -> Response {
        let bytes = (try? SweepView.json(["error": message])) ?? []
        var headers: HTTPFields = [.contentType: "application/json", .contentLength: String(bytes.count)]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension [UInt8] {
    var string: String { String(decoding: self, as: UTF8.self) }
}
