import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A CURVE (Curve25519) long-term key pair, as raw bytes (32 each).
///
/// Key files hold the 40-character Z85 text of one key followed by a newline; the secret key
/// file is written with mode 0600. `description` shows only the public key, so a key pair can
/// be logged without leaking the secret.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible {
    /// The public key: 32 bytes. Give it to peers (servers: to clients; clients: to the
    /// server's allow-list).
    public var publicKey: [UInt8]
    /// The secret key: 32 bytes. Never leaves this host.
    public var secretKey: [UInt8]

    /// The length of a CURVE key in bytes.
    public static let keyLength = 32

    /// Wraps existing key bytes (not validated here; sockets and `write` reject keys that are not
    /// 32 bytes).
    public init(publicKey: [UInt8], secretKey: [UInt8]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a fresh random key pair with libzmq (`zmq_curve_keypair`).
    /// - Throws: `ZMQError` (`ENOTSUP`) if libzmq was built without CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else { throw ZMQError.current }
        let pair = CurveKeyPair(
            publicKey: try Z85.decode(z85Text(publicText)),
            secretKey: try Z85.decode(z85Text(secretText)))
        for index in secretText.indices { secretText[index] = 0 }
        return pair
    }

    /// Derives the public key that belongs to a 32-byte secret key (`zmq_curve_public`).
    /// - Throws: `CurveKeyError.invalidKeyLength` for a wrong length; `ZMQError` without CURVE.
    public static func publicKey(forSecretKey secretKey: [UInt8]) throws -> [UInt8] {
        guard secretKey.count == keyLength else {
            throw CurveKeyError.invalidKeyLength(expected: keyLength, actual: secretKey.count)
        }
        let secretText = try Z85.encode(secretKey)
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretText) == 0 else { throw ZMQError.current }
        return try Z85.decode(z85Text(publicText))
    }

    /// The Z85 text of the public key (or a note that it is malformed); the secret is not shown.
    public var description: String {
        let text = (try? Z85.encode(publicKey)) ?? "<\(publicKey.count)-byte key>"
        return "CurveKeyPair(public: \(text), secret: <redacted>)"
    }

    // MARK: - Key files

    /// Writes the public key to `publicPath` (mode 0644) and the secret key to `secretPath`
    /// (mode 0600, also enforced on an existing file before the key is written), each as the
    /// 40-character Z85 text plus a newline. Existing files are replaced.
    /// - Throws: `CurveKeyError.invalidKeyLength` unless both keys are 32 bytes;
    ///   `CurveKeyError.keyFile(path:reason:)` naming the file that could not be written.
    public func write(publicPath: String, secretPath: String) throws {
        for key in [publicKey, secretKey] where key.count != Self.keyLength {
            throw CurveKeyError.invalidKeyLength(expected: Self.keyLength, actual: key.count)
        }
        try Self.writeKeyFile(Z85.encode(publicKey), path: publicPath, mode: 0o644)
        try Self.writeKeyFile(Z85.encode(secretKey), path: secretPath, mode: 0o600)
    }

    /// Reads a public key file (40 Z85 characters; surrounding whitespace ignored).
    /// - Returns: the 32 key bytes.
    /// - Throws: `CurveKeyError.keyFile(path:reason:)` naming the file when it cannot be read or
    ///   does not hold exactly one valid Z85 key.
    public static func readPublicKey(path: String) throws -> [UInt8] {
        try readKeyFile(path: path)
    }

    /// Reads a key pair from its two files and checks that the secret key belongs to the public
    /// key.
    /// - Throws: `CurveKeyError.keyFile(path:reason:)` naming the unreadable or malformed file,
    ///   or the secret file when it does not match the public key.
    public static func read(publicPath: String, secretPath: String) throws -> CurveKeyPair {
        let publicKey = try readKeyFile(path: publicPath)
        let secretKey = try readKeyFile(path: secretPath)
        let derived = try self.publicKey(forSecretKey: secretKey)
        guard derived == publicKey else {
            throw CurveKeyError.keyFile(
                path: secretPath, reason: "secret key does not belong to the public key in \(publicPath)")
        }
        return CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    private static func writeKeyFile(_ text: String, path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CurveKeyError.keyFile(path: path, reason: lastErrnoText()) }
        defer { _ = close(fd) }
        guard fchmod(fd, mode) == 0 else { throw CurveKeyError.keyFile(path: path, reason: lastErrnoText()) }
        let bytes = Array((text + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                posixWrite(fd, raw.baseAddress! + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw CurveKeyError.keyFile(path: path, reason: lastErrnoText())
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw CurveKeyError.keyFile(path: path, reason: lastErrnoText()) }
    }

    private static func readKeyFile(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CurveKeyError.keyFile(path: path, reason: lastErrnoText()) }
        defer { _ = close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let n = chunk.withUnsafeMutableBytes { raw in posixRead(fd, raw.baseAddress!, raw.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CurveKeyError.keyFile(path: path, reason: lastErrnoText())
            }
            if n == 0 { break }
            contents.append(contentsOf: chunk[0..<n])
            guard contents.count <= 4096 else {
                throw CurveKeyError.keyFile(path: path, reason: "file too large for a key file")
            }
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let start = contents.firstIndex(where: { !isSpace($0) }) ?? contents.endIndex
        let end = contents.lastIndex(where: { !isSpace($0) }).map { $0 + 1 } ?? start
        let text = String(decoding: contents[start..<end], as: UTF8.self)
        guard text.utf8.count == 40 else {
            throw CurveKeyError.keyFile(
                path: path, reason: "expected a 40-character Z85 key, found \(text.utf8.count) characters")
        }
        do {
            return try Z85.decode(text)
        } catch {
            throw CurveKeyError.keyFile(path: path, reason: "\(error)")
        }
    }

    private static func lastErrnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// The text of a NUL-terminated C buffer filled by libzmq.
private func z85Text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

@inline(__always)
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// Failures of Z85 coding, key validation and key files.
public enum CurveKeyError: Error, Equatable, CustomStringConvertible {
    /// Z85 input of the wrong length: bytes to encode must be a multiple of 4, text to decode a
    /// multiple of 5.
    case z85InvalidLength(length: Int, multipleOf: Int)
    /// A character outside the Z85 alphabet, at a zero-based character offset.
    case z85InvalidCharacter(Character, offset: Int)
    /// A 5-character group whose value exceeds 2^32 - 1 (starting at this character offset).
    case z85Overflow(offset: Int)
    /// A key of the wrong length in bytes.
    case invalidKeyLength(expected: Int, actual: Int)
    /// A key file that could not be read or written, or did not hold a valid key.
    case keyFile(path: String, reason: String)

    /// Human-readable text, naming the file for key-file errors.
    public var description: String {
        switch self {
        case .z85InvalidLength(let length, let multiple):
            return "Z85: length \(length) is not a multiple of \(multiple)"
        case .z85InvalidCharacter(let character, let offset):
            return "Z85: invalid character \(String(reflecting: character)) at offset \(offset)"
        case .z85Overflow(let offset):
            return "Z85: group at offset \(offset) exceeds 32 bits"
        case .invalidKeyLength(let expected, let actual):
            return "CURVE key must be \(expected) bytes, got \(actual)"
        case .keyFile(let path, let reason):
            return "key file \(path): \(reason)"
        }
    }
}

/// Z85, ZeroMQ's printable encoding of binary data (RFC 32/Z85): every 4 bytes (big-endian)
/// become 5 characters of an 85-character alphabet. CURVE keys (32 bytes) are 40 characters.
public enum Z85 {
    private static let alphabet: [UInt8] = Array(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// Maps an ASCII byte to its digit value, 0xFF where the byte is not in the alphabet.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    /// Encodes `bytes` as Z85 text.
    /// - Throws: `CurveKeyError.z85InvalidLength` unless `bytes.count` is a multiple of 4.
    public static func encode(_ bytes: [UInt8]) throws -> String {
        guard bytes.count % 4 == 0 else {
            throw CurveKeyError.z85InvalidLength(length: bytes.count, multipleOf: 4)
        }
        var output = [UInt8]()
        output.reserveCapacity(bytes.count / 4 * 5)
        var index = 0
        while index < bytes.count {
            let value = UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16
                | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
            var divisor: UInt32 = 85 * 85 * 85 * 85
            while divisor > 0 {
                output.append(alphabet[Int(value / divisor % 85)])
                divisor /= 85
            }
            index += 4
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes Z85 text to bytes.
    /// - Throws: `CurveKeyError.z85InvalidLength` unless the text has a multiple of 5
    ///   characters; `.z85InvalidCharacter` for a character outside the alphabet (including
    ///   whitespace and non-ASCII); `.z85Overflow` for a group above 2^32 - 1.
    public static func decode(_ text: String) throws -> [UInt8] {
        let characters = Array(text.unicodeScalars)
        guard characters.count % 5 == 0 else {
            throw CurveKeyError.z85InvalidLength(length: characters.count, multipleOf: 5)
        }
        var output = [UInt8]()
        output.reserveCapacity(characters.count / 5 * 4)
        var index = 0
        while index < characters.count {
            var value: UInt64 = 0
            for offset in index..<(index + 5) {
                let scalar = characters[offset].value
                let digit = scalar < 256 ? decodeTable[Int(scalar)] : 0xFF
                guard digit != 0xFF else {
                    throw CurveKeyError.z85InvalidCharacter(Character(characters[offset]), offset: offset)
                }
                value = value * 85 + UInt64(digit)
            }
            guard value <= UInt64(UInt32.max) else { throw CurveKeyError.z85Overflow(offset: index) }
            output.append(UInt8(truncatingIfNeeded: value >> 24))
            output.append(UInt8(truncatingIfNeeded: value >> 16))
            output.append(UInt8(truncatingIfNeeded: value >> 8))
            output.append(UInt8(truncatingIfNeeded: value))
            index += 5
        }
        return output
    }
}
