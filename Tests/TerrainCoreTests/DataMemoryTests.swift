import Foundation
import TerrainCore
import XCTest

/// Image data stays in the file's pages: reading every sample adds file-backed pages (shared
/// with every other process mapping the file), not a float copy in the process's own memory.
final class DataMemoryTests: XCTestCase {
    /// (RssAnon, RssFile) of this process in bytes, from /proc/self/status.
    static func resident() throws -> (anonymous: Int, file: Int) {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            throw XCTSkip("no /proc/self/status (not Linux)")
        }
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) * 1024
        }
        return (field("RssAnon"), field("RssFile"))
    }

    func testReadingEveryImageMapsTheFileInsteadOfCopyingIt() throws {
        let dir = NSTemporaryDirectory() + "terrain-memory-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = 6000
        var rng = TerrainRNG(seed: 3)
        var bytes = [UInt8](repeating: 0, count: images * 3073)
        for i in 0..<images {
            bytes[i * 3073] = UInt8(i % 10)
            for k in stride(from: 1, to: 3073, by: 4) { bytes[i * 3073 + k] = UInt8(truncatingIfNeeded: rng.nextUInt32()) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/data_batch_1.bin"))
        bytes = []
        var spec = DataSpec(path: dir)
        spec.format = .cifar10
        spec.trainFiles = [dir + "/data_batch_1.bin"]
        spec.scale = 1.0 / 255
        spec.normalize = .init(mean: [0.5], std: [0.25])

        let before = try Self.resident()
        let (train, _) = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
        var checksum = 0.0
        var start = 0
        while start < train.count {
            let end = min(start + 512, train.count)
            checksum += Double(train.inputs(start..<end).storage.reduce(0, +))
            start = end
        }
        let after = try Self.resident()
        XCTAssertTrue(checksum.isFinite)
        let fileBytes = images * 3073, floatCopy = images * 3072 * 4
        // Every page of the file was read through the map...
        XCTAssertGreaterThan(after.file - before.file, fileBytes * 9 / 10, "RssFile grew by \(after.file - before.file) bytes")
        // ...and the process's own memory grew by far less than one float copy (73.7 MB here):
        // one 512-image batch (6.3 MB) and the labels.
        XCTAssertLessThan(after.anonymous - before.anonymous, floatCopy / 4, "RssAnon grew by \(after.anonymous - before.anonymous) bytes")
        withExtendedLifetime(train) {}
    }
}
