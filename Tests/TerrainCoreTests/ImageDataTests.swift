import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// Image data: CIFAR binary files and 4-D NPZ arrays, read into memory-mapped stores and
/// normalized per batch, with every file hostile until checked.
final class ImageDataTests: XCTestCase {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "terrain-images-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The pixel byte of element `e` (CIFAR record order: c·1024 + h·32 + w) of image `n`.
    static func pixel(_ n: Int, _ e: Int) -> UInt8 { UInt8((n * 31 + e * 7 + e / 1024) % 256) }

    /// Writes a CIFAR batch file of images `range` with the given label bytes.
    static func writeCIFAR(_ path: String, _ range: Range<Int>, labels: (Int) -> [UInt8]) throws {
        let pixels = range.flatMap { n in (0..<3072).map { pixel(n, $0) } }
        try Data(CIFAR.encode(pixels: pixels, labels: range.map(labels))).write(to: URL(fileURLWithPath: path))
    }

    static func load(_ yaml: String, cacheDirectory: String? = nil) throws -> (train: Dataset<Float>, test: Dataset<Float>?) {
        let spec = try YAMLish.dataSpec(yaml)
        return try DataLoader.load(spec, baseDirectory: "/", seed: 0, cacheDirectory: cacheDirectory, as: Float.self)
    }

    func testCIFAR10BatchFilesAreMappedAndNormalizedPerChannel() throws {
        let dir = try tempDir()
        try Self.writeCIFAR(dir + "/a.bin", 0..<3) { [UInt8($0 % 10)] }
        try Self.writeCIFAR(dir + "/b.bin", 3..<5) { [UInt8(9 - $0)] }
        try Self.writeCIFAR(dir + "/t.bin", 5..<7) { [UInt8($0)] }
        let mean = [0.49, 0.48, 0.45], std = [0.25, 0.24, 0.26]
        var spec = DataSpec(path: dir)
        spec.format = .cifar10
        spec.trainFiles = [dir + "/a.bin", dir + "/b.bin"]
        spec.testFiles = [dir + "/t.bin"]
        spec.scale = 1.0 / 255
        spec.normalize = .init(mean: mean, std: std)
        let (train, test) = try DataLoader.load(spec, baseDirectory: "/", seed: 0, as: Float.self)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(train.sampleShape, [3, 32, 32])
        XCTAssertEqual(train.y, .classes([0, 1, 2, 6, 5]))
        XCTAssertEqual(test?.y, .classes([5, 6]))
        XCTAssertEqual(train.classes, 10)
        let store = try XCTUnwrap(train.imageStore)
        XCTAssertTrue(store.isMapped)
        XCTAssertEqual(store.element, .uint8)
        // Element (c, h, w) of image n is (pixel/255 − mean[c]) / std[c], rounded once to Float.
        let x = train.inputs(3..<5)
        XCTAssertEqual(x.shape, [2, 3, 32, 32])
        for k in 0..<2 {
            for e in stride(from: 0, to: 3072, by: 97) {
                let c = e / 1024
                let expected = Float((Double(Self.pixel(3 + k, e)) * (1.0 / 255) - mean[c]) / std[c])
                XCTAssertEqual(x.storage[k * 3072 + e], expected)
            }
        }
        // Any batch is the same values as the whole tensor's rows.
        XCTAssertEqual(train.batch([4, 0]).x.storage, Array(train.x.storage[(4 * 3072)..<(5 * 3072)] + train.x.storage[0..<3072]))
    }

