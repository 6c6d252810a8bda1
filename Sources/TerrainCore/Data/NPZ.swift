import Foundation

/// Reading and writing NumPy `.npz` archives (ZIP files of `.npy` members), following
/// PKWARE's APPNOTE.
///
/// The reader locates the End Of Central Directory record (tolerating a trailing archive
/// comment, and following the ZIP64 locator when the record's fields are saturated),
/// walks the central directory, checks each local file header, decompresses stored
/// (method 0) and deflated (method 8, via ``Inflate``) members, verifies every member's
/// CRC-32 and parses it with ``NPY/parse(_:source:)``. ZIP64 extra fields are honoured
/// in both central and local headers (numpy writes local headers with saturated sizes
/// and a ZIP64 extra). Encrypted members, multi-disk archives and other compression
/// methods are rejected.
public enum NPZ {
    /// Reads every array of a `.npz` file, keyed by member name without the `.npy` suffix.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming `path` when the file cannot be read
    ///   or is malformed (see ``read(_:source:)``).
    public static func read(contentsOf path: String) throws -> [String: NPYArray] {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw TerrainError.invalidData("\(path): cannot read file")
        }
        return try read([UInt8](d), source: path)
    }

    /// Reads every array of an in-memory `.npz` archive, keyed by member name without the
    /// `.npy` suffix (members not ending in `.npy` keep their full name; directory entries
    /// are skipped).
    ///
    /// - Parameter source: names the archive in error messages, e.g. the file path.
    /// - Throws: ``TerrainError/invalidData(_:)`` whose message names `source` (and the
    ///   member, when one is at fault) for: a missing or truncated end-of-central-directory
    ///   record, a central directory or local header that is truncated, has a bad signature
    ///   or points outside the file, encryption, an unsupported compression method, a
    ///   deflate stream error, a size or CRC-32 mismatch, a duplicate key, or a member that
    ///   is not a valid `.npy` array.
    public static func read(_ bytes: [UInt8], source: String) throws -> [String: NPYArray] {
        let members = try bytes.withUnsafeBytes { try ZipReader(bytes: $0, source: source).members() }
        var result: [String: NPYArray] = [:]
        for m in members {
            let key = m.name.hasSuffix(".npy") ? String(m.name.dropLast(4)) : m.name
            guard result[key] == nil else {
                throw TerrainError.invalidData("\(source): duplicate array name '\(key)' (member \(m.name))")
            }
            result[key] = try NPY.parse(m.data, source: "\(source): member \(m.name)")
        }
        return result
    }

    // MARK: - CRC-32

    /// Slicing-by-8 tables for the reflected IEEE CRC-32 polynomial 0xEDB88320.
    static let crcTables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// The CRC-32 (IEEE 802.3, as used by ZIP, gzip and PNG) of `bytes`;
    /// `crc32(Array("123456789".utf8)) == 0xCBF43926`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }

    static func crc32(_ buf: UnsafeRawBufferPointer) -> UInt32 {
        crcTables.withUnsafeBufferPointer { t in
            var c: UInt32 = 0xFFFF_FFFF
            var i = 0
            let n = buf.count
            while i + 8 <= n {
                let lo = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                  ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                  ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                  ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(buf[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
            return ~c
        }
    }

    // MARK: - Reader

    struct Member {
        var name: String
        var data: [UInt8]
    }

    /// Bounds-checked little-endian reads over the archive bytes.
    struct ZipReader {
        let bytes: UnsafeRawBufferPointer
        let source: String

        func fail(_ m: String) -> TerrainError { .invalidData("\(source): \(m)") }

        func u16(_ at: Int) -> Int {
            Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
        }
        func u32(_ at: Int) -> Int {
            Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        func u64(_ at: Int) throws -> Int {
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            guard v <= UInt64(Int.max) else { throw fail("ZIP64 field at offset \(at) is out of range (\(v))") }
            return Int(v)
        }
        /// Whether `count` bytes starting at `at` lie inside the archive.
        func has(_ at: Int, _ count: Int) -> Bool {
            at >= 0 && count >= 0 && at <= bytes.count && count <= bytes.count - at
        }

        /// Finds the End Of Central Directory record and returns (entries, cd size, cd offset).
        func endOfCentralDirectory() throws -> (entries: Int, size: Int, offset: Int) {
            let n = bytes.count
            guard n >= 22 else {
                throw fail("not a ZIP archive or truncated: \(n) bytes is too short for an end-of-central-directory record")
            }
            // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
            var eocd = -1
            var p = n - 22
            let lowest = max(0, n - 22 - 0xFFFF)
            while p >= lowest {
                if bytes[p] == 0x50 && bytes[p + 1] == 0x4B && bytes[p + 2] == 0x05 && bytes[p + 3] == 0x06
                    && p + 22 + u16(p + 20) == n {
                    eocd = p
                    break
                }
                p -= 1
            }
            guard eocd >= 0 else {
                throw fail("no end-of-central-directory record found (not a ZIP archive, or truncated)")
            }
            let disk = u16(eocd + 4), cdDisk = u16(eocd + 6)
            var entriesHere = u16(eocd + 8), entries = u16(eocd + 10)
            var size = u32(eocd + 12), offset = u32(eocd + 16)
            if entries == 0xFFFF || entriesHere == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
                // ZIP64: a 20-byte locator precedes the record and points at the ZIP64 EOCD.
                let loc = eocd - 20
                guard loc >= 0, u32(loc) == 0x0706_4B50 else {
                    throw fail("end-of-central-directory fields are saturated but there is no ZIP64 locator")
                }
                let z = try u64(loc + 8)
                guard has(z, 56), u32(z) == 0x0606_4B50 else {
                    throw fail("ZIP64 end-of-central-directory record missing or truncated at offset \(z)")
                }
                entriesHere = try u64(z + 24)
                entries = try u64(z + 32)
                size = try u64(z + 40)
                offset = try u64(z + 48)
            } else if disk != 0 || cdDisk != 0 {
                throw fail("multi-disk (spanned) ZIP archives are not supported")
            }
            guard entriesHere == entries else { throw fail("multi-disk (spanned) ZIP archives are not supported") }
            guard has(offset, size), offset + size <= eocd else {
                throw fail("central directory (offset \(offset), \(size) bytes) lies outside the archive (truncated?)")
            }
            return (entries, size, offset)
        }

        /// Values of the ZIP64 extended-information extra field (header ID 0x0001). Only the
        /// fields whose header value is saturated are present, in the fixed order
        /// uncompressed size, compressed size, local header offset.
        func zip64(extra: Int, length: Int, usize: inout Int, csize: inout Int, offset: inout Int?, what: String) throws {
            var p = extra
            let end = extra + length
            while p + 4 <= end {
                let id = u16(p), len = u16(p + 2)
                guard p + 4 + len <= end else { throw fail("\(what): extra field overruns its header") }
                if id == 0x0001 {
                    var q = p + 4
                    func next(_ name: String) throws -> Int {
                        guard q + 8 <= p + 4 + len else { throw fail("\(what): ZIP64 extra field too short (no \(name))") }
                        defer { q += 8 }
                        return try u64(q)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next("uncompressed size") }
                    if csize == 0xFFFF_FFFF { csize = try next("compressed size") }
                    if offset == 0xFFFF_FFFF { offset = try next("local header offset") }
                    return
                }
                p += 4 + len
            }
        }

        /// A member's place in the archive: its compressed bytes are `start..<start+csize`.
        struct Entry {
            var name: String
            var method: Int
            var crc: UInt32
            var start: Int
            var csize: Int
            var usize: Int
        }

        /// Every file member of the archive, with its central-directory entry and local
        /// header checked against each other and its data range checked to lie in the file.
        func entries() throws -> [Entry] {
            let (entries, size, offset) = try endOfCentralDirectory()
            var result: [Entry] = []
            var p = offset
            let cdEnd = offset + size
            for index in 0..<entries {
                guard p + 46 <= cdEnd, u32(p) == 0x0201_4B50 else {
                    throw fail("central directory entry \(index) is truncated or has a bad signature")
                }
                let flags = u16(p + 8), method = u16(p + 10)
                let crc = UInt32(u32(p + 16))
                var csize = u32(p + 20), usize = u32(p + 24)
                let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
                var local: Int? = u32(p + 42)
                guard p + 46 + nameLen + extraLen + commentLen <= cdEnd else {
                    throw fail("central directory entry \(index) runs past the end of the central directory")
                }
                let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
                let what = "member \(name)"
                try zip64(extra: p + 46 + nameLen, length: extraLen, usize: &usize, csize: &csize, offset: &local, what: what)
                p += 46 + nameLen + extraLen + commentLen
                if name.hasSuffix("/") { continue }  // directory entry
                guard flags & 1 == 0 else { throw fail("\(what): encrypted members are not supported") }
                guard method == 0 || method == 8 else {
                    throw fail("\(what): unsupported compression method \(method) (only 0, stored, and 8, deflate)")
                }
                let start = try dataStart(name: name, what: what, localOffset: local!, flags: flags, method: method,
                                          csize: csize, usize: usize, centralEnd: offset)
                if method == 0 && csize != usize {
                    throw fail("\(what): stored member has compressed size \(csize) but uncompressed size \(usize)")
                }
                result.append(Entry(name: name, method: method, crc: crc, start: start, csize: csize, usize: usize))
            }
            return result
        }

        func members() throws -> [Member] {
            try entries().map { Member(name: $0.name, data: try data(of: $0)) }
        }

        /// A member's uncompressed bytes, CRC-checked.
        func data(of e: Entry) throws -> [UInt8] {
            let what = "member \(e.name)"
            let raw = UnsafeRawBufferPointer(rebasing: bytes[e.start..<(e.start + e.csize)])
            let out: [UInt8]
            if e.method == 0 {
                out = [UInt8](raw)
            } else {
                do {
                    out = try Inflate.decompress(raw, expectedSize: e.usize).bytes
                } catch TerrainError.invalidData(let m) {
                    throw fail("\(what): \(m)")
                }
                guard out.count == e.usize else {
                    throw fail("\(what): decompressed to \(out.count) bytes, expected \(e.usize)")
                }
            }
            try checkCRC(out.withUnsafeBytes { NPZ.crc32($0) }, e)
            return out
        }

        func checkCRC(_ actual: UInt32, _ e: Entry) throws {
            guard actual == e.crc else {
                throw fail("member \(e.name): CRC-32 mismatch (stored 0x\(Inflate.hex32(e.crc)), computed 0x\(Inflate.hex32(actual)))")
            }
        }

        /// Checks a member's local header against its central-directory entry and returns
        /// the offset of its data.
        func dataStart(name: String, what: String, localOffset: Int, flags: Int, method: Int,
                       csize: Int, usize: Int, centralEnd: Int) throws -> Int {
            let h = localOffset
            guard has(h, 30), u32(h) == 0x0403_4B50 else {
                throw fail("\(what): local file header at offset \(h) is missing, truncated or has a bad signature")
            }
            let lMethod = u16(h + 8)
            var lcsize = u32(h + 18), lusize = u32(h + 22)
            let nameLen = u16(h + 26), extraLen = u16(h + 28)
            guard has(h + 30, nameLen + extraLen) else { throw fail("\(what): local file header is truncated") }
            let lname = String(decoding: bytes[(h + 30)..<(h + 30 + nameLen)], as: UTF8.self)
            guard lname == name else {
                throw fail("\(what): local header names '\(lname)', central directory names '\(name)'")
            }
            guard lMethod == method else {
                throw fail("\(what): local header method \(lMethod) differs from central directory method \(method)")
            }
            var none: Int? = nil
            try zip64(extra: h + 30 + nameLen, length: extraLen, usize: &lusize, csize: &lcsize, offset: &none, what: what + " (local header)")
            // With bit 3 set the sizes follow the data in a descriptor; the central directory
            // is authoritative either way, but the local values must agree when present.
            if flags & 8 == 0 && (lcsize != csize || lusize != usize) {
                throw fail("\(what): local header sizes (\(lcsize)/\(lusize)) differ from the central directory (\(csize)/\(usize))")
            }
            let start = h + 30 + nameLen + extraLen
            guard has(start, csize), start + csize <= centralEnd else {
                throw fail("\(what): \(csize) bytes of member data at offset \(start) run past the end of the data area (truncated?)")
            }
            return start
        }
    }

    // MARK: - Writer

    /// Builds a stored (uncompressed) ZIP archive of `.npy` members that `numpy.load`
    /// accepts. A name without a `.npy` suffix gets one. Timestamps are fixed at
    /// 1980-01-01 so the output is deterministic.
    ///
    /// Fails (precondition) when the archive would need ZIP64 (a member or the whole
    /// archive of 4 GiB or more, or 65535 members or more).
    public static func write(_ arrays: [(name: String, npy: [UInt8])]) -> [UInt8] {
        precondition(arrays.count < 0xFFFF, "NPZ.write: too many members (\(arrays.count)) for a non-ZIP64 archive")
        var out: [UInt8] = []
        out.reserveCapacity(arrays.reduce(0) { $0 + $1.npy.count + 2 * $1.name.utf8.count + 100 } + 22)
        var central: [UInt8] = []
        func u16(_ v: Int, _ buf: inout [UInt8]) { buf += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: Int, _ buf: inout [UInt8]) { for s in stride(from: 0, to: 32, by: 8) { buf.append(UInt8((v >> s) & 0xFF)) } }
        let dosTime = 0, dosDate = (0 << 9) | (1 << 5) | 1  // 1980-01-01 00:00:00
        for (name, npy) in arrays {
            let member = name.hasSuffix(".npy") ? name : name + ".npy"
            let nameBytes = Array(member.utf8)
            precondition(nameBytes.count <= 0xFFFF, "NPZ.write: member name too long")
            precondition(npy.count < 0xFFFF_FFFF && out.count < 0xFFFF_FFFF, "NPZ.write: archive too large for a non-ZIP64 ZIP")
            let flags = nameBytes.allSatisfy { $0 < 0x80 } ? 0 : 0x0800  // bit 11: UTF-8 name
            let crc = Int(crc32(npy))
            let offset = out.count
            // Local file header.
            u32(0x0403_4B50, &out); u16(20, &out); u16(flags, &out); u16(0, &out)
            u16(dosTime, &out); u16(dosDate, &out)
            u32(crc, &out); u32(npy.count, &out); u32(npy.count, &out)
            u16(nameBytes.count, &out); u16(0, &out)
            out += nameBytes
            out += npy
            // Central directory entry (made by: Unix, spec 2.0; mode -rw-r--r--).
            u32(0x0201_4B50, &central); u16(0x0314, &central); u16(20, &central); u16(flags, &central); u16(0, &central)
            u16(dosTime, &central); u16(dosDate, &central)
            u32(crc, &central); u32(npy.count, &central); u32(npy.count, &central)
            u16(nameBytes.count, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0o100644 << 16, &central); u32(offset, &central)
            central += nameBytes
        }
        let cdOffset = out.count
        precondition(cdOffset + central.count < 0xFFFF_FFFF, "NPZ.write: archive too large for a non-ZIP64 ZIP")
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out)
        u16(arrays.count, &out); u16(arrays.count, &out)
        u32(central.count, &out); u32(cdOffset, &out); u16(0, &out)
        return out
    }
}
