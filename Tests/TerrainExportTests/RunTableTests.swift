import Foundation
import TerrainCore
import TerrainExport
import XCTest

/// Run tables (the `runs` and `curve_points` of lottery and training sweeps) as CSV and NPZ.
final class RunTableTests: XCTestCase {
    let table = RunTable(columns: [
        ("task", .integers([1, 2, 3])),
        ("branch", .texts(["main", nil, "random, \"odd\""])),
        ("level", .integers([0, nil, 2])),
        ("test_acc", .reals([0.5, nil, .infinity])),
    ])

    func testCSVLeavesMissingValuesEmptyAndQuotesText() throws {
        XCTAssertEqual(try table.csv(), """
            task,branch,level,test_acc
            1,main,0,0.5
            2,,,
            3,"random, ""odd\""",2,inf

            """)
    }

    func testColumnsOfDifferentLengthsAreRefused() {
        let bad = RunTable(columns: [("a", .integers([1])), ("b", .reals([1, 2]))])
        XCTAssertThrowsError(try bad.csv()) { XCTAssertTrue("\($0)".contains("b"), "\($0)") }
    }

    func testNPZMembersAreInt64Float64AndFixedWidthUnicode() throws {
        let members = Dictionary(uniqueKeysWithValues: try table.npyMembers(prefix: "runs.").map { ($0.name, $0.npy) })
        XCTAssertEqual(Set(members.keys), ["runs.task", "runs.branch", "runs.level", "runs.test_acc"])
        XCTAssertEqual(try NPY.parse(members["runs.task"]!, source: "task").asInts(), [1, 2, 3])
        let level = try NPY.parse(members["runs.level"]!, source: "level")
        XCTAssertEqual(level.dtype, "<f8", "an integer column with a missing value becomes float64 with NaN")
        XCTAssertEqual(try level.asDoubles()[0], 0)
        XCTAssertTrue(try level.asDoubles()[1].isNaN)
        XCTAssertEqual(try NPY.parse(members["runs.test_acc"]!, source: "acc").asDoubles()[2], .infinity)
        // Text: numpy's '<U13' (the longest value has 13 characters), UTF-32LE, NUL-padded.
        let branch = members["runs.branch"]!
        let header = String(decoding: branch.prefix(128), as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<U13'") && header.contains("'shape': (3,)"), header)
        let body = Array(branch.suffix(3 * 13 * 4))
        let first = (0..<4).map { i in UInt8(body[i * 4]) }
        XCTAssertEqual(String(decoding: first, as: UTF8.self), "main")
        XCTAssertEqual(Array(body[16..<20]), [0, 0, 0, 0])
    }

    func testNumpyReadsTextColumnsWithoutPickles() throws {
        try Python.requireNumpyAndH5py()
        let path = NSTemporaryDirectory() + "run-table-\(getpid()).npz"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(try RunTable.npz([("runs", table)], attributes: [:])).write(to: URL(fileURLWithPath: path))
        let out = try Python.run("""
            import json, sys, numpy as np
            d = np.load(sys.argv[1])
            b = d["runs.branch"]
            print(json.dumps({"branch": [str(x) for x in b], "dtype": str(b.dtype), "task": d["runs.task"].tolist()}))
            """, arguments: [path])
        XCTAssertEqual(out["branch"] as? [String], ["main", "", "random, \"odd\""])
        XCTAssertEqual(out["dtype"] as? String, "<U13")
        XCTAssertEqual(out["task"] as? [Int], [1, 2, 3])
    }
}
