import Foundation

/// Where the HTTP server listens and who may ask it: `--http HOST:PORT` and the access token.
///
/// A loopback host (`127.0.0.0/8`, `::1`, `localhost`) is reachable only from this machine
/// and needs no token (a token given anyway is still required). Any other host needs a
/// token: without one, ``init(_:token:)`` throws (docs/security.md).
public struct WebBinding: Sendable, Equatable {
    /// The host to bind (an address or `localhost`).
    public var host: String
    /// The TCP port; 0 asks the system for a free one (the bound port is printed).
    public var port: Int
    /// The access token every request must carry (`Authorization: Bearer TOKEN` or
    /// `?token=TOKEN`); `nil` only on loopback.
    public var token: String?

    /// The environment variable read for the token when `--http-token` is not given.
    public static let tokenVariable = "TERRAIN_HTTP_TOKEN"
    /// The default: loopback, port 8080.
    public static let defaultAddress = "127.0.0.1:8080"

    /// Parses `HOST:PORT` (`[::1]:PORT` for IPv6; `:PORT` alone means loopback). Throws
    /// ``WebError/badAddress(_:)`` or ``WebError/tokenRequired(_:)``.
    public init(_ address: String, token: String?) throws(WebError) {
        var host: String
        let portText: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                throw .badAddress("--http \(address): expected [IPv6]:PORT")
            }
            host = String(address[address.index(after: address.startIndex) ..< close])
            portText = address[address.index(close, offsetBy: 2)...]
        } else {
            guard let colon = address.lastIndex(of: ":") else { throw .badAddress("--http \(address): expected HOST:PORT, e.g. 127.0.0.1:8080") }
            host = String(address[..<colon])
            portText = address[address.index(after: colon)...]
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard let port = Int(portText), (0 ... 65535).contains(port) else {
            throw .badAddress("--http \(address): the port must be a number from 0 to 65535")
        }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == ":" || $0 == "-" }) else {
            throw .badAddress("--http \(address): '\(host)' is not a host name or address")
        }
        if let token {
            guard token.utf8.count >= 16, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw .badToken("the HTTP access token must be at least 16 printable ASCII characters without spaces (`openssl rand -hex 16` makes one)")
            }
        }
        self.host = host
        self.port = port
        self.token = token
        if token == nil && !isLoopback {
            throw .tokenRequired("--http \(address) is reachable from other hosts: give an access token with --http-token or \(Self.tokenVariable), or bind 127.0.0.1 and use an SSH tunnel (docs/security.md)")
        }
    }

    /// Whether only processes on this machine can connect.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Whether a request's credentials match the token (compared in constant time); always
    /// true without a token.
    public func admits(bearer: String?, query: String?) -> Bool {
        guard let token else { return true }
        let expected = Array(token.utf8)
        for candidate in [bearer, query] {
            guard let candidate else { continue }
            let given = Array(candidate.utf8)
            var difference = UInt8(given.count == expected.count ? 0 : 1)
            for i in 0 ..< expected.count { difference |= expected[i] ^ (i < given.count ? given[i] : 0) }
            if difference == 0 { return true }
        }
        return false
    }
}

/// Why the HTTP side could not start or answer.
public enum WebError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--http` is not `HOST:PORT`.
    case badAddress(String)
    /// A non-loopback bind without a token.
    case tokenRequired(String)
    /// A token too short or with spaces.
    case badToken(String)
    /// The server could not bind or failed.
    case server(String)
    /// A report could not be written.
    case report(String)

    public var description: String {
        switch self {
        case .badAddress(let m), .tokenRequired(let m), .badToken(let m), .server(let m), .report(let m): return m
        }
    }
}
