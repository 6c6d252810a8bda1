import Foundation
import TerrainCore
import TerrainSweeps

/// The worker's copies of a sweep's data files (``DataFiles``), by SHA-256: files fetched from
/// the coordinator are written to a directory on local disk under their hash
/// (`<hash hex>/<original file name>`: the name keeps the extension formats are told by), so that the
/// compute can map them and later tasks — and later workers on the node — need not fetch
/// them again; a file already at its original path with the same bytes (a shared filesystem)
/// is used where it is. Every file is hashed before it is trusted, once per process.
package final class FileCache {
    /// The directory of fetched files (`<hash hex>/<name>` each).
    package let directory: String
    /// Local path of each data file held, by hash.
    private(set) var paths: [[UInt8]: String] = [:]
    /// Hashes of files already read: path → (size, modification time, SHA-256).
    private var hashed: [String: (size: Int, modified: Date, hash: [UInt8])] = [:]

    package init(directory: String) { self.directory = directory }

    /// The local path of a data file the task needs, without fetching: the cached copy, or
    /// the original path when its bytes match; `nil` when neither holds them.
    func find(_ hash: [UInt8], original: String) -> String? {
        if let p = paths[hash] { return p }
        for candidate in [cached(hash, original), original] where matches(candidate, hash) {
            paths[hash] = candidate
            return candidate
        }
        return nil
    }

    /// Writes fetched bytes under their hash (atomically) and returns the path.
    func store(_ hash: [UInt8], _ data: [UInt8], original: String) throws -> String {
        if let p = paths[hash] { return p }
        let path = cached(hash, original)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !matches(path, hash) { try Data(data).write(to: URL(fileURLWithPath: path), options: .atomic) }
        paths[hash] = path
        return path
    }

    /// Where a fetched file is kept: `<directory>/<hash hex>/<original file name>`.
    private func cached(_ hash: [UInt8], _ original: String) -> String {
        ((directory as NSString).appendingPathComponent(SHA256.hex(hash)) as NSString).appendingPathComponent((original as NSString).lastPathComponent)
    }

    /// Forgets where a file is (the cache evicted it); the copy on disk stays for later.
    func forget(_ hash: [UInt8]) { paths.removeValue(forKey: hash) }

    private func matches(_ path: String, _ hash: [UInt8]) -> Bool {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path), let size = a[.size] as? Int,
              let modified = a[.modificationDate] as? Date else { return false }
        if let h = hashed[path], h.size == size, h.modified == modified { return h.hash == hash }
        guard let digest = try? MappedFile.sha256(of: path) else { return false }
        hashed[path] = (size, modified, digest)
        return digest == hash
    }
}
