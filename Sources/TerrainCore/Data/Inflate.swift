/// A pure-Swift DEFLATE decoder (RFC 1951): stored, fixed-Huffman and dynamic-Huffman
/// blocks, as found in ZIP (`.npz`) members and gzip files.
///
/// Huffman codes are decoded through a 10-bit lookup table indexed by the next input bits;
/// codes longer than 10 bits (rare) fall back to canonical decoding. Every malformed input
/// — a reserved block type, an over-subscribed or incomplete code, a repeat code with
/// nothing to repeat, a distance reaching before the start of the output, a stream that
/// ends early, output larger than `expectedSize` — throws ``TerrainError/invalidData(_:)``
/// with a message starting "deflate stream: "; decoding never traps and always terminates
/// because every loop iteration consumes input bits.
public enum Inflate {
    /// Decompresses a raw DEFLATE stream (no zlib or gzip wrapper).
    ///
    /// - Parameters:
    ///   - data: the compressed bytes. Bytes after the final block are ignored.
    ///   - expectedSize: when given, an upper bound on the output size (decoding throws as
    ///     soon as the output would exceed it) and the initial output capacity. A shorter
    ///     output is not an error here; callers that know the exact size compare it.
    /// - Returns: the decompressed bytes.
    /// - Throws: ``TerrainError/invalidData(_:)`` for any malformed or truncated stream.
    public static func decompress(_ data: [UInt8], expectedSize: Int? = nil) throws -> [UInt8] {
        try data.withUnsafeBufferPointer { try decompress(UnsafeRawBufferPointer($0), expectedSize: expectedSize).bytes }
    }

