import Foundation

/// The memory this process may reasonably count on: the smaller of the machine's physical
/// memory and every cgroup memory limit above the process (a SLURM job's or a container's;
/// cgroup v2 `memory.max` or v1 `memory.limit_in_bytes`, found through `/proc/self/cgroup`).
/// Used to decide whether a computation may keep intermediate results instead of
/// recomputing them; such decisions never change results.
public enum MemoryBudget {
    /// Bytes available to the process (physical memory when no cgroup limit is readable).
    public static let bytes: UInt64 = {
        let membership = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        let limits = limitFiles(membership: membership).compactMap { path in
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap(parseLimit)
        }
        return ([ProcessInfo.processInfo.physicalMemory] + limits).min()!
    }()

    /// The files that may hold a memory limit for a process whose `/proc/self/cgroup` reads
    /// `membership`: its own cgroup's and every ancestor's, v2 (`0::/path`) and v1 (a line
    /// whose controllers include `memory`).
    public static func limitFiles(membership: String, root: String = "/sys/fs/cgroup") -> [String] {
        var files = [String]()
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            let controllers = fields[1].split(separator: ",")
            let (base, file): (String, String)
            if fields[0] == "0" && controllers.isEmpty {
                (base, file) = (root, "memory.max")
            } else if controllers.contains("memory") {
                (base, file) = (root + "/memory", "memory.limit_in_bytes")
            } else {
                continue
            }
            var parts = fields[2].split(separator: "/").map(String.init)
            while true {
                files.append(([base] + parts + [file]).joined(separator: "/"))
                if parts.isEmpty { break }
                parts.removeLast()
            }
        }
        return files
    }

    /// `"12345\n"` → 12345; `"max"`, empty or malformed text → nil.
    public static func parseLimit(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = UInt64(trimmed), value > 0 else { return nil }
        return value
    }
}
