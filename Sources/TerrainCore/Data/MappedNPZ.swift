import Foundation

/// An `.npz` archive read through a memory map: the central directory and local headers are
/// checked up front, members are read only when asked for, and a stored (uncompressed,
/// `np.savez`) member's array is used in place, in the shared map.
///
/// A deflated (`np.savez_compressed`) member cannot be mapped, so an image array in one is
/// decompressed once into a content-addressed cache file (named by the SHA-256 of the
/// archive and the member name, written under a temporary name and renamed, so concurrent
/// workers never see a partial file) and that file is mapped instead.
final class MappedNPZ {
    /// A member's `.npy` array, either in a map (stored member or cache file) or decompressed
    /// into process memory.
    enum Member {
        case mapped(header: NPY.Header, npy: UnsafeRawBufferPointer, owner: MappedFile, source: String)
        case bytes([UInt8], source: String)

        /// The `.npy` header.
        func header() throws -> NPY.Header {
            switch self {
            case .mapped(let h, _, _, _): return h
            case .bytes(let b, let source): return try b.withUnsafeBytes { try NPY.parseHeader($0, source: source) }
            }
        }

        /// The array, copied into process memory (for labels and non-image arrays).
        func array() throws -> NPYArray {
            switch self {
            case .mapped(_, let npy, _, let source): return try NPY.parse([UInt8](npy), source: source)
            case .bytes(let b, let source): return try NPY.parse(b, source: source)
            }
        }
    }

    let path: String
    let file: MappedFile
    private let reader: NPZ.ZipReader
    private let entries: [String: NPZ.ZipReader.Entry]
    private var sourceDigest: String?

    /// Maps and indexes `path`.
    /// - Throws: ``TerrainError/invalidData(_:)`` naming the file for every defect
    ///   ``NPZ/read(_:source:)`` reports in the archive structure, or a duplicate array name.
    init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        reader = NPZ.ZipReader(bytes: file.bytes, source: path)
        var entries = [String: NPZ.ZipReader.Entry]()
        for e in try reader.entries() {
            let key = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            guard entries[key] == nil else {
                throw TerrainError.invalidData("\(path): duplicate array name '\(key)' (member \(e.name))")
            }
            entries[key] = e
        }
        self.entries = entries
    }

    /// The array names.
    var keys: [String] { entries.keys.sorted() }

    /// Whether the archive has an array `key` (with or without the `.npy` suffix).
    func has(_ key: String) -> Bool { entry(key) != nil }

    private func entry(_ key: String) -> NPZ.ZipReader.Entry? {
        entries[key] ?? (key.hasSuffix(".npy") ? entries[String(key.dropLast(4))] : nil)
    }

    /// Member `key`, CRC-checked. A deflated member is decompressed into memory unless
    /// `cacheDirectory` already holds it.
    func member(_ key: String, cacheDirectory: String?) throws -> Member {
        guard let e = entry(key) else {
            throw TerrainError.invalidData("\(path): no array '\(key)' (it has \(keys.joined(separator: ", ")))")
        }
        let source = "\(path): member \(e.name)"
        if e.method == 0 {
            let npy = UnsafeRawBufferPointer(rebasing: file.bytes[e.start..<(e.start + e.csize)])
            try reader.checkCRC(NPZ.crc32(npy), e)
            return try Self.mapped(npy, owner: file, source: source)
        }
        if let dir = cacheDirectory, let cached = try cachedMember(e, directory: dir, source: source) { return cached }
        return .bytes(try reader.data(of: e), source: source)
    }

    /// Writes a decompressed member to the cache (if absent) and returns it mapped from there.
    func cache(_ key: String, bytes: [UInt8], directory: String) throws -> Member {
        guard let e = entry(key) else { throw TerrainError.invalidData("\(path): no array '\(key)'") }
        let target = try cachePath(e, directory: directory)
        if !FileManager.default.fileExists(atPath: target) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temporary = target + ".tmp-\(getpid())-\(UInt64.random(in: 0 ... .max))"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
                throw TerrainError.invalidData("\(directory): cannot write the decompressed-data cache file \(temporary)")
            }
            guard rename(temporary, target) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: temporary)
                throw TerrainError.invalidData("\(directory): cannot rename the cache file into place (\(reason))")
            }
        }
        guard let m = try cachedMember(e, directory: directory, source: "\(path): member \(e.name)") else {
            throw TerrainError.invalidData("\(target): the decompressed-data cache file disagrees with \(path)")
        }
        return m
    }

    private func cachedMember(_ e: NPZ.ZipReader.Entry, directory: String, source: String) throws -> Member? {
        let target = try cachePath(e, directory: directory)
        guard FileManager.default.fileExists(atPath: target) else { return nil }
        let f = try MappedFile(path: target)
        // A cache file that is not exactly the member (another tool's file, a damaged disk)
        // is ignored and rewritten, never trusted.
        guard f.count == e.usize, NPZ.crc32(f.bytes) == e.crc else {
            try? FileManager.default.removeItem(atPath: target)
            return nil
        }
        return try Self.mapped(f.bytes, owner: f, source: "\(source) (cached as \(target))")
    }

    private func cachePath(_ e: NPZ.ZipReader.Entry, directory: String) throws -> String {
        if sourceDigest == nil { sourceDigest = SHA256.hex(try MappedFile.sha256(of: path)) }
        let safe = String(e.name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" })
        return (directory as NSString).appendingPathComponent("\(sourceDigest!)-\(safe)")
    }

    private static func mapped(_ npy: UnsafeRawBufferPointer, owner: MappedFile, source: String) throws -> Member {
        let h = try NPY.parseHeader(npy, source: source)
        let available = npy.count - h.dataStart
        guard available == h.dataBytes else {
            throw TerrainError.invalidData("\(source): data size disagrees with the header: dtype \(h.descr) and shape \(h.shape) need \(h.dataBytes) bytes, found \(available)")
        }
        return .mapped(header: h, npy: npy, owner: owner, source: source)
    }

    /// The directory for decompressed-data cache files: `$TERRAIN_DATA_CACHE`, else
    /// `$XDG_CACHE_HOME/terrain/data`, else `~/.cache/terrain/data`.
    static var defaultCacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["TERRAIN_DATA_CACHE"], !d.isEmpty { return d }
        if let d = env["XDG_CACHE_HOME"], !d.isEmpty { return d + "/terrain/data" }
        return NSHomeDirectory() + "/.cache/terrain/data"
    }
}
