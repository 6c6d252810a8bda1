import Foundation

/// An array read from a `.npy` file: its shape, NumPy dtype string and raw element bytes.
///
/// `data` always holds the elements in C (row-major) order as little-endian bytes: arrays
/// stored in Fortran order are transposed on reading and big-endian (`>`) arrays are
/// byte-swapped (their `dtype` then reads `<…`).
public struct NPYArray: Sendable, Equatable {
    /// The array shape; `[]` for a 0-d (scalar) array.
    public var shape: [Int]
    /// The NumPy type string, e.g. `"<f4"`, `"<i8"`, `"|u1"`, `"|b1"`.
    public var dtype: String
    /// Whether the file stored the array in Fortran order. `data` is in C order regardless.
    public var fortranOrder: Bool
    /// The raw little-endian element bytes in C order.
    public var data: [UInt8]

    /// Creates an array from its parts (no validation; ``NPY/parse(_:source:)`` validates).
    public init(shape: [Int], dtype: String, fortranOrder: Bool, data: [UInt8]) {
        self.shape = shape
        self.dtype = dtype
        self.fortranOrder = fortranOrder
        self.data = data
    }

    /// The number of elements (the product of `shape`; 1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    /// The elements converted to `Double` (booleans become 0 or 1; 64-bit integers beyond
    /// 2^53 are rounded).
    /// - Throws: ``TerrainError/invalidData(_:)`` for an unsupported dtype or when `data`
    ///   does not hold `count` elements.
    public func asDoubles() throws -> [Double] {
        if dtype == "<f8" { return try rawCopy() }
        return try convert(Double.self, { Double($0) }, { Double($0) }, { $0 })
    }

    /// The elements converted to `Float` (float64 values are rounded to the nearest float).
    /// - Throws: ``TerrainError/invalidData(_:)`` for an unsupported dtype or when `data`
    ///   does not hold `count` elements.
    public func asFloats() throws -> [Float] {
        if dtype == "<f4" { return try rawCopy() }
        return try convert(Float.self, { Float($0) }, { Float($0) }, { Float($0) })
    }

    /// The elements of an integer or boolean array as `Int`.
    /// - Throws: ``TerrainError/invalidData(_:)`` for a floating-point dtype, for a `<u8`
    ///   value above `Int.max`, or when `data` does not hold `count` elements.
    public func asInts() throws -> [Int] {
        let kind = try NPY.DType(dtype)
        if kind.isFloat {
            throw TerrainError.invalidData("asInts: dtype \(dtype) is a floating-point type, not an integer or boolean type")
        }
        if kind == .u8 {
            let raw: [UInt64] = try elements()
            var out = [Int](repeating: 0, count: raw.count)
            for (i, v) in raw.enumerated() {
                guard v <= UInt64(Int.max) else {
                    throw TerrainError.invalidData("asInts: element \(i) (\(v)) of a <u8 array does not fit in Int")
                }
                out[i] = Int(v)
            }
            return out
        }
        return try convert(Int.self, { Int($0) }, { Int($0) }, { Int($0) })
    }