    func testCIFAR100ReadsFineOrCoarseLabelsAndTheStandardFileNames() throws {
        let dir = try tempDir()
        try Self.writeCIFAR(dir + "/train.bin", 0..<4) { [UInt8($0 + 16), UInt8(90 + $0)] }
        try Self.writeCIFAR(dir + "/test.bin", 4..<5) { _ in [3, 42] }
        let fine = try Self.load("format: cifar100\npath: \(dir)")
        XCTAssertEqual(fine.train.y, .classes([90, 91, 92, 93]))
        XCTAssertEqual(fine.test?.y, .classes([42]))
        XCTAssertEqual(fine.train.classes, 100, "the format's classes, not the largest label + 1")
        let coarse = try Self.load("format: cifar100\npath: \(dir)\nlabel: coarse")
        XCTAssertEqual(coarse.train.y, .classes([16, 17, 18, 19]))
        XCTAssertEqual(coarse.train.classes, 20)
        // The pixels follow the two label bytes.
        XCTAssertEqual(fine.train.inputs(1..<2).storage[5], Float(Self.pixel(1, 5)))
        // CIFAR-10's standard names in a directory.
        for k in 1...5 { try Self.writeCIFAR(dir + "/data_batch_\(k).bin", (k * 2)..<(k * 2 + 2)) { [UInt8($0 % 10)] } }
        try Self.writeCIFAR(dir + "/test_batch.bin", 0..<3) { _ in [1] }
        var ten = DataSpec(path: dir)
        ten.format = .cifar10
        XCTAssertEqual(ten.files.map(\.field), (0..<5).map { "data.path[\($0)]" } + ["data.path[0]"])
        let (train, test) = try DataLoader.load(ten, baseDirectory: "/", seed: 0, as: Float.self)
        XCTAssertEqual(train.count, 10)
        XCTAssertEqual(test?.count, 3)
    }

    func testHostileCIFARFilesAreRefusedNamingFileAndRecord() throws {
        let dir = try tempDir()
        try Self.writeCIFAR(dir + "/ok.bin", 0..<2) { [UInt8($0)] }
        var truncated = try Data(contentsOf: URL(fileURLWithPath: dir + "/ok.bin"))
        truncated.removeLast(100)
        try truncated.write(to: URL(fileURLWithPath: dir + "/truncated.bin"))
        try Self.writeCIFAR(dir + "/badlabel.bin", 0..<3) { [$0 == 2 ? 10 : 0] }
        try Self.writeCIFAR(dir + "/hundred.bin", 0..<3) { _ in [1, 2] }
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.bin"))
        func error(_ yaml: String) -> String {
            do { _ = try Self.load(yaml); return "no error" } catch { return "\(error)" }
        }
        let t = error("format: cifar10\ntrain_files: [\(dir)/ok.bin, \(dir)/truncated.bin]")
        XCTAssertTrue(t.contains("truncated.bin") && t.contains("3073-byte"), t)
        let l = error("format: cifar10\ntrain_files: [\(dir)/badlabel.bin]")
        XCTAssertTrue(l.contains("badlabel.bin: record 2 has label 10"), l)
        let h = error("format: cifar10\ntrain_files: [\(dir)/hundred.bin]")
        XCTAssertTrue(h.contains("hundred.bin") && h.contains("cifar100"), h)
        let fine = error("format: cifar100\ntrain_files: [\(dir)/ok.bin]")  // 2×3073 bytes: not 3074-byte records
        XCTAssertTrue(fine.contains("3074-byte"), fine)
        let e = error("format: cifar10\ntrain_files: [\(dir)/empty.bin]")
        XCTAssertTrue(e.contains("empty.bin: empty file"), e)
        let m = error("format: cifar10\ntrain_files: [\(dir)/missing.bin]")
        XCTAssertTrue(m.contains("missing.bin: cannot read the file"), m)
        XCTAssertTrue(error("format: cifar10\npath: \(dir)\nlabel: coarse").contains("data.label is for format cifar100"))
        XCTAssertTrue(error("format: cifar10").contains("data.path"))
        XCTAssertTrue(error("path: \(dir)/x.npz\ntrain_files: [a.bin]").contains("train_files"))
    }

    /// The NPZ fixture written by numpy's savez_compressed (see make_data_fixtures.py).
    static func fixtureImage(_ n: Int, c: Int, h: Int, w: Int, test: Bool) -> Double {
        let i = ((n * 5 + h) * 4 + w) * 3 + c
        return Double(test ? (i * 11 + 5) % 256 : (i * 7 + 3) % 256)
    }

