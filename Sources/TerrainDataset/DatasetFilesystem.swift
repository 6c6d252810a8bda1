import Foundation

/// The filesystem a dataset lives on, checked when a coordinator starts.
///
/// SQLite's write-ahead log keeps its index in a memory-mapped `-shm` file that every process
/// opening the dataset shares, which only works when they all run on one host; and the
/// coordinator's lock (``DatasetLock``) is a `flock`, which some network filesystems ignore,
/// keep local to one client, or refuse. A dataset on such a filesystem can be corrupted by a
/// second coordinator on another node, or read wrongly by `terrain status` run elsewhere, so a
/// coordinator refuses one unless told the site's filesystem is safe for one host at a time
/// (`--allow-network-filesystem`; deploy/README.md, "Where the dataset lives").
public enum DatasetFilesystem {
    /// Filesystems shared between hosts, by the type name the kernel reports in
    /// `/proc/self/mountinfo` (every `fuse.*` type counts too: sshfs, s3fs, gcsfuse, …).
    public static let networkFilesystems: [String: String] = [
        "nfs": "NFS", "nfs4": "NFS", "cifs": "SMB/CIFS", "smb3": "SMB", "smbfs": "SMB", "lustre": "Lustre",
        "gpfs": "GPFS (Spectrum Scale)", "beegfs": "BeeGFS", "fhgfs": "BeeGFS", "ceph": "CephFS", "9p": "9p", "afs": "AFS",
        "ocfs2": "OCFS2", "gfs2": "GFS2", "panfs": "PanFS", "pvfs2": "OrangeFS", "orangefs": "OrangeFS", "glusterfs": "GlusterFS",
        "fuse": "FUSE", "fuseblk": "FUSE",
    ]

    /// The name a network filesystem type goes by, or `nil` for a local one.
    public static func networkName(_ type: String) -> String? {
        if let name = networkFilesystems[type] { return name }
        if type.hasPrefix("fuse.") { return "FUSE (\(type.dropFirst(5)))" }
        return nil
    }

    /// Why a dataset's place was refused.
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        /// The message, naming the file, the filesystem and the ways out.
        public var description: String
    }

    /// The type of the filesystem holding `path` (or its directory when the file does not
    /// exist yet), as `/proc/self/mountinfo` names it (`ext4`, `tmpfs`, `nfs4`, `fuse.sshfs`);
    /// `nil` when it cannot be told.
    public static func type(of path: String) -> String? {
        var p = path
        if !FileManager.default.fileExists(atPath: p) { p = (p as NSString).deletingLastPathComponent }
        if p.isEmpty { p = "." }
        guard let resolved = realpath(p, nil) else { return nil }
        let real = String(cString: resolved)
        free(resolved)
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        return mountType(of: real, mountinfo: table)
    }

    /// The type of the mount holding the absolute path `path` in a `mountinfo` table: the
    /// longest mount point containing it (the last one mounted there, if several).
    public static func mountType(of path: String, mountinfo: String) -> String? {
        var best: (length: Int, type: String)? = nil
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            // Mount points escape spaces, tabs, newlines and backslashes as octal.
            let point = String(fields[4]).replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
                .replacingOccurrences(of: "\\012", with: "\n").replacingOccurrences(of: "\\134", with: "\\")
            let contains = point == "/" || path == point || path.hasPrefix(point + "/")
            if contains && point.count >= (best?.length ?? -1) { best = (point.count, String(fields[dash + 1])) }
        }
        return best?.type
    }

    /// Throws ``Refusal`` when `path` is on a filesystem shared between hosts, unless
    /// `allowNetwork`. `type` reads the filesystem type (tests pass their own).
    public static func check(_ path: String, allowNetwork: Bool, type: (String) -> String? = DatasetFilesystem.type(of:)) throws(Refusal) {
        guard !allowNetwork, let t = type(path), let name = networkName(t) else { return }
        throw Refusal(description: """
            \(path) is on \(name), a filesystem shared between hosts: SQLite's write-ahead log needs every process \
            that opens the dataset on one host, and the coordinator's lock (flock) is not reliable there. Put --dataset \
            on a local disk (/tmp, $SLURM_TMPDIR, a PersistentVolume) and copy it back when the sweep ends, or — when \
            only one host at a time opens the dataset (terrain status run on the coordinator's node) and flock is \
            coherent there (NFSv4, Lustre mounted with -o flock, GPFS) — pass --allow-network-filesystem (deploy/README.md)
            """)
    }
}
