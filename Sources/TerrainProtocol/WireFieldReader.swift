/// Parses the fields of a header frame into a dictionary, validating every length against
/// the frame so that truncated or hostile input throws instead of reading out of bounds.
public struct WireFieldReader {
    /// The fields by key (a repeated key keeps its last value).
    public private(set) var fields: [String: WireFieldValue] = [:]

    /// Parses `frame[4...]`. Throws ``WireError/malformed(_:)``.
    public init(_ frame: [UInt8]) throws(WireError) {
        var scanner = FieldScanner(frame: frame, position: 4, end: frame.count)
        fields = try scanner.fields(allowRecords: true)
    }

    private init(fields: [String: WireFieldValue]) {
        self.fields = fields
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
    /// An optional u64 field that is `nil` when absent.
    public func optionalU64(_ k: String) throws(WireError) -> UInt64? {
        fields[k] == nil ? nil : try u64(k)
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
    /// A string list field (missing = empty unless required).
    public func stringList(_ k: String, required: Bool = true) throws(WireError) -> [String] {
        guard let f = fields[k] else {
            if required { throw missing(k, "string list") }
            return []
        }
        guard case .stringList(let v) = f else { throw missing(k, "string list") }
        return v
    }
    /// A record list field (missing = empty): one reader per record.
    public func records(_ k: String) throws(WireError) -> [WireFieldReader] {
        guard let f = fields[k] else { return [] }
        guard case .records(let v) = f else { throw missing(k, "record list") }
        return v.map { WireFieldReader(fields: $0) }
    }

    private func missing(_ k: String, _ type: String) -> WireError {
        fields[k] == nil ? .malformed("missing field '\(k)'") : .malformed("field '\(k)' is not a \(type)")
    }
}

/// Walks `frame[position..<end]` field by field; every read is checked against `end`.
private struct FieldScanner {
    let frame: [UInt8]
    var position: Int
    let end: Int

    func need(_ k: Int, _ what: String) throws(WireError) {
        if k < 0 || k > end - position { throw WireError.malformed("truncated \(what) at byte \(position)") }
    }

    mutating func le64() -> UInt64 {
        var v: UInt64 = 0
        for j in 0..<8 { v |= UInt64(frame[position + j]) << (8 * UInt64(j)) }
        position += 8
        return v
    }

    mutating func le32() -> Int {
        var v: UInt32 = 0
        for j in 0..<4 { v |= UInt32(frame[position + j]) << (8 * UInt32(j)) }
        position += 4
        return Int(v)
    }

    /// A u32 length followed by that many bytes.
    mutating func lengthPrefixed(_ what: String) throws(WireError) -> ArraySlice<UInt8> {
        try need(4, what)
        let length = le32()
        try need(length, what)
        defer { position += length }
        return frame[position ..< position + length]
    }

    mutating func utf8(_ what: String) throws(WireError) -> String {
        guard let s = String(validating: try lengthPrefixed(what), as: UTF8.self) else {
            throw WireError.malformed("field '\(what)' is not UTF-8")
        }
        return s
    }

    /// A u32 element count that cannot claim more elements than the bytes left could hold.
    mutating func count(_ what: String, minimumElementBytes: Int) throws(WireError) -> Int {
        try need(4, what)
        let count = le32()
        guard count <= (end - position) / minimumElementBytes else { throw WireError.malformed("truncated list '\(what)'") }
        return count
    }

    mutating func fields(allowRecords: Bool) throws(WireError) -> [String: WireFieldValue] {
        var fields = [String: WireFieldValue]()
        while position < end {
            try need(1, "key length")
            let kl = Int(frame[position]); position += 1
            try need(kl + 1, "key")
            guard let key = String(validating: frame[position ..< position + kl], as: UTF8.self) else {
                throw WireError.malformed("field key is not UTF-8")
            }
            position += kl
            guard let tag = WireFieldTag(rawValue: frame[position]) else {
                throw WireError.malformed("field '\(key)' has unknown tag \(frame[position])")
            }
            position += 1
            if tag == .records && !allowRecords { throw WireError.malformed("field '\(key)': records do not nest") }
            fields[key] = try value(tag, key)
        }
        return fields
    }

    private mutating func value(_ tag: WireFieldTag, _ key: String) throws(WireError) -> WireFieldValue {
        switch tag {
        case .u64: try need(8, key); return .u64(le64())
        case .i64: try need(8, key); return .i64(Int64(bitPattern: le64()))
        case .f64: try need(8, key); return .f64(Double(bitPattern: le64()))
        case .bool:
            try need(1, key)
            defer { position += 1 }
            return .bool(frame[position] != 0)
        case .bytes: return .bytes(Array(try lengthPrefixed(key)))
        case .string: return .string(try utf8(key))
        case .u64List:
            let n = try count(key, minimumElementBytes: 8)
            return .u64List((0..<n).map { _ in le64() })
        case .stringList:
            let n = try count(key, minimumElementBytes: 4)
            var list = [String]()
            list.reserveCapacity(n)
            for _ in 0..<n { list.append(try utf8(key)) }
            return .stringList(list)
        case .records:
            let n = try count(key, minimumElementBytes: 4)
            var records = [[String: WireFieldValue]]()
            records.reserveCapacity(n)
            for _ in 0..<n {
                let body = try lengthPrefixed(key)
                var nested = FieldScanner(frame: frame, position: body.startIndex, end: body.endIndex)
                records.append(try nested.fields(allowRecords: false))
            }
            return .records(records)
        }
    }
}
