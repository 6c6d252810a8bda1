import Foundation
import TerrainCore
import XCTest

/// The README's figures are checkable: the example MLP's accuracy is what `terrain train`
/// gives, and every timing or throughput figure names the CPU it was measured on (an Intel
/// AVX-512 machine measures differently from the AMD EPYC the figures come from).
final class ReadmeFiguresTests: XCTestCase {
    /// The CPU the README's timings were measured on.
    static let cpu = "AMD EPYC"

    private var readme: String {
        get throws { try String(contentsOf: TestSupport.root.appendingPathComponent("README.md"), encoding: .utf8) }
    }

    /// `make run`'s paragraph gives the example MLP's test accuracy to two decimals, as
    /// `terrain train` prints it; training `examples/train-mlp.yaml` here reaches exactly that.
    func testTheExampleMLPReachesTheAccuracyTheReadmeStates() throws {
        let text = try readme
        let claim = try XCTUnwrap(text.firstMatch(of: /trains the example MLP \(40-256-256-10; test accuracy (\d+\.\d\d) %/),
                                  "the README states the example MLP's test accuracy to two decimals")
        let stated = String(claim.1)
        let bin = try TestSupport.terrainBinary()
        let dir = NSTemporaryDirectory() + "terrain-readme-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try TestSupport.run(bin, ["train", TestSupport.root.appendingPathComponent("examples/train-mlp.yaml").path,
                                          "--output", dir + "/mlp.safetensors"], environment: ["OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(r.status, 0, r.error)
        let final = try XCTUnwrap(r.output.split(separator: "\n").last { $0.hasPrefix("final:") }, r.output)
        XCTAssertTrue(final.contains("test accuracy \(stated)%"), "README: \(stated) %; terrain train: \(final)")
        // The figures of builds that used OpenBLAS's per-CPU kernels say which kernel.
        XCTAssertNotNil(text.firstMatch(of: /67\.80 % with its Haswell kernel \(AMD EPYC\) and\s+67\.50 % with SkylakeX \(Intel AVX-512\)/), "the per-kernel figures")
    }

    /// Every line with a duration or a rate names the CPU, or sits in a table whose header
    /// names it; the Performance section's tables all do.
    func testEveryTimingFigureNamesTheCPUItWasMeasuredOn() throws {
        let lines = try readme.components(separatedBy: "\n")
        let figure = /(?:≈|~|\b)\d[\d.,]*k?\s?(?:ms|s|GFLOP\/s|samples\/s|points\/s|HVP\/s|results\/s)\b|half a minute|durable results\/s/
        var tableHeader: String?, paragraph = [String](), checked = 0
        var problems = [String]()
        for (n, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("|") {
                if tableHeader == nil { tableHeader = trimmed }
            } else {
                tableHeader = nil
            }
            if trimmed.isEmpty || trimmed.hasPrefix("```") { paragraph = [] }
            if !trimmed.isEmpty && tableHeader == nil { paragraph.append(trimmed) }
            guard trimmed.contains(figure) else { continue }
            checked += 1
            // Code lines name it in their comment; prose within its paragraph (up to the figure).
            let context = tableHeader ?? (trimmed.hasPrefix("$") || trimmed.hasPrefix(".build") || trimmed.hasPrefix("make")
                                          ? trimmed : paragraph.joined(separator: " "))
            if !context.contains(Self.cpu) { problems.append("README.md:\(n + 1): \(trimmed)") }
        }
        XCTAssertGreaterThanOrEqual(checked, 12, "the README's timing figures were found")
        XCTAssertEqual(problems, [], "figures without their CPU (\(Self.cpu))")
    }
}
