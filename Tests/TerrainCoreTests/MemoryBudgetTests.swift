import Foundation
import TerrainCore
import XCTest

/// The memory budget that decides whether the Hessian engine keeps its base passes: the
/// smaller of physical memory and the cgroup limit, read defensively.
final class MemoryBudgetTests: XCTestCase {
    func testCgroupLimitsParseAsByteCountsAndEverythingElseAsNoLimit() {
        XCTAssertEqual(MemoryBudget.parseLimit("1073741824\n"), 1 << 30)
        XCTAssertEqual(MemoryBudget.parseLimit(" 4096 "), 4096)
        for text in ["max\n", "", "0", "-5", "12 GB", "18446744073709551616", "1e9"] {
            XCTAssertNil(MemoryBudget.parseLimit(text), "\(text.debugDescription) is no limit")
        }
    }

    /// A SLURM step under cgroup v2 and a container under v1: the process's own cgroup and
    /// every ancestor are candidates (a job's limit sits above its steps).
    func testLimitFilesFollowTheProcessesCgroupAndItsAncestors() {
        XCTAssertEqual(MemoryBudget.limitFiles(membership: "0::/system.slice/slurmstepd.scope/job_7/step_0\n"), [
            "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_7/step_0/memory.max",
            "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_7/memory.max",
            "/sys/fs/cgroup/system.slice/slurmstepd.scope/memory.max",
            "/sys/fs/cgroup/system.slice/memory.max",
            "/sys/fs/cgroup/memory.max",
        ])
        let v1 = "5:devices:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/x\n0::/\n"
        XCTAssertEqual(MemoryBudget.limitFiles(membership: v1), [
            "/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory.max",
        ])
        XCTAssertEqual(MemoryBudget.limitFiles(membership: "garbage\n1:memory:relative\n"), [])
    }

    func testTheBudgetIsPositiveAndNoMoreThanPhysicalMemory() {
        XCTAssertGreaterThan(MemoryBudget.bytes, 0)
        XCTAssertLessThanOrEqual(MemoryBudget.bytes, ProcessInfo.processInfo.physicalMemory)
    }
}