    /// Reads the elements as `T` (exact bit reinterpretation of little-endian bytes).
    func elements<T: FixedWidthInteger>() throws -> [T] {
        let n = try checkedCount(MemoryLayout<T>.size)
        return [T](unsafeUninitializedCapacity: n) { buf, c in
            data.withUnsafeBytes { raw in
                for i in 0..<n { buf[i] = T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
            }
            c = n
        }
    }

    /// Copies `data` into `[T]` when the stored type is exactly `T` (little-endian host).
    func rawCopy<T: BinaryFloatingPoint>() throws -> [T] {
        let n = try checkedCount(MemoryLayout<T>.size)
        #if _endian(little)
        return [T](unsafeUninitializedCapacity: n) { buf, c in
            data.withUnsafeBytes { raw in
                if n > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: n * MemoryLayout<T>.size) }
            }
            c = n
        }
        #else
        return try convert(T.self, { T($0) }, { T($0) }, { T($0) })
        #endif
    }

    func checkedCount(_ itemSize: Int) throws -> Int {
        let n = count
        guard n >= 0, n * itemSize == data.count else {
            throw TerrainError.invalidData("array of dtype \(dtype) and shape \(shape) needs \(n * itemSize) bytes but holds \(data.count)")
        }
        return n
    }

    /// Shared conversion: `fromI` for signed integers, `fromU` for unsigned, `fromD` for floats.
    func convert<T>(_: T.Type, _ fromI: (Int64) -> T, _ fromU: (UInt64) -> T, _ fromD: (Double) -> T) throws -> [T] {
        let kind = try NPY.DType(dtype)
        let size = kind.itemSize
        let n = try checkedCount(size)
        if n == 0 { return [] }
        return try data.withUnsafeBytes { raw -> [T] in
            var out = [T]()
            out.reserveCapacity(n)
            switch kind {
            case .f4:
                for i in 0..<n { out.append(fromD(Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))))) }
            case .f8:
                for i in 0..<n { out.append(fromD(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))) }
            case .i1: for i in 0..<n { out.append(fromI(Int64(Int8(bitPattern: raw[i])))) }
            case .i2: for i in 0..<n { out.append(fromI(Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))))) }
            case .i4: for i in 0..<n { out.append(fromI(Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))))) }
            case .i8: for i in 0..<n { out.append(fromI(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))) }
            case .u1: for i in 0..<n { out.append(fromU(UInt64(raw[i]))) }
            case .u2: for i in 0..<n { out.append(fromU(UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))) }
            case .u4: for i in 0..<n { out.append(fromU(UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))))) }
            case .u8: for i in 0..<n { out.append(fromU(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
            case .b1:
                for i in 0..<n {
                    guard raw[i] <= 1 else { throw TerrainError.invalidData("bool array holds byte \(raw[i]) at element \(i) (expected 0 or 1)") }
                    out.append(fromU(UInt64(raw[i])))
                }
            }
            return out
        }
    }
}

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Supported dtypes: `<f4 <f8 <i8 <i4 <i2 |i1 <i1 |u1 <u1 <u2 <u4 <u8 |b1`, and the
/// big-endian (`>`) forms of the multi-byte ones, which are byte-swapped on reading.
/// Structured (record) dtypes and object arrays are rejected. Fortran-order arrays are
/// converted to C order on reading (``NPYArray/fortranOrder`` remembers the file's order).
public enum NPY {
    /// The element types this reader understands.
    enum DType: Equatable {
        case f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, b1

        init(_ descr: String) throws {
            guard let t = DType.parse(descr) else {
                throw TerrainError.invalidData("unsupported dtype '\(descr)' (supported: <f4 <f8 <i8 <i4 <i2 |i1 |u1 <u2 <u4 <u8 |b1, or their > forms)")
            }
            self = t.type
        }

        /// Parses a descr into a type and whether it is big-endian.
        static func parse(_ descr: String) -> (type: DType, bigEndian: Bool)? {
            let u = Array(descr.utf8)
            guard u.count == 3 else { return nil }
            let order = u[0]
            let code = String(decoding: u[1...], as: UTF8.self)
            let table: [String: DType] = ["f4": .f4, "f8": .f8, "i1": .i1, "i2": .i2, "i4": .i4, "i8": .i8,
                                          "u1": .u1, "u2": .u2, "u4": .u4, "u8": .u8, "b1": .b1]
            guard let t = table[code] else { return nil }
            switch order {
            case UInt8(ascii: "<"), UInt8(ascii: "="): return (t, false)  // '=' is native: little-endian here
            case UInt8(ascii: "|"): return t.itemSize == 1 ? (t, false) : nil
            case UInt8(ascii: ">"): return (t, t.itemSize > 1)
            default: return nil
            }
        }

        var itemSize: Int {
            switch self {
            case .i1, .u1, .b1: return 1
            case .i2, .u2: return 2
            case .f4, .i4, .u4: return 4
            case .f8, .i8, .u8: return 8
            }
        }

        var isFloat: Bool { self == .f4 || self == .f8 }
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads and parses a `.npy` file.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `path` when the file cannot be read
    ///   or is not a valid `.npy` file (see ``parse(_:source:)``).
    public static func read(contentsOf path: String) throws -> NPYArray {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw TerrainError.invalidData("\(path): cannot read file")
        }
        return try parse([UInt8](d), source: path)
    }

