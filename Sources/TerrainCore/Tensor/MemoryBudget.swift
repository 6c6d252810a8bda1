import Foundation

/// The memory this process may reasonably count on: the smaller of the machine's physical
/// memory and the cgroup limit it runs under (a SLURM job's or a container's `memory.max`,
/// cgroup v2, or `memory.limit_in_bytes`, v1). Used to decide whether a computation may keep
/// intermediate results instead of recomputing them; such decisions never change results.
public enum MemoryBudget {
    /// Bytes available to the process (physical memory when no cgroup limit is readable).
    public static let bytes: UInt64 = {
        var limit = ProcessInfo.processInfo.physicalMemory
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let cap = cgroupLimit(path) { limit = min(limit, cap) }
        }
        return limit
    }()

    /// The limit in a cgroup file: a decimal byte count, or nil for "max", a missing file or
    /// anything unparsable.
    static func cgroupLimit(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return parseLimit(text)
    }

    /// `"12345\n"` → 12345; `"max"`, empty or malformed text → nil.
    public static func parseLimit(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = UInt64(trimmed), value > 0 else { return nil }
        return value
    }
}
