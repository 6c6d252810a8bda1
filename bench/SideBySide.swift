// Terrain and PyTorch measured side by side: alternating rounds in one run, medians, ratios.
// PyTorch's figures come from bench/pytorch_reference.py (same workloads); when python3 or
// torch is missing the tables show Terrain's figures alone and say so.
import Foundation

/// The CPU this run measures (Linux: /proc/cpuinfo's model name), for every printed figure.
let cpuName: String = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
          let colon = line.firstIndex(of: ":") else { return "unknown CPU" }
    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
}()

/// Runs the PyTorch reference for `workload`; nil when python3/torch are unavailable.
func pytorchFigures(_ workload: String) -> [String: Double]? {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pytorch_reference.py").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", script, "--workload", workload, "--json"]
    p.environment = ProcessInfo.processInfo.environment.merging(["OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"]) { $1 }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
    return object.compactMapValues { $0 as? Double }
}

/// One row of a side-by-side table: Terrain's figure and the PyTorch key it compares to.
struct Figure {
    var label: String, unit: String, pytorchKey: String?
    var higherIsBetter = true
}

/// Alternates `rounds` measurements of Terrain (`terrain` returns one value per figure) and
/// of the PyTorch reference, then prints medians and ratios.
func sideBySide(_ title: String, figures: [Figure], workload: String, rounds: Int = 3,
                terrain: () throws -> [Double]) rethrows {
    var ours = [[Double]](repeating: [], count: figures.count)
    var theirs = [String: [Double]]()
    var torchAvailable = true
    for _ in 0..<rounds {
        for (i, v) in try terrain().enumerated() { ours[i].append(v) }
        if torchAvailable, let f = pytorchFigures(workload) {
            for (k, v) in f { theirs[k, default: []].append(v) }
        } else {
            torchAvailable = false
        }
    }
    func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? .nan : s[s.count / 2] }
    print("\n\(title) — \(cpuName), one thread, medians of \(rounds) alternating rounds")
    print("  " + "figure".padding(toLength: 52, withPad: " ", startingAt: 0) + "   Terrain    PyTorch    ratio")
    for (i, f) in figures.enumerated() {
        let t = median(ours[i])
        let p = f.pytorchKey.flatMap { theirs[$0] }.map(median)
        let ratio = p.map { f.higherIsBetter ? t / $0 : $0 / t }
        print("  " + "\(f.label) (\(f.unit))".padding(toLength: 52, withPad: " ", startingAt: 0)
              + String(format: " %9.2f", t) + (p.map { String(format: " %10.2f", $0) } ?? "          –")
              + (ratio.map { String(format: "   %5.2f×", $0) } ?? ""))
    }
    if !torchAvailable { print("  (PyTorch figures need python3 with torch: pip install torch; the ratio column is then filled)") }
}