    /// Parses a `.npy` byte buffer.
    ///
    /// - Parameter source: names the buffer in error messages (a path, or
    ///   "data/x.npz: member x_train.npy").
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `source` for: a bad magic string,
    ///   an unknown format version, a truncated or malformed header dictionary (missing or
    ///   extra keys, bad shape), an unsupported dtype, or a data section whose size differs
    ///   from what the header's dtype and shape require.
    public static func parse(_ bytes: [UInt8], source: String) throws -> NPYArray {
        func fail(_ m: String) -> TerrainError { .invalidData("\(source): \(m)") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy file (bad magic; expected \\x93NUMPY)")
        }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(minor)")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw fail("truncated .npy header (header says \(headerLength) bytes, file has \(bytes.count - headerStart) after the preamble)")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        // Versions 1 and 2 use latin-1 (in practice ASCII); version 3 uses UTF-8.
        let headerText = major == 3 ? String(decoding: headerBytes, as: UTF8.self)
                                    : String(headerBytes.map { Character(Unicode.Scalar($0)) })
        let dict: [String: HeaderValue]
        do {
            var p = HeaderParser(text: headerText)
            guard case .dict(let d) = try p.parseTop() else { throw HeaderParser.Failure(message: "header is not a dictionary") }
            dict = d
        } catch let e as HeaderParser.Failure {
            throw fail("malformed .npy header (\(e.message)): \(headerText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let keys = Set(dict.keys)
        guard keys == ["descr", "fortran_order", "shape"] else {
            throw fail("the .npy header must have exactly the keys descr, fortran_order, shape; found \(keys.sorted())")
        }
        guard case .string(let descr)? = dict["descr"] else {
            throw fail("unsupported dtype \(dict["descr"].map { "\($0)" } ?? "") (structured or non-string descr)")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw fail("fortran_order is not True or False") }
        guard case .tuple(let dims)? = dict["shape"] else { throw fail("shape is not a tuple") }
        var shape: [Int] = []
        var count = 1
        for d in dims {
            guard case .int(let n) = d, n >= 0 else { throw fail("shape \(dims) has a non-integer or negative dimension") }
            let (p, o) = count.multipliedReportingOverflow(by: n)
            guard !o else { throw fail("shape \(shape + [n]) is too large") }
            shape.append(n)
            count = p
        }
        guard let parsed = DType.parse(descr) else {
            throw fail("unsupported dtype '\(descr)' (supported: <f4 <f8 <i8 <i4 <i2 |i1 |u1 <u2 <u4 <u8 |b1, or their > forms)")
        }
        let (type, bigEndian) = (parsed.type, parsed.bigEndian)
        let size = type.itemSize
        let dataStart = headerStart + headerLength
        let (needed, o) = count.multipliedReportingOverflow(by: size)
        guard !o else { throw fail("shape \(shape) is too large") }
        let available = bytes.count - dataStart
        guard available == needed else {
            throw fail("data size disagrees with the header: dtype \(descr) and shape \(shape) need \(needed) bytes, found \(available)")
        }
        var data = Array(bytes[dataStart...])
        var dtype = descr
        if bigEndian {
            swapBytes(&data, itemSize: size)
            dtype = "<" + descr.dropFirst()
        } else if descr.hasPrefix("=") {
            dtype = "<" + descr.dropFirst()
        }
        if fortran && shape.count > 1 && count > 1 {
            data = fortranToC(data, shape: shape, itemSize: size)
        }
        return NPYArray(shape: shape, dtype: dtype, fortranOrder: fortran, data: data)
    }

    static func swapBytes(_ data: inout [UInt8], itemSize: Int) {
        data.withUnsafeMutableBufferPointer { b in
            var i = 0
            while i + itemSize <= b.count {
                var lo = i, hi = i + itemSize - 1
                while lo < hi { b.swapAt(lo, hi); lo += 1; hi -= 1 }
                i += itemSize
            }
        }
    }

    /// Reorders Fortran-order (first index fastest) element bytes into C order.
    static func fortranToC(_ src: [UInt8], shape: [Int], itemSize: Int) -> [UInt8] {
        let nd = shape.count
        // Fortran strides, in elements.
        var fstride = [Int](repeating: 1, count: nd)
        for k in 1..<nd { fstride[k] = fstride[k - 1] * shape[k - 1] }
        var dst = [UInt8](repeating: 0, count: src.count)
        let n = src.count / itemSize
        var index = [Int](repeating: 0, count: nd)
        var offset = 0  // Fortran element offset of `index`
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                for c in 0..<n {
                    for b in 0..<itemSize { d[c * itemSize + b] = s[offset * itemSize + b] }
                    // Advance the C-order index (last axis fastest).
                    var k = nd - 1
                    while k >= 0 {
                        index[k] += 1
                        offset += fstride[k]
                        if index[k] < shape[k] { break }
                        offset -= fstride[k] * shape[k]
                        index[k] = 0
                        k -= 1
                    }
                }
            }
        }
        return dst
    }

