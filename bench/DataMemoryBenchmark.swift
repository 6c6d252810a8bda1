// Memory of N worker processes holding the same image data set.
//
//   terrain-bench data-memory [N]   (default 8)
//
// Writes a CIFAR-10-sized set (five data_batch_N.bin files, 50,000 records of 3073 bytes,
// 153.7 MB) to a temporary directory, then starts N child processes (`terrain-bench
// data-hold DIR mapped`) that each load it with DataLoader and read every image once
// through `Dataset.inputs` in chunks of 512, as an evaluation pass does, and wait. For each
// child it reads /proc/PID/smaps_rollup: RSS counts every page the process touches (shared
// file pages included), PSS divides each shared page among the processes that map it, so the
// sum of PSS is what the N processes cost the node together. The same is measured for two
// children that hold one dense Float copy each (`Dataset.x`, what every worker held before
// image data was memory-mapped), and for one child that loads nothing (the runtime's own
// footprint).
import Foundation
import TerrainCore

/// Fields of /proc/PID/smaps_rollup, in bytes.
struct MemoryRollup {
    var rss = 0, pss = 0, pssAnon = 0, pssFile = 0, anonymous = 0

    init(pid: Int32) throws {
        let text = try String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8)
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kb = Int(parts[1]) else { continue }
            switch parts[0] {
            case "Rss:": rss = kb * 1024
            case "Pss:": pss = kb * 1024
            case "Pss_Anon:": pssAnon = kb * 1024
            case "Pss_File:": pssFile = kb * 1024
            case "Anonymous:": anonymous = kb * 1024
            default: break
            }
        }
    }
}

/// A child holding the data until its standard input closes.
final class DataHolder {
    let process = Process()
    private let input = Pipe(), output = Pipe()

    init(directory: String, mode: String) throws {
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["data-hold", directory, mode]
        process.standardInput = input
        process.standardOutput = output
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        try process.run()
    }

    /// Waits for the child's "ready" line.
    func ready() throws {
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("ready") else { throw BenchError.incomplete("data-hold child said: \(line)") }
    }

    func finish() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// The child side: load, read every image, report, wait for EOF on standard input.
func dataHold(directory: String, mode: String) throws {
    var checksum = 0.0
    var keep: [Tensor<Float>] = []
    if mode != "none" {
        var spec = DataSpec(path: directory)
        spec.format = .cifar10
        spec.testFiles = []
        spec.scale = 1.0 / 255
        spec.normalize = .init(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
        let (train, _) = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
        if mode == "copy" {
            keep.append(train.x)
            checksum = Double(keep[0].storage.reduce(0, +))
        } else {
            var start = 0
            while start < train.count {
                let end = min(start + 512, train.count)
                checksum += Double(train.inputs(start..<end).storage.reduce(0, +))
                start = end
            }
        }
        keep.append(Tensor(shape: [1], storage: [Float(train.count)]))
        withExtendedLifetime(train) {
            FileHandle.standardOutput.write(Data("ready \(checksum)\n".utf8))
            _ = FileHandle.standardInput.readDataToEndOfFile()
        }
    } else {
        FileHandle.standardOutput.write(Data("ready 0\n".utf8))
        _ = FileHandle.standardInput.readDataToEndOfFile()
    }
    withExtendedLifetime(keep) {}
}

/// Writes five CIFAR-10 batch files of 10,000 pseudo-random records each.
func writeCIFARSizedSet(_ directory: String) throws -> Int {
    var rng = TerrainRNG(seed: 9)
    var total = 0
    for k in 1...5 {
        var bytes = [UInt8](repeating: 0, count: 10_000 * 3073)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt32.self)
            for i in 0..<words.count { words[i] = rng.nextUInt32() }
        }
        for r in 0..<10_000 { bytes[r * 3073] = UInt8(r % 10) }
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/data_batch_\(k).bin"))
        total += bytes.count
    }
    return total
}

func dataMemoryBenchmark(processes: Int) throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bytes = try writeCIFARSizedSet(dir)
    let mb = { (b: Int) in String(format: "%.0f MB", Double(b) / 1e6) }
    print("data memory: a CIFAR-10-sized set (50,000 records, \(mb(bytes)) of uint8 files) read in full by each process")
    func measure(_ mode: String, _ count: Int) throws -> [MemoryRollup] {
        let holders = try (0..<count).map { _ in try DataHolder(directory: dir, mode: mode) }
        defer { for h in holders { h.finish() } }
        for h in holders { try h.ready() }
        return try holders.map { try MemoryRollup(pid: $0.process.processIdentifier) }
    }
    let empty = try measure("none", 1)[0]
    print("  runtime alone (no data):        RSS \(mb(empty.rss)), anonymous \(mb(empty.anonymous))")
    for n in Array(Set([1, processes])).sorted() {
        let r = try measure("mapped", n)
        let pss = r.reduce(0) { $0 + $1.pss }, pssFile = r.reduce(0) { $0 + $1.pssFile }
        let rss = r.map(\.rss).max()!, anon = r.map(\.anonymous).max()!
        let label = "memory-mapped, \(n) process\(n == 1 ? "" : "es"):".padding(toLength: 32, withPad: " ", startingAt: 0)
        print("  \(label)RSS \(mb(rss)) each (max), anonymous \(mb(anon)) each (max); PSS summed over the processes \(mb(pss)), of which file pages \(mb(pssFile))")
    }
    let copies = try measure("copy", 2)
    let anon = copies.map(\.anonymous).max()!
    print("  dense Float copy, 2 processes:  RSS \(mb(copies.map(\.rss).max()!)) each, anonymous \(mb(anon)) each; \(processes) such processes would hold \(mb(processes * anon))")
}
