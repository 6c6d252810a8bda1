// terrain-bench eval-memory: peak memory of `terrain evaluate` (ResNet-20, CIFAR-shaped
// uint8 images memory-mapped) on 2,560 and 25,600 test images, beside PyTorch's for the same
// work when torch is installed. Resident memory is split into anonymous (the process's own)
// and file-backed (mapped data pages: page cache, shared by every worker of a node).
import Foundation
import TerrainCore

/// Peak VmRSS, RssAnon and RssFile (MB) of a child process, polled every 5 ms.
func peakMemory(_ executable: String, _ arguments: [String]) throws -> (rss: Double, anon: Double, file: Double, status: Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    var peak = (rss: 0.0, anon: 0.0, file: 0.0)
    while p.isRunning {
        if let text = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
                guard parts.count >= 2, let kb = Double(parts[1]) else { continue }
                switch parts[0] {
                case "VmRSS": peak.rss = max(peak.rss, kb / 1024)
                case "RssAnon": peak.anon = max(peak.anon, kb / 1024)
                case "RssFile": peak.file = max(peak.file, kb / 1024)
                default: break
                }
            }
        }
        usleep(5000)
    }
    p.waitUntilExit()
    return (peak.rss, peak.anon, peak.file, p.terminationStatus)
}

func evalMemoryBenchmark() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let terrain = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("terrain").path
    let spec = ModelSpec(kind: .resnet, channels: [16, 32, 64], inputShape: [3, 32, 32], blocksPerStage: 3)
    let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 0)
    try Checkpoint.save(model: model, step: 0, to: dir + "/resnet20.safetensors")
    print("\nPeak memory of evaluating ResNet-20 (one process, \(cpuName)); MB")
    print("  images   terrain evaluate: resident (own + mapped data)   PyTorch script: resident")
    for count in [2560, 25600] {
        let train = ShapesDataset.generate(count: 128, seed: 7, part: "train")
        let test = ShapesDataset.generate(count: count, seed: 7, part: "test")
        let data = dir + "/shapes-\(count).npz"
        try Data(ShapesDataset.npz(train: train, test: test)).write(to: URL(fileURLWithPath: data))
        try """
        name: memory
        model: {kind: resnet, channels: [16, 32, 64], blocks_per_stage: 3, input_shape: [3, 32, 32]}
        data: {path: \(data), scale: 0.00392156862745098, normalize: {mean: [0.5, 0.5, 0.5], std: [0.29, 0.29, 0.29]}}
        optimizer: {name: sgd, lr: 0.01}
        training: {batch_size: 64, epochs: 1}
        """.write(toFile: dir + "/spec.yaml", atomically: true, encoding: .utf8)
        let ours = try peakMemory(terrain, ["evaluate", dir + "/spec.yaml", dir + "/resnet20.safetensors"])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pytorch_reference.py").path
        let theirs = try peakMemory("/usr/bin/env", ["python3", script, "--workload", "eval-memory", "--data", data])
        print(String(format: "  %6d   %8.0f (%4.0f + %4.0f)%@", count, ours.rss, ours.anon, ours.file, ours.status == 0 ? "" : " FAILED")
              + (theirs.status == 0 ? String(format: "                       %8.0f", theirs.rss) : "                       (needs torch)"))
    }
}
