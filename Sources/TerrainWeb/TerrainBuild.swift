import Foundation

/// What build of Terrain wrote a dataset: recorded in `meta` when a coordinator starts, shown
/// in the report's provenance.
public enum TerrainBuild {
    /// The release version (`terrain --version` without the libzmq part).
    public static let version = "0.1.0"

    /// `terrain_version`, `terrain_commit` (the git commit of the checkout the executable was
    /// built in, `+dirty` with uncommitted changes; omitted when it was not built in one) and
    /// `coordinator_host`.
    public static func provenance(executable: String) -> [String: String] {
        var out = ["terrain_version": version, "coordinator_host": ProcessInfo.processInfo.hostName]
        if let commit = commit(of: executable) { out["terrain_commit"] = commit }
        return out
    }

    /// The commit of the git work tree holding `executable` (`…/.build/release/terrain`).
    static func commit(of executable: String) -> String? {
        var dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0 ..< 6 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path) { break }
            dir = dir.deletingLastPathComponent()
        }
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path),
              let head = git(["rev-parse", "HEAD"], in: dir.path), head.count == 40 else { return nil }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"], in: dir.path).map { !$0.isEmpty } ?? false
        return head + (dirty ? "+dirty" : "")
    }

    private static func git(_ arguments: [String], in directory: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", directory] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