    // MARK: - Writer

    /// Encodes float32 values as a version-1.0 `.npy` file of dtype `<f4`.
    /// Fails (precondition) when `shape`'s product differs from `floats.count`.
    public static func encode(floats: [Float], shape: [Int]) -> [UInt8] {
        encode(descr: "<f4", shape: shape, count: floats.count) { out in
            for v in floats { append(&out, v.bitPattern) }
        }
    }

    /// Encodes float64 values as a version-1.0 `.npy` file of dtype `<f8`.
    /// Fails (precondition) when `shape`'s product differs from `doubles.count`.
    public static func encode(doubles: [Double], shape: [Int]) -> [UInt8] {
        encode(descr: "<f8", shape: shape, count: doubles.count) { out in
            for v in doubles { append(&out, v.bitPattern) }
        }
    }

    /// Encodes 64-bit integers as a version-1.0 `.npy` file of dtype `<i8`.
    /// Fails (precondition) when `shape`'s product differs from `int64s.count`.
    public static func encode(int64s: [Int64], shape: [Int]) -> [UInt8] {
        encode(descr: "<i8", shape: shape, count: int64s.count) { out in
            for v in int64s { append(&out, UInt64(bitPattern: v)) }
        }
    }

    /// Encodes bytes as a version-1.0 `.npy` file of dtype `|u1`.
    /// Fails (precondition) when `shape`'s product differs from `uint8s.count`.
    public static func encode(uint8s: [UInt8], shape: [Int]) -> [UInt8] {
        encode(descr: "|u1", shape: shape, count: uint8s.count, itemSize: 1) { $0 += uint8s }
    }

    /// Encodes strings as a version-1.0 `.npy` file of numpy's fixed-width unicode dtype
    /// `<U{n}` (UTF-32LE, `n` = the longest string in characters, at least 1; shorter strings
    /// are padded with NUL), which `numpy.load` reads without `allow_pickle`.
    /// Fails (precondition) when `shape`'s product differs from `strings.count`.
    public static func encode(strings: [String], shape: [Int]) -> [UInt8] {
        let scalars = strings.map { Array($0.unicodeScalars) }
        let width = max(1, scalars.map(\.count).max() ?? 1)
        return encode(descr: "<U\(width)", shape: shape, count: strings.count, itemSize: 4 * width) { out in
            for s in scalars {
                for c in s { append(&out, c.value) }
                for _ in s.count..<width { append(&out, UInt32(0)) }
            }
        }
    }

    @inline(__always)
    static func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    /// The header layout numpy writes: the dict, space padding and a final newline such
    /// that the data starts at a multiple of 64 bytes.
    static func encode(descr: String, shape: [Int], count: Int, itemSize: Int = 8, body: (inout [UInt8]) -> Void) -> [UInt8] {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == count,
                     "NPY.encode: shape \(shape) does not match \(count) elements")
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        var header = Array(dict.utf8)
        // Version 1.0 has a 10-byte preamble and a 2-byte length; fall back to 2.0 (12-byte
        // preamble, 4-byte length) for headers that do not fit.
        var preamble = 10
        var padded = (preamble + header.count + 1 + 63) / 64 * 64 - preamble
        if padded > 0xFFFF {
            preamble = 12
            padded = (preamble + header.count + 1 + 63) / 64 * 64 - preamble
        }
        header.append(contentsOf: [UInt8](repeating: 0x20, count: padded - header.count - 1))
        header.append(0x0A)
        var out = magic
        out.reserveCapacity(preamble + header.count + count * itemSize)
        if preamble == 10 {
            out += [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        } else {
            out += [2, 0]
            append(&out, UInt32(header.count))
        }
        out += header
        body(&out)
        return out
    }
}

// MARK: - Header dictionary parser

extension NPY {

