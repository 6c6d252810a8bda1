/// The self-describing field encoding of a header frame (docs/protocol.md, "Frames"):
/// `key_length:u8 | key | tag:u8 | value`, little-endian throughout.
public enum WireFieldTag: UInt8, Sendable {
    case u64 = 1, i64 = 2, f64 = 3, bytes = 4, string = 5, bool = 6, u64List = 7
    /// A list of UTF-8 strings: u32 count, then per string a u32 length and its bytes.
    case stringList = 8
    /// A list of records: u32 count, then per record a u32 length and that many bytes of
    /// fields in this same encoding (records do not nest).
    case records = 9
}

/// Appends fields to a header frame (or to one record of a ``WireFieldTag/records`` field).
public struct WireFieldWriter {
    /// The frame (or record) so far.
    public private(set) var bytes: [UInt8]
    private let isRecord: Bool

    /// Starts a header frame: magic, version and message type.
    public init(version: UInt8, type: UInt8) {
        bytes = [0x54, 0x52, version, type]
        bytes.reserveCapacity(64)
        isRecord = false
    }

    private init(record: Void) {
        bytes = []
        isRecord = true
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
    /// A list of strings.
    public mutating func stringList(_ k: StaticString, _ v: [String]) {
        key(k, .stringList)
        le32(v.count)
        for s in v {
            let utf8 = Array(s.utf8)
            le32(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }
    /// A list of records, each written by `fields` into its own writer. Records do not nest.
    public mutating func records<T>(_ k: StaticString, _ items: [T], _ fields: (inout WireFieldWriter, T) -> Void) {
        precondition(!isRecord, "wire records do not nest")
        key(k, .records)
        le32(items.count)
        for item in items {
            var record = WireFieldWriter(record: ())
            fields(&record, item)
            le32(record.bytes.count)
            bytes.append(contentsOf: record.bytes)
        }
    }
}

/// A parsed value of a header field.
public enum WireFieldValue: Equatable, Sendable {
    case u64(UInt64), i64(Int64), f64(Double), bytes([UInt8]), string(String), bool(Bool), u64List([UInt64])
    case stringList([String])
    case records([[String: WireFieldValue]])
}