    func testCompressedNPZImagesAreDecompressedOnceIntoAContentAddressedCache() throws {
        let cache = try tempDir() + "/cache"
        let path = TestSupport.fixture("data/images_compressed.npz")
        let yaml = "path: \(path)\nscale: 0.5\nnormalize: {mean: [1, 2, 3], std: [2]}"
        let (train, test) = try Self.load(yaml, cacheDirectory: cache)
        XCTAssertEqual(train.sampleShape, [3, 5, 4])  // NHWC inferred: the last axis has 3 entries
        XCTAssertEqual(test?.count, 2)
        XCTAssertEqual(train.y, .classes([0, 1, 2, 0, 1, 2]))
        let x = train.x, xs = test!.x
        for n in 0..<6 { for c in 0..<3 { for h in 0..<5 { for w in 0..<4 {
            let expected = Float((Self.fixtureImage(n, c: c, h: h, w: w, test: false) * 0.5 - Double(c + 1)) / 2)
            XCTAssertEqual(x.storage[((n * 3 + c) * 5 + h) * 4 + w], expected)
        } } } }
        XCTAssertEqual(xs.storage[((1 * 3 + 2) * 5 + 4) * 4 + 3], Float((Self.fixtureImage(1, c: 2, h: 4, w: 3, test: true) * 0.5 - 3) / 2))
        // One cache file per image array, named by the archive's SHA-256, mapped from there.
        let digest = SHA256.hex(SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))))
        let files = try FileManager.default.contentsOfDirectory(atPath: cache).sorted()
        XCTAssertEqual(files, ["\(digest)-x_test.npy", "\(digest)-x_train.npy"])
        XCTAssertTrue(train.imageStore!.isMapped)
        // A second load reads the cache (its bytes are not rewritten) and gives the same values.
        let before = try FileManager.default.attributesOfItem(atPath: cache + "/" + files[1])[.modificationDate] as? Date
        usleep(20_000)
        XCTAssertEqual(try Self.load(yaml, cacheDirectory: cache).train.x, x)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: cache + "/" + files[1])[.modificationDate] as? Date, before)
        // A damaged cache file is never trusted: it is replaced.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: cache + "/" + files[1]))
        XCTAssertEqual(try Self.load(yaml, cacheDirectory: cache).train.x, x)
        // Concurrent loads (workers starting together) all succeed with the same values.
        try FileManager.default.removeItem(atPath: cache)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [Tensor<Float>?] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let v = try? Self.load(yaml, cacheDirectory: cache).train.x
            results.lock.lock()
            results.values.append(v)
            results.lock.unlock()
        }
        XCTAssertEqual(results.values, [Tensor<Float>?](repeating: x, count: 4))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache).count, 2, "no temporary files left")
    }

    func testNPZLayoutsAndDtypesGiveTheSameInputs() throws {
        let path = TestSupport.fixture("data/images_compressed.npz")
        let cache = try tempDir()
        let nhwc = try Self.load("path: \(path)", cacheDirectory: cache)
        let nchw = try Self.load("path: \(path)\nx_train_key: xf_train\nx_test_key: xf_test\nlayout: nchw", cacheDirectory: cache)
        XCTAssertEqual(nchw.train.imageStore?.element, .float32)
        XCTAssertEqual(nhwc.train.x, nchw.train.x)
        XCTAssertEqual(nhwc.test?.x, nchw.test?.x)
        // Stored (np.savez-style) archives are used in place, in every layout and dtype.
        let dir = try tempDir()
        let u8: [UInt8] = (0..<72).map { (i: Int) -> UInt8 in UInt8((i * 13) % 256) }
        let f32 = u8.map { Float($0) }
        let labels = NPY.encode(int64s: [0, 1, 1, 0], shape: [4])
        let f64 = NPY.encode(doubles: u8.map { Double($0) }, shape: [4, 2, 3, 3])
        let members: [(name: String, npy: [UInt8])] = [
            ("x_train", NPY.encode(uint8s: u8, shape: [4, 2, 3, 3])), ("y_train", labels),
            ("xf", NPY.encode(floats: f32, shape: [4, 2, 3, 3])), ("xd", f64),
        ]
        try Data(NPZ.write(members)).write(to: URL(fileURLWithPath: dir + "/s.npz"))
        let a = try Self.load("path: \(dir)/s.npz\nlayout: nhwc")
        let b = try Self.load("path: \(dir)/s.npz\nlayout: nhwc\nx_train_key: xf")
        let d = try Self.load("path: \(dir)/s.npz\nlayout: nhwc\nx_train_key: xd")
        XCTAssertEqual(a.train.sampleShape, [3, 2, 3])
        XCTAssertEqual([a.train.imageStore?.element, b.train.imageStore?.element, d.train.imageStore?.element], [.uint8, .float32, .float64])
        XCTAssertTrue(a.train.imageStore!.isMapped && b.train.imageStore!.isMapped && d.train.imageStore!.isMapped)
        XCTAssertEqual(a.train.x, b.train.x)
        XCTAssertEqual(a.train.x, d.train.x)
        XCTAssertEqual(a.train.x.storage[1], Float(u8[3]))  // (n 0, c 0, h 0, w 1) is NHWC element 3
        let asNCHW = try Self.load("path: \(dir)/s.npz\nlayout: nchw")
        XCTAssertEqual(asNCHW.train.sampleShape, [2, 3, 3])
        XCTAssertEqual(asNCHW.train.x.storage, u8.map { Float($0) })
    }

    func testHostileNPZImageArraysAreRefused() throws {
        let dir = try tempDir()
        func write(_ name: String, _ arrays: [(name: String, npy: [UInt8])]) throws -> String {
            try Data(NPZ.write(arrays)).write(to: URL(fileURLWithPath: dir + "/" + name))
            return dir + "/" + name
        }
        func error(_ yaml: String) -> String {
            do { _ = try Self.load(yaml, cacheDirectory: dir + "/cache"); return "no error" } catch { return "\(error)" }
        }
        let px = [UInt8](repeating: 7, count: 2 * 3 * 3 * 3)
        let ambiguous = try write("amb.npz", [("x_train", NPY.encode(uint8s: px, shape: [2, 3, 3, 3])),
                                              ("y_train", NPY.encode(int64s: [0, 1], shape: [2]))])
        XCTAssertTrue(error("path: \(ambiguous)").contains("set data.layout"), error("path: \(ambiguous)"))
        XCTAssertEqual(error("path: \(ambiguous)\nlayout: nchw"), "no error")
        let counts = try write("counts.npz", [("x_train", NPY.encode(uint8s: px, shape: [2, 3, 3, 3])),
                                              ("y_train", NPY.encode(int64s: [0, 1, 1], shape: [3]))])
        XCTAssertTrue(error("path: \(counts)\nlayout: nchw").contains("training inputs have shape [2, 3, 3, 3] but targets [3]"))
        let negative = try write("neg.npz", [("x_train", NPY.encode(uint8s: px, shape: [2, 3, 3, 3])),
                                             ("y_train", NPY.encode(int64s: [0, -4], shape: [2]))])
        XCTAssertTrue(error("path: \(negative)\nlayout: nchw").contains("label -4.0 is not a non-negative integer"))
        // A stored member whose data is shorter than its header says.
        var npy = NPY.encode(uint8s: px, shape: [2, 3, 3, 3])
        npy.removeLast(5)
        let short = try write("short.npz", [("x_train", npy), ("y_train", NPY.encode(int64s: [0, 1], shape: [2]))])
        XCTAssertTrue(error("path: \(short)\nlayout: nchw").contains("need 54 bytes, found 49"), error("path: \(short)\nlayout: nchw"))
        // Dimensions whose product overflows (with no element, so the file is small).
        let huge = try write("huge.npz", [("x_train", NPY.encode(uint8s: [], shape: [0, 1 << 40, 1 << 40, 3])),
                                          ("y_train", NPY.encode(int64s: [], shape: [0]))])
        XCTAssertTrue(error("path: \(huge)").contains("is too large"), error("path: \(huge)"))
        // A FIFO named as the data file is refused, not waited on.
        XCTAssertEqual(mkfifo(dir + "/fifo.npz", 0o600), 0)
        XCTAssertTrue(error("path: \(dir)/fifo.npz").contains("not a regular file"), error("path: \(dir)/fifo.npz"))
        // A flipped byte in the mapped member fails its CRC-32.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: ambiguous))
        bytes[100] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: dir + "/crc.npz"))
        XCTAssertTrue(error("path: \(dir)/crc.npz\nlayout: nchw").contains("CRC-32 mismatch"))
        // Normalization must match the channels; normalize and augment need images.
        XCTAssertTrue(error("path: \(ambiguous)\nlayout: nchw\nnormalize: {mean: [1, 2]}").contains("has 2 values but the images have 3 channels"))
        XCTAssertTrue(error("path: \(ambiguous)\nlayout: nchw\nnormalize: {std: [1, 0, 1]}").contains("std must be positive"))
        let mnist = TestSupport.dataPath("mnist1d.npz")
        XCTAssertTrue(error("path: \(mnist)\naugment: {flip: true}").contains("need image data"))
        XCTAssertTrue(error("path: \(mnist)\nlayout: nchw").contains("need image data"))
        XCTAssertTrue(error("path: \(ambiguous)\nlayout: nchw\naugment: {crop: 100}").contains("data.augment.crop"))
    }

    func testSubsetsHoldOutsAndSplitsOfImagesAreIndexListsIntoOneStore() throws {
        let dir = try tempDir()
        try Self.writeCIFAR(dir + "/a.bin", 0..<40) { [UInt8($0 % 10)] }
        let full = try Self.load("format: cifar10\ntrain_files: [\(dir)/a.bin]").train
        let all = full.x
        func rows(_ d: Dataset<Float>, _ source: [Int]) {
            XCTAssertTrue(d.imageStore === full.imageStore, "no copy of the pixels")
            XCTAssertEqual(d.x.storage, source.flatMap { all.storage[($0 * 3072)..<(($0 + 1) * 3072)] })
        }
        let sub = full.subset(10, seed: 3)
        var rng = TerrainRNG(seed: TerrainRNG.derive(3, "subset"))
        let chosen = rng.permutation(40).prefix(10).sorted()
        rows(sub, chosen)
        XCTAssertEqual(sub.y, .classes(chosen.map { $0 % 10 }))
        let (rest, held) = sub.holdOut(3, seed: 5)
        let restRows = try XCTUnwrap(rest.imageRows), heldRows = try XCTUnwrap(held.imageRows)
        XCTAssertEqual(heldRows.count, 3)
        XCTAssertEqual((restRows + heldRows).sorted(), chosen)
        rows(rest, restRows)
        rows(held, heldRows)
        let (train, test) = full.split(testFraction: 0.25, seed: 1)
        XCTAssertEqual(test.count, 10)
        XCTAssertTrue(train.imageStore === full.imageStore && test.imageStore === full.imageStore)
        XCTAssertEqual(full.prefix(4).x.storage, Array(all.storage[0..<(4 * 3072)]))
        // The same samples in Double share the store too.
        let d = sub.converted(to: Double.self)
        XCTAssertTrue(d.imageStore === full.imageStore)
        XCTAssertEqual(d.x.storage.map { Float($0) }, sub.x.storage)
    }

}

/// Parses a `data:` mapping written as YAML-like `key: value` lines through the spec reader.
enum YAMLish {
    static func dataSpec(_ text: String) throws -> DataSpec {
        let indented = text.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        let spec = "model: {kind: mlp}\ndata:\n\(indented)\noptimizer: {name: sgd, lr: 0.1}\ntraining: {batch_size: 1, epochs: 1}\n"
        return try TrainSpec.parse(spec).data
    }
}
