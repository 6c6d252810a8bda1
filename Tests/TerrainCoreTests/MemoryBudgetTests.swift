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

    func testTheBudgetIsPositiveAndNoMoreThanPhysicalMemory() {
        XCTAssertGreaterThan(MemoryBudget.bytes, 0)
        XCTAssertLessThanOrEqual(MemoryBudget.bytes, ProcessInfo.processInfo.physicalMemory)
    }
}