    /// Decompresses a gzip file (RFC 1952): parses the header (with optional extra field,
    /// name, comment and header CRC), inflates the single member and checks the trailer's
    /// CRC-32 and length.
    ///
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `source` when the header is not
    ///   gzip/deflate, the stream is malformed, or the CRC-32 or size does not match.
    public static func gunzip(_ data: [UInt8], source: String) throws -> [UInt8] {
        func fail(_ m: String) -> TerrainError { .invalidData("\(source): gzip: \(m)") }
        guard data.count >= 18, data[0] == 0x1F, data[1] == 0x8B else { throw fail("not a gzip file (bad magic or too short)") }
        guard data[2] == 8 else { throw fail("unsupported compression method \(data[2]) (only 8, deflate)") }
        let flags = data[3]
        guard flags & 0xE0 == 0 else { throw fail("reserved header flag bits set (0x\(String(flags, radix: 16)))") }
        var pos = 10
        if flags & 0x04 != 0 {  // FEXTRA
            guard pos + 2 <= data.count else { throw fail("truncated header") }
            pos += 2 + (Int(data[pos]) | Int(data[pos + 1]) << 8)
        }
        for bit: UInt8 in [0x08, 0x10] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            while pos < data.count && data[pos] != 0 { pos += 1 }
            pos += 1
        }
        if flags & 0x02 != 0 { pos += 2 }  // FHCRC
        guard pos + 8 <= data.count else { throw fail("truncated header") }
        let result: (bytes: [UInt8], consumed: Int)
        do {
            result = try data.withUnsafeBufferPointer {
                try decompress(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[pos..<($0.count - 8)]), expectedSize: nil)
            }
        } catch TerrainError.invalidData(let m) {
            throw fail(m)
        }
        let t = pos + result.consumed
        guard t + 8 <= data.count else { throw fail("truncated trailer") }
        func le32(_ i: Int) -> UInt32 {
            UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        }
        let storedCRC = le32(t), storedSize = le32(t + 4)
        let crc = NPZ.crc32(result.bytes)
        guard crc == storedCRC else {
            throw fail("CRC-32 mismatch (stored 0x\(hex32(storedCRC)), computed 0x\(hex32(crc)))")
        }
        guard UInt32(truncatingIfNeeded: result.bytes.count) == storedSize else {
            throw fail("size mismatch (trailer says \(storedSize) bytes, decoded \(result.bytes.count))")
        }
        return result.bytes
    }

    static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    // MARK: - Tables (RFC 1951 §3.2.5)

    static let lengthBase: [UInt16] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                       35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                       3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase: [UInt16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                     257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                     8193, 12289, 16385, 24577]
    static let distExtra: [UInt8] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                     7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    /// The order in which code-length code lengths are transmitted (§3.2.7).
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static let fixedLiteral: Huffman = {
        var lengths = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        // Fixed codes are complete by construction.
        return try! Huffman(lengths: lengths, kind: .literal)
    }()
    static let fixedDistance: Huffman = {
        // 30 and 31 take part in the code but never occur in valid data (§3.2.6).
        try! Huffman(lengths: [UInt8](repeating: 5, count: 32), kind: .distance)
    }()

    // MARK: - Huffman decoding table

    /// A canonical Huffman code with a `fastBits`-bit direct lookup table and a canonical
    /// fallback for longer codes.
    struct Huffman: Sendable {
        enum Kind { case literal, distance, codeLength }
        static let fastBits = 10
        static let maxBits = 15
        /// Entry = symbol << 4 | code length; 0 means "longer than fastBits, or no such code".
        var fast: [UInt32]
        /// Number of codes of each length 0...15.
        var counts: [UInt16]
        /// Symbols sorted by (code length, symbol value): canonical order.
        var symbols: [UInt16]

        init(lengths: [UInt8], kind: Kind) throws {
            var counts = [UInt16](repeating: 0, count: Huffman.maxBits + 1)
            for l in lengths { counts[Int(l)] += 1 }
            counts[0] = 0
            // Check the code is neither over-subscribed nor (with exceptions) incomplete.
            var left = 1
            var used = 0
            for len in 1...Huffman.maxBits {
                left <<= 1
                left -= Int(counts[len])
                used += Int(counts[len])
                if left < 0 { throw TerrainError.invalidData("deflate stream: over-subscribed \(kind) code lengths") }
            }
            if left > 0 && used > 0 {
                // As in zlib: an incomplete code is accepted only for a literal/length or
                // distance code made of a single one-bit code.
                let single = used == 1 && counts[1] == 1
                if kind == .codeLength || !single {
                    throw TerrainError.invalidData("deflate stream: incomplete \(kind) code lengths")
                }
            }
            if kind == .codeLength && used == 0 {
                throw TerrainError.invalidData("deflate stream: empty code-length code")
            }
            // Canonical ordering.
            var offsets = [Int](repeating: 0, count: Huffman.maxBits + 2)
            for len in 1...Huffman.maxBits { offsets[len + 1] = offsets[len] + Int(counts[len]) }
            var symbols = [UInt16](repeating: 0, count: used)
            for (sym, l) in lengths.enumerated() where l != 0 {
                symbols[offsets[Int(l)]] = UInt16(sym)
                offsets[Int(l)] += 1
            }
            // Direct table for codes of up to fastBits bits. Codes are sent most significant
            // bit first, so the table is indexed by the bit-reversed code.
            var fast = [UInt32](repeating: 0, count: 1 << Huffman.fastBits)
            var code = 0
            var index = 0
            for len in 1...Huffman.maxBits {
                for _ in 0..<Int(counts[len]) {
                    if len <= Huffman.fastBits {
                        var rev = 0
                        var c = code
                        for _ in 0..<len { rev = (rev << 1) | (c & 1); c >>= 1 }
                        let entry = UInt32(symbols[index]) << 4 | UInt32(len)
                        var k = rev
                        while k < (1 << Huffman.fastBits) {
                            fast[k] = entry
                            k += 1 << len
                        }
                    }
                    code += 1
                    index += 1
                }
                code <<= 1
            }
            self.fast = fast
            self.counts = counts
            self.symbols = symbols
        }
    }

    // MARK: - Decoder

    /// Bit reader and output buffer over raw memory. All reads are bounds-checked against
    /// `count`; bits above `bitCount` in `bits` are always zero.
    struct Decoder: ~Copyable {
        let input: UnsafeRawBufferPointer
        var pos = 0
        var bits: UInt64 = 0
        var bitCount = 0
        var out: UnsafeMutablePointer<UInt8>
        var outCount = 0
        var outCapacity: Int
        let limit: Int

        init(input: UnsafeRawBufferPointer, expectedSize: Int?) {
            self.input = input
            limit = expectedSize ?? Int.max
            // Deflate expands at most ~1032:1, so a huge claimed size cannot force a huge allocation.
            let initial = max(1024, min(expectedSize ?? input.count &* 4, input.count &* 1040 &+ 1024, 1 << 30))
            outCapacity = initial
            out = .allocate(capacity: initial)
        }

        deinit { out.deallocate() }

        /// Tops the bit buffer up to at least 57 bits, or with all remaining input.
        @inline(__always)
        mutating func refill() {
            if bitCount > 56 { return }
            if pos + 8 <= input.count {
                let word = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
                let take = (63 - bitCount) >> 3
                let mask: UInt64 = (1 << UInt64(take * 8)) - 1
                bits |= (word & mask) << UInt64(bitCount)
                pos += take
                bitCount += take * 8
            } else {
                while bitCount <= 56 && pos < input.count {
                    bits |= UInt64(input[pos]) << UInt64(bitCount)
                    pos += 1
                    bitCount += 8
                }
            }
        }

        @inline(__always)
        mutating func take(_ n: Int) throws -> Int {
            if bitCount < n {
                refill()
                if bitCount < n { throw TerrainError.invalidData("deflate stream: truncated (input ended inside a block)") }
            }
            let v = Int(truncatingIfNeeded: bits & ((1 << UInt64(n)) - 1))
            bits >>= UInt64(n)
            bitCount -= n
            return v
        }

        @inline(__always)
        mutating func decode(_ h: borrowing Huffman) throws -> Int {
            if bitCount < Huffman.maxBits { refill() }
            let entry = h.fast[Int(truncatingIfNeeded: bits) & ((1 << Huffman.fastBits) - 1)]
            let len = Int(entry & 15)
            if len != 0 {
                if len > bitCount { throw TerrainError.invalidData("deflate stream: truncated (input ended inside a code)") }
                bits >>= UInt64(len)
                bitCount -= len
                return Int(entry >> 4)
            }
            return try decodeSlow(h)
        }

        /// Canonical decoding, one bit at a time: for codes longer than the fast table.
        mutating func decodeSlow(_ h: borrowing Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1...Huffman.maxBits {
                if len > bitCount { throw TerrainError.invalidData("deflate stream: truncated (input ended inside a code)") }
                code |= Int(truncatingIfNeeded: (bits >> UInt64(len - 1)) & 1)
                let count = Int(h.counts[len])
                if code - first < count {
                    bits >>= UInt64(len)
                    bitCount -= len
                    return Int(h.symbols[index + code - first])
                }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
            throw TerrainError.invalidData("deflate stream: invalid Huffman code (not in the code table)")
        }

        mutating func ensure(_ extra: Int) throws {
            let need = outCount + extra
            if need > limit {
                throw TerrainError.invalidData("deflate stream: output exceeds the expected size of \(limit) bytes")
            }
            if need <= outCapacity { return }
            var cap = outCapacity
            while cap < need { cap = cap < (1 << 60) ? cap * 2 : need }
            if limit != Int.max { cap = min(cap, max(limit, need)) }
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
            grown.update(from: out, count: outCount)
            out.deallocate()
            out = grown
            outCapacity = cap
        }

        mutating func stored() throws {
            // Discard the bits up to the byte boundary, then read LEN and NLEN.
            _ = try take(bitCount & 7)
            let len = try take(16)
            let nlen = try take(16)
            guard len == (~nlen & 0xFFFF) else {
                throw TerrainError.invalidData("deflate stream: stored block length \(len) does not match its complement \(nlen)")
            }
            try ensure(len)
            var remaining = len
            // Drain whole bytes still held in the bit buffer first.
            while remaining > 0 && bitCount >= 8 {
                out[outCount] = UInt8(truncatingIfNeeded: bits)
                bits >>= 8
                bitCount -= 8
                outCount += 1
                remaining -= 1
            }
            if remaining > 0 {
                // The bit buffer is empty here (bitCount is a multiple of 8 after alignment).
                guard pos + remaining <= input.count else {
                    throw TerrainError.invalidData("deflate stream: truncated (stored block of \(len) bytes runs past the end of input)")
                }
                (out + outCount).update(from: input.baseAddress!.assumingMemoryBound(to: UInt8.self) + pos, count: remaining)
                pos += remaining
                outCount += remaining
            }
        }

        mutating func codes(_ lit: borrowing Huffman, _ dist: borrowing Huffman) throws {
            while true {
                let sym = try decode(lit)
                if sym < 256 {
                    if outCount >= outCapacity || outCount >= limit { try ensure(1) }
                    out[outCount] = UInt8(truncatingIfNeeded: sym)
                    outCount += 1
                    continue
                }
                if sym == 256 { return }
                let li = sym - 257
                guard li < 29 else { throw TerrainError.invalidData("deflate stream: invalid length symbol \(sym)") }
                let length = Int(Inflate.lengthBase[li]) + (try take(Int(Inflate.lengthExtra[li])))
                let ds = try decode(dist)
                guard ds < 30 else { throw TerrainError.invalidData("deflate stream: invalid distance symbol \(ds)") }
                let distance = Int(Inflate.distBase[ds]) + (try take(Int(Inflate.distExtra[ds])))
                guard distance <= outCount else {
                    throw TerrainError.invalidData("deflate stream: distance \(distance) too far back (only \(outCount) bytes decoded)")
                }
                try ensure(length)
                let dst = out + outCount
                let src = dst - distance
                if distance >= length {
                    dst.update(from: src, count: length)
                } else {
                    // Overlapping copy: byte by byte replicates the repeating pattern.
                    for i in 0..<length { dst[i] = src[i] }
                }
                outCount += length
            }
        }

        mutating func dynamicTables() throws -> (Huffman, Huffman) {
            let hlit = try take(5) + 257
            let hdist = try take(5) + 1
            let hclen = try take(4) + 4
            guard hlit <= 286, hdist <= 30 else {
                throw TerrainError.invalidData("deflate stream: too many length (\(hlit)) or distance (\(hdist)) codes")
            }
            var clLengths = [UInt8](repeating: 0, count: 19)
            for i in 0..<hclen { clLengths[Inflate.codeLengthOrder[i]] = UInt8(try take(3)) }
            let clCode = try Huffman(lengths: clLengths, kind: .codeLength)
            var lengths = [UInt8](repeating: 0, count: hlit + hdist)
            var i = 0
            while i < lengths.count {
                let sym = try decode(clCode)
                switch sym {
                case 0...15:
                    lengths[i] = UInt8(sym)
                    i += 1
                case 16, 17, 18:
                    let value: UInt8
                    let repeatCount: Int
                    if sym == 16 {
                        guard i > 0 else { throw TerrainError.invalidData("deflate stream: repeat code 16 with no previous length") }
                        value = lengths[i - 1]
                        repeatCount = 3 + (try take(2))
                    } else if sym == 17 {
                        value = 0
                        repeatCount = 3 + (try take(3))
                    } else {
                        value = 0
                        repeatCount = 11 + (try take(7))
                    }
                    guard i + repeatCount <= lengths.count else {
                        throw TerrainError.invalidData("deflate stream: code-length repeat runs past the \(lengths.count) code lengths")
                    }
                    for j in i..<(i + repeatCount) { lengths[j] = value }
                    i += repeatCount
                default:
                    throw TerrainError.invalidData("deflate stream: invalid code-length symbol \(sym)")
                }
            }
            guard lengths[256] != 0 else {
                throw TerrainError.invalidData("deflate stream: dynamic block has no end-of-block code")
            }
            let lit = try Huffman(lengths: Array(lengths[0..<hlit]), kind: .literal)
            let dist = try Huffman(lengths: Array(lengths[hlit...]), kind: .distance)
            return (lit, dist)
        }

        /// Returns the number of input bytes consumed (up to the end of the final block).
        mutating func run() throws -> Int {
            var final = false
            while !final {
                final = try take(1) == 1
                let type = try take(2)
                switch type {
                case 0: try stored()
                case 1: try codes(Inflate.fixedLiteral, Inflate.fixedDistance)
                case 2:
                    let (lit, dist) = try dynamicTables()
                    try codes(lit, dist)
                default:
                    throw TerrainError.invalidData("deflate stream: invalid block type 3 (reserved)")
                }
            }
            // Whole bytes still in the bit buffer were not used by the stream.
            return pos - bitCount / 8
        }
    }

    /// Decompresses from raw memory; returns the output and the number of input bytes used.
    static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int?) throws -> (bytes: [UInt8], consumed: Int) {
        if let e = expectedSize, e < 0 {
            throw TerrainError.invalidData("deflate stream: negative expected size \(e)")
        }
        var d = Decoder(input: input, expectedSize: expectedSize)
        let consumed = try d.run()
        let n = d.outCount
        let out = d.out
        let bytes = [UInt8](unsafeUninitializedCapacity: n) { buf, count in
            if n > 0 { buf.baseAddress!.update(from: out, count: n) }
            count = n
        }
        return (bytes, consumed)
    }
}
