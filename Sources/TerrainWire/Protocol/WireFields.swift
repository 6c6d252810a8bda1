/// The self-describing field encoding of a header frame (docs/protocol.md, "Frames"):
/// `key_length:u8 | key | tag:u8 | value`, little-endian throughout.
public enum WireFieldTag: UInt8, Sendable {
    case u64 = 1, i64 = 2, f64 = 3, bytes = 4, string = 5, bool = 6, u64List = 7
}

/// Appends fields to a header frame.
public struct WireFieldWriter {
    /// The frame so far.
    public private(set) var bytes: [UInt8]

    /// Starts a header frame: magic, version and message type.
    public init(version: UInt8, type: UInt8) {
        bytes = [0x54, 0x52, version, type]
        bytes.reserveCapacity(64)
    }

    private mutating func key(_ k: StaticString, _ tag: WireFieldTag) {
        precondition(k.utf8CodeUnitCount < 256)
        bytes.append(UInt8(k.utf8CodeUnitCount))
        k.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(tag.rawValue)
    }

    private mutating func le64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func le32(_ v: Int) {
        withUnsafeBytes(of: UInt32(v).littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// An unsigned 64-bit field.
    public mutating func u64(_ k: StaticString, _ v: UInt64) { key(k, .u64); le64(v) }
    /// A signed 64-bit field.
    public mutating func i64(_ k: StaticString, _ v: Int64) { key(k, .i64); le64(UInt64(bitPattern: v)) }
    /// A double field.
    public mutating func f64(_ k: StaticString, _ v: Double) { key(k, .f64); le64(v.bitPattern) }
    /// A byte-string field.
    public mutating func bytes(_ k: StaticString, _ v: [UInt8]) { key(k, .bytes); le32(v.count); bytes.append(contentsOf: v) }
    /// A UTF-8 string field.
    public mutating func string(_ k: StaticString, _ v: String) {
        key(k, .string)
        let utf8 = Array(v.utf8)
        le32(utf8.count)
        bytes.append(contentsOf: utf8)
    }
    /// A boolean field.
    public mutating func bool(_ k: StaticString, _ v: Bool) { key(k, .bool); bytes.append(v ? 1 : 0) }
    /// A list of unsigned 64-bit values.
    public mutating func u64List(_ k: StaticString, _ v: [UInt64]) {
        key(k, .u64List)
        le32(v.count)
        for x in v { le64(x) }
    }
}

/// A parsed value of a header field.
public enum WireFieldValue: Equatable, Sendable {
    case u64(UInt64), i64(Int64), f64(Double), bytes([UInt8]), string(String), bool(Bool), u64List([UInt64])
}

/// Parses the fields of a header frame into a dictionary, validating every length against
/// the frame so that truncated or hostile input throws instead of reading out of bounds.
public struct WireFieldReader {
    /// The fields by key (a repeated key keeps its last value).
    public private(set) var fields: [String: WireFieldValue] = [:]

    /// Parses `frame[4...]`. Throws ``WireError/malformed(_:)``.
    public init(_ frame: [UInt8]) throws(WireError) {
        var i = 4
        let n = frame.count
        func need(_ k: Int, _ what: String) throws(WireError) {
            if k < 0 || i + k > n { throw WireError.malformed("truncated \(what) at byte \(i)") }
        }
        func le64() -> UInt64 {
            var v: UInt64 = 0
            for j in 0..<8 { v |= UInt64(frame[i + j]) << (8 * UInt64(j)) }
            i += 8
            return v
        }
        func le32() -> Int {
            var v: UInt32 = 0
            for j in 0..<4 { v |= UInt32(frame[i + j]) << (8 * UInt32(j)) }
            i += 4
            return Int(v)
        }
        while i < n {
            try need(1, "key length")
            let kl = Int(frame[i]); i += 1
            try need(kl + 1, "key")
            guard let key = String(validating: frame[i ..< i + kl], as: UTF8.self) else {
                throw WireError.malformed("field key is not UTF-8")
            }
            i += kl
            guard let tag = WireFieldTag(rawValue: frame[i]) else {
                throw WireError.malformed("field '\(key)' has unknown tag \(frame[i])")
            }
            i += 1
            let value: WireFieldValue
            switch tag {
            case .u64: try need(8, key); value = .u64(le64())
            case .i64: try need(8, key); value = .i64(Int64(bitPattern: le64()))
            case .f64: try need(8, key); value = .f64(Double(bitPattern: le64()))
            case .bool: try need(1, key); value = .bool(frame[i] != 0); i += 1
            case .bytes, .string:
                try need(4, key)
                let len = le32()
                try need(len, key)
                let slice = frame[i ..< i + len]
                i += len
                if tag == .bytes {
                    value = .bytes(Array(slice))
                } else {
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        throw WireError.malformed("field '\(key)' is not UTF-8")
                    }
                    value = .string(s)
                }
            case .u64List:
                try need(4, key)
                let count = le32()
                guard count <= (n - i) / 8 else { throw WireError.malformed("truncated list '\(key)'") }
                var list = [UInt64]()
                list.reserveCapacity(count)
                for _ in 0..<count { list.append(le64()) }
                value = .u64List(list)
            }
            fields[key] = value
        }
    }

    /// A required u64 field.
    public func u64(_ k: String) throws(WireError) -> UInt64 {
        guard case .u64(let v)? = fields[k] else { throw missing(k, "u64") }
        return v
    }
    /// An optional u64 field.
    public func u64(_ k: String, default d: UInt64) throws(WireError) -> UInt64 {
        guard let f = fields[k] else { return d }
        guard case .u64(let v) = f else { throw missing(k, "u64") }
        return v
    }
    /// A required string field.
    public func string(_ k: String) throws(WireError) -> String {
        guard case .string(let v)? = fields[k] else { throw missing(k, "string") }
        return v
    }
    /// An optional string field.
    public func string(_ k: String, default d: String) throws(WireError) -> String {
        guard let f = fields[k] else { return d }
        guard case .string(let v) = f else { throw missing(k, "string") }
        return v
    }
    /// A required bytes field.
    public func bytes(_ k: String) throws(WireError) -> [UInt8] {
        guard case .bytes(let v)? = fields[k] else { throw missing(k, "bytes") }
        return v
    }
    /// An optional bytes field.
    public func bytes(_ k: String, default d: [UInt8]) throws(WireError) -> [UInt8] {
        guard let f = fields[k] else { return d }
        guard case .bytes(let v) = f else { throw missing(k, "bytes") }
        return v
    }
    /// An optional f64 field.
    public func f64(_ k: String, default d: Double) throws(WireError) -> Double {
        guard let f = fields[k] else { return d }
        guard case .f64(let v) = f else { throw missing(k, "f64") }
        return v
    }
    /// An optional bool field.
    public func bool(_ k: String, default d: Bool) throws(WireError) -> Bool {
        guard let f = fields[k] else { return d }
        guard case .bool(let v) = f else { throw missing(k, "bool") }
        return v
    }
    /// A u64 list field (missing = empty unless required).
    public func u64List(_ k: String, required: Bool = true) throws(WireError) -> [UInt64] {
        guard let f = fields[k] else {
            if required { throw missing(k, "u64 list") }
            return []
        }
        guard case .u64List(let v) = f else { throw missing(k, "u64 list") }
        return v
    }

    private func missing(_ k: String, _ type: String) -> WireError {
        fields[k] == nil ? .malformed("missing field '\(k)'") : .malformed("field '\(k)' is not a \(type)")
    }
}
