import Foundation

/// Reading the IDX format of the MNIST files (`train-images-idx3-ubyte` and friends).
///
/// Layout: two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
/// 0x0C int32, 0x0D float32, 0x0E float64), a dimension-count byte, one big-endian
/// 32-bit size per dimension, then the elements big-endian in C order. A gzip-compressed
/// file (as MNIST is distributed, `….gz`) is recognised by its magic and decompressed first.
public enum IDX {
    /// Reads an IDX file (optionally gzip-compressed).
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `path` when the file cannot be read
    ///   or is malformed (see ``read(_:source:)``).
    public static func read(contentsOf path: String) throws -> (shape: [Int], values: [Double]) {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw TerrainError.invalidData("\(path): cannot read file")
        }
        return try read([UInt8](d), source: path)
    }

    /// Parses an IDX byte buffer (optionally gzip-compressed) into its shape and its values
    /// as `Double`, in C order.
    ///
    /// - Parameter source: names the buffer in error messages.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `source` when the magic's first
    ///   two bytes are not zero, the type byte is unknown, the header is truncated, a
    ///   dimension is negative, the data is shorter or longer than the dimensions require,
    ///   or a gzip wrapper is corrupt.
    public static func read(_ bytes: [UInt8], source: String) throws -> (shape: [Int], values: [Double]) {
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            return try parse(Inflate.gunzip(bytes, source: source), source: source)
        }
        return try parse(bytes, source: source)
    }

    static func parse(_ bytes: [UInt8], source: String) throws -> (shape: [Int], values: [Double]) {
        func fail(_ m: String) -> TerrainError { .invalidData("\(source): \(m)") }
        guard bytes.count >= 4 else { throw fail("too short for an IDX header (\(bytes.count) bytes, need at least 4)") }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw fail("not an IDX file (magic must start with two zero bytes, found 0x\(hex(bytes[0]))\(hex(bytes[1])))")
        }
        let type = bytes[2]
        let size: Int
        switch type {
        case 0x08, 0x09: size = 1
        case 0x0B: size = 2
        case 0x0C, 0x0D: size = 4
        case 0x0E: size = 8
        default: throw fail("unknown IDX element type 0x\(hex(type)) (expected 08, 09, 0B, 0C, 0D or 0E)")
        }
        let ndim = Int(bytes[3])
        let dataStart = 4 + 4 * ndim
        guard bytes.count >= dataStart else {
            throw fail("truncated IDX header: \(ndim) dimensions need \(dataStart) header bytes, file has \(bytes.count)")
        }
        var shape: [Int] = []
        var count = 1
        for k in 0..<ndim {
            let p = 4 + 4 * k
            let v = Int32(bitPattern: UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3]))
            guard v >= 0 else { throw fail("dimension \(k) is negative (\(v))") }
            let (c, o) = count.multipliedReportingOverflow(by: Int(v))
            guard !o else { throw fail("dimensions \(shape + [Int(v)]) are too large") }
            shape.append(Int(v))
            count = c
        }
        let (needed, o) = count.multipliedReportingOverflow(by: size)
        let available = bytes.count - dataStart
        guard !o, available == needed else {
            let what = !o && available < needed ? "too few data bytes" : "data size disagrees with the header"
            throw fail("\(what): shape \(shape) of \(size)-byte elements needs \(needed) bytes, found \(available)")
        }
        let values = [Double](unsafeUninitializedCapacity: count) { out, n in
            bytes.withUnsafeBytes { raw in
                let b = raw.baseAddress! + dataStart
                switch type {
                case 0x08: for i in 0..<count { out[i] = Double(b.load(fromByteOffset: i, as: UInt8.self)) }
                case 0x09: for i in 0..<count { out[i] = Double(b.load(fromByteOffset: i, as: Int8.self)) }
                case 0x0B: for i in 0..<count { out[i] = Double(Int16(bigEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
                case 0x0C: for i in 0..<count { out[i] = Double(Int32(bigEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
                case 0x0D:
                    for i in 0..<count {
                        out[i] = Double(Float(bitPattern: UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                    }
                default:
                    for i in 0..<count {
                        out[i] = Double(bitPattern: UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                    }
                }
            }
            n = count
        }
        return (shape, values)
    }

    static func hex(_ b: UInt8) -> String { b < 16 ? "0" + String(b, radix: 16, uppercase: true) : String(b, radix: 16, uppercase: true) }
}