    /// A Python literal as found in `.npy` headers.
    indirect enum HeaderValue: Equatable, CustomStringConvertible {
        case string(String), int(Int), bool(Bool), none
        case tuple([HeaderValue]), list([HeaderValue]), dict([String: HeaderValue])

        var description: String {
            switch self {
            case .string(let s): return "'\(s)'"
            case .int(let i): return String(i)
            case .bool(let b): return b ? "True" : "False"
            case .none: return "None"
            case .tuple(let v): return "(" + v.map(\.description).joined(separator: ", ") + (v.count == 1 ? ",)" : ")")
            case .list(let v): return "[" + v.map(\.description).joined(separator: ", ") + "]"
            case .dict(let d): return "{" + d.map { "'\($0.key)': \($0.value)" }.sorted().joined(separator: ", ") + "}"
            }
        }
    }

    /// A small recursive-descent parser for the Python literal subset numpy writes in `.npy`
    /// headers: dicts, tuples, lists, quoted strings, integers (with an optional Python 2 `L`
    /// suffix), True, False and None.
    struct HeaderParser {
        struct Failure: Error { var message: String }
        let s: [UInt8]
        var i = 0
        var depth = 0

        init(text: String) { s = Array(text.utf8) }

        mutating func parseTop() throws -> HeaderValue {
            let v = try value()
            skipSpace()
            guard i == s.count else { throw Failure(message: "unexpected text after the dictionary at offset \(i)") }
            return v
        }

        mutating func skipSpace() {
            while i < s.count, s[i] == 0x20 || s[i] == 0x0A || s[i] == 0x0D || s[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ c: Character) throws {
            skipSpace()
            guard i < s.count, s[i] == c.asciiValue! else { throw Failure(message: "expected '\(c)' at offset \(i)") }
            i += 1
        }

        mutating func peek() -> UInt8? {
            skipSpace()
            return i < s.count ? s[i] : nil
        }

        mutating func value() throws -> HeaderValue {
            depth += 1
            defer { depth -= 1 }
            guard depth < 32 else { throw Failure(message: "nesting too deep") }
            guard let c = peek() else { throw Failure(message: "unexpected end of header") }
            switch c {
            case UInt8(ascii: "{"):
                i += 1
                var d: [String: HeaderValue] = [:]
                while true {
                    if peek() == UInt8(ascii: "}") { i += 1; break }
                    guard case .string(let k) = try value() else { throw Failure(message: "dictionary key is not a string at offset \(i)") }
                    try expect(":")
                    guard d[k] == nil else { throw Failure(message: "duplicate key '\(k)'") }
                    d[k] = try value()
                    if peek() == UInt8(ascii: ",") { i += 1; continue }
                    try expect("}")
                    break
                }
                return .dict(d)
            case UInt8(ascii: "("), UInt8(ascii: "["):
                let close = c == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
                i += 1
                var items: [HeaderValue] = []
                while true {
                    if peek() == close { i += 1; break }
                    items.append(try value())
                    if peek() == UInt8(ascii: ",") { i += 1; continue }
                    guard peek() == close else { throw Failure(message: "expected ',' or closing bracket at offset \(i)") }
                    i += 1
                    break
                }
                return c == UInt8(ascii: "(") ? .tuple(items) : .list(items)
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                i += 1
                var bytes: [UInt8] = []
                while i < s.count && s[i] != c {
                    if s[i] == UInt8(ascii: "\\") && i + 1 < s.count { i += 1 }
                    bytes.append(s[i])
                    i += 1
                }
                guard i < s.count else { throw Failure(message: "unterminated string") }
                i += 1
                return .string(String(decoding: bytes, as: UTF8.self))
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"):
                let start = i
                i += 1
                while i < s.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(s[i]) { i += 1 }
                guard let n = Int(String(decoding: s[start..<i], as: UTF8.self)) else {
                    throw Failure(message: "bad integer at offset \(start)")
                }
                if i < s.count && (s[i] == UInt8(ascii: "L") || s[i] == UInt8(ascii: "l")) { i += 1 }
                return .int(n)
            default:
                for (word, v) in [("True", HeaderValue.bool(true)), ("False", .bool(false)), ("None", .none)] {
                    let w = Array(word.utf8)
                    if i + w.count <= s.count && Array(s[i..<(i + w.count)]) == w {
                        i += w.count
                        return v
                    }
                }
                throw Failure(message: "unexpected character '\(Character(Unicode.Scalar(c)))' at offset \(i)")
            }
        }
    }
}
