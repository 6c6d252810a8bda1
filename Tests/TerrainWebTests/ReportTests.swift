import Foundation
import TerrainDataset
import TerrainTestSupport
import XCTest

/// `terrain report` on a finished sweep of every kind: one file, nothing fetched from
/// elsewhere, its figures inline, its numbers those of the dataset.
final class ReportTests: XCTestCase {
    private func report(_ kind: String) throws -> (html: String, path: String, dataset: String) {
        let dataset = try WebTestSupport.dataset(kind)
        let out = try WebTestSupport.directory("reports") + "/\(kind).html"
        let r = try WebTestSupport.run([try WebTestSupport.terrain, "report", dataset, "--output", out])
        XCTAssertEqual(r.status, 0, r.output)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        print("report of the tiny \(kind) sweep: \(html.utf8.count) bytes (\(out))")
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for external in ["src=\"http", "href=\"http", "url(http", "@import", "<link rel=\"stylesheet\""] {
            XCTAssertFalse(html.contains(external), "\(kind): the report fetches nothing (\(external))")
        }
        for section in ["Provenance", "Terrain version", "Terrain commit", "determinism checks", "retries", "Spec", "Tasks by status"] {
            XCTAssertTrue(html.contains(section), "\(kind): \(section)")
        }
        XCTAssertTrue(html.contains(WebTestSupport.specs[kind]!.split(separator: "\n")[0].replacingOccurrences(of: "name: ", with: "")), "the spec's name")
        let ds = try SweepDataset(path: dataset, readOnly: true)
        XCTAssertTrue(html.contains("<td>results committed</td><td>\(try ds.resultRows().count)</td>"), "\(kind): results committed as the dataset holds")
        XCTAssertNotNil(try ds.meta("terrain_version"), "the coordinator recorded its version")
        return (html, out, dataset)
    }

    func testAProbeReportListsItsFailedTasks() throws {
        let (html, _, dataset) = try report("probe")
        let failed = try SweepDataset(path: dataset, readOnly: true).failedTasks()
        XCTAssertTrue(html.contains("Failed tasks"))
        for f in failed { XCTAssertTrue(html.contains("<tr><td>\(f.task)</td><td>probe</td>"), "task \(f.task) listed") }
    }

    func testASurfaceReportHasItsHeatmapAnd3DView() throws {
        let (html, _, _) = try report("surface")
        XCTAssertGreaterThanOrEqual(html.components(separatedBy: "<svg").count - 1, 2, "linear and log heatmaps inline")
        XCTAssertTrue(html.contains("terrainSurface3D(") && html.contains("<canvas id=\"gl\""), "the 3-D view")
        XCTAssertTrue(html.contains("11 × 11 grid"), "the grid's size")
        XCTAssertTrue(html.contains("121 / 121"), "every point done")
    }

    func testLotteryAndTrainingReportsListTheirRuns() throws {
        for kind in ["lottery", "training"] {
            let (html, _, dataset) = try report(kind)
            let runs = try SweepDataset(path: dataset, readOnly: true).runs()
            XCTAssertFalse(runs.isEmpty)
            XCTAssertTrue(html.contains("Runs (\(runs.count))"), kind)
            XCTAssertGreaterThanOrEqual(html.components(separatedBy: "<svg").count - 1, 2, "\(kind): figures inline")
            for r in runs { XCTAssertTrue(html.contains("<tr><td>\(r.task)</td><td>\(r.kind)</td>"), "\(kind): run \(r.task)") }
        }
    }

    func testAReportOfSomethingElseFailsClearly() throws {
        let dir = try WebTestSupport.directory("report-refusal")
        try "not a database".write(toFile: dir + "/x.sqlite", atomically: true, encoding: .utf8)
        let r = try WebTestSupport.run([try WebTestSupport.terrain, "report", dir + "/x.sqlite", "--output", dir + "/x.html"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("x.sqlite"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.html"))
    }
}
