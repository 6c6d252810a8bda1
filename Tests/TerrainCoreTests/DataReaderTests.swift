import Foundation
import TerrainCore
import XCTest

/// Fixtures come from Fixtures/make_data_fixtures.py (numpy); the real data sets live in
/// data/ at the package root.
private let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
private let fixturesDir = testsDir.appendingPathComponent("Fixtures/data")
private let packageRoot = testsDir.deletingLastPathComponent().deletingLastPathComponent()

private func fixturePath(_ name: String) -> String { fixturesDir.appendingPathComponent(name).path }

private func fixtureBytes(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
    let p = fixturePath(name)
    guard let d = FileManager.default.contents(atPath: p) else {
        XCTFail("missing fixture \(p); run Fixtures/make_data_fixtures.py", file: file, line: line)
        throw TerrainError.invalidData("missing fixture \(p)")
    }
    return [UInt8](d)
}

/// Asserts that `body` throws `TerrainError.invalidData` whose message contains every
/// string in `parts`.
private func assertInvalidData<T>(_ parts: [String], file: StaticString = #filePath, line: UInt = #line,
                                  _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an invalidData error containing \(parts)", file: file, line: line)
    } catch TerrainError.invalidData(let message) {
        for p in parts where !message.contains(p) {
            XCTFail("error message \"\(message)\" does not contain \"\(p)\"", file: file, line: line)
        }
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

/// Writes bits least-significant first, as DEFLATE packs them.
private struct BitWriter {
    var bytes: [UInt8] = []
    var bitCount = 0
    mutating func bits(_ value: Int, _ n: Int) {
        for i in 0..<n {
            if bitCount % 8 == 0 { bytes.append(0) }
            if (value >> i) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(1 << (bitCount % 8)) }
            bitCount += 1
        }
    }
    /// A Huffman code: most significant bit first.
    mutating func code(_ value: Int, _ n: Int) {
        for i in stride(from: n - 1, through: 0, by: -1) { bits((value >> i) & 1, 1) }
    }
}

/// A deterministic byte generator for fuzzing.
private struct LCG {
    var state: UInt64
    mutating func next() -> UInt8 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}

final class DataReaderTests: XCTestCase {
    // MARK: - NPZ written by numpy

    /// Checks the arrays make_data_fixtures.py puts in plain.npz and compressed.npz.
    private func checkFixtureArrays(_ a: [String: NPYArray], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(Set(a.keys), ["f4", "f8", "i8", "u1", "b1", "scalar", "cube", "i4", "i2", "i1", "u2", "u4", "u8",
                                     "empty", "ramp", "noise"], file: file, line: line)
        let f4 = try XCTUnwrap(a["f4"])
        XCTAssertEqual(f4.shape, [3, 4]); XCTAssertEqual(f4.dtype, "<f4"); XCTAssertFalse(f4.fortranOrder)
        XCTAssertEqual(try f4.asFloats(), (0..<12).map { Float($0) * 0.5 - 1 }, file: file, line: line)
        XCTAssertEqual(try f4.asDoubles(), (0..<12).map { Double($0) * 0.5 - 1 }, file: file, line: line)
        XCTAssertEqual(try a["f8"]?.asDoubles(), [-1, -0.5, 0, 0.5, 1], file: file, line: line)
        XCTAssertEqual(a["f8"]?.dtype, "<f8")
        XCTAssertEqual(try a["i8"]?.asInts(), [-3, 0, 7, 1 << 40, -(1 << 62)], file: file, line: line)
        XCTAssertEqual(a["u1"]?.shape, [2, 3])
        XCTAssertEqual(try a["u1"]?.asInts(), [0, 1, 127, 128, 254, 255], file: file, line: line)
        XCTAssertEqual(a["b1"]?.dtype, "|b1")
        XCTAssertEqual(try a["b1"]?.asInts(), [1, 0, 1, 1, 0, 0], file: file, line: line)
        XCTAssertEqual(try a["b1"]?.asFloats(), [1, 0, 1, 1, 0, 0], file: file, line: line)
        let scalar = try XCTUnwrap(a["scalar"])
        XCTAssertEqual(scalar.shape, [], file: file, line: line)
        XCTAssertEqual(scalar.count, 1)
        XCTAssertEqual(try scalar.asDoubles(), [3.25], file: file, line: line)
        XCTAssertEqual(a["cube"]?.shape, [2, 3, 4], file: file, line: line)
        XCTAssertEqual(try a["cube"]?.asFloats(), (0..<24).map { Float($0) / 8 }, file: file, line: line)
        XCTAssertEqual(try a["i4"]?.asInts(), [Int(Int32.min), -1, 0, Int(Int32.max)], file: file, line: line)
        XCTAssertEqual(try a["i2"]?.asInts(), [-32768, -1, 32767], file: file, line: line)
        XCTAssertEqual(try a["i1"]?.asInts(), [-128, -1, 127], file: file, line: line)
        XCTAssertEqual(try a["u2"]?.asInts(), [0, 65535], file: file, line: line)
        XCTAssertEqual(try a["u4"]?.asDoubles(), [0, 4_294_967_295], file: file, line: line)
        XCTAssertEqual(try a["u8"]?.asDoubles(), [0, 9_223_372_036_854_775_813.0], file: file, line: line)
        XCTAssertEqual(a["empty"]?.shape, [0, 3])
        XCTAssertEqual(try a["empty"]?.asFloats(), [], file: file, line: line)
        XCTAssertEqual(try a["ramp"]?.asInts(), (0..<1500).map { $0 % 97 }, file: file, line: line)
        XCTAssertEqual(a["noise"]?.data.count, 800, file: file, line: line)
    }

    func testNPZReadsStoredArchiveWrittenByNumpy() throws {
        try checkFixtureArrays(NPZ.read(contentsOf: fixturePath("plain.npz")))
    }

    func testNPZReadsDeflatedArchiveWrittenByNumpy() throws {
        let compressed = try NPZ.read(contentsOf: fixturePath("compressed.npz"))
        try checkFixtureArrays(compressed)
        XCTAssertEqual(compressed, try NPZ.read(contentsOf: fixturePath("plain.npz")))
    }

    func testNPZAcceptsTrailingArchiveComment() throws {
        var bytes = try fixtureBytes("compressed.npz")
        let comment = Array("archive comment with PK\u{05}\u{06} inside, followed by enough text".utf8)
        bytes[bytes.count - 2] = UInt8(comment.count)
        bytes += comment
        XCTAssertEqual(try NPZ.read(bytes, source: "commented.npz"), try NPZ.read(contentsOf: fixturePath("compressed.npz")))
    }

    func testNPZFollowsZip64EndOfCentralDirectory() throws {
        let arrays = [(name: "w", npy: NPY.encode(floats: [1, 2, 3], shape: [3])),
                      (name: "k", npy: NPY.encode(int64s: [7], shape: []))]
        let plain = NPZ.write(arrays)
        let eocd = plain.count - 22
        func le32(_ i: Int) -> Int { Int(plain[i]) | Int(plain[i + 1]) << 8 | Int(plain[i + 2]) << 16 | Int(plain[i + 3]) << 24 }
        let cdSize = le32(eocd + 12), cdOffset = le32(eocd + 16)
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func u64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        var zip64 = Array(plain[0..<eocd])
        let recordOffset = zip64.count
        zip64 += u32(0x0606_4B50) + u64(44) + u16(45) + u16(45) + u32(0) + u32(0)
        zip64 += u64(2) + u64(2) + u64(cdSize) + u64(cdOffset)
        zip64 += u32(0x0706_4B50) + u32(0) + u64(recordOffset) + u32(1)
        zip64 += u32(0x0605_4B50) + u16(0) + u16(0) + u16(0xFFFF) + u16(0xFFFF) + u32(0xFFFF_FFFF) + u32(0xFFFF_FFFF) + u16(0)
        let read = try NPZ.read(zip64, source: "zip64.npz")
        XCTAssertEqual(try read["w"]?.asFloats(), [1, 2, 3])
        XCTAssertEqual(try read["k"]?.asInts(), [7])
    }

    // MARK: - NPZ failures

    func testNPZRejectsTruncatedArchives() throws {
        for name in ["plain.npz", "compressed.npz"] {
            let bytes = try fixtureBytes(name)
            for cut in [0, 10, 100, bytes.count / 2, bytes.count - 23, bytes.count - 22, bytes.count - 1] {
                assertInvalidData(["cut-\(name)"]) { try NPZ.read(Array(bytes[0..<cut]), source: "cut-\(name)") }
            }
        }
        // A member cut short inside an otherwise intact archive: the central directory points
        // past the data that is left.
        let bytes = try fixtureBytes("plain.npz")
        let shortened = Array(bytes[0..<200]) + Array(bytes[400...])
        assertInvalidData(["gap.npz"]) { try NPZ.read(shortened, source: "gap.npz") }
    }

    func testNPZDetectsCorruptedCRC() throws {
        let bytes = try fixtureBytes("plain.npz")
        // The first member is f4.npy; flip a byte of its float data.
        let nameLen = Int(bytes[26]) | Int(bytes[27]) << 8, extraLen = Int(bytes[28]) | Int(bytes[29]) << 8
        XCTAssertEqual(String(decoding: bytes[30..<(30 + nameLen)], as: UTF8.self), "f4.npy")
        var corrupted = bytes
        corrupted[30 + nameLen + extraLen + 140] ^= 0x01
        assertInvalidData(["data/plain.npz", "member f4.npy", "CRC-32 mismatch (stored 0x", "computed 0x"]) {
            try NPZ.read(corrupted, source: "data/plain.npz")
        }
        // Corrupt deflated data: either the deflate stream or the CRC check must catch it.
        let compressed = try fixtureBytes("compressed.npz")
        let cNameLen = Int(compressed[26]) | Int(compressed[27]) << 8
        let cExtra = Int(compressed[28]) | Int(compressed[29]) << 8
        for offset in [0, 5, 20, 40] {
            var bad = compressed
            bad[30 + cNameLen + cExtra + offset] ^= 0x5A
            assertInvalidData(["bad.npz: member f4.npy: "]) { try NPZ.read(bad, source: "bad.npz") }
        }
    }

    func testNPZRejectsBadMemberAndBadSignatures() throws {
        let good = NPY.encode(doubles: [1, 2], shape: [2])
        var badMagic = good
        badMagic[1] = UInt8(ascii: "X")
        let archive = NPZ.write([(name: "ok", npy: good), (name: "broken", npy: badMagic)])
        assertInvalidData(["x.npz: member broken.npy", "bad magic"]) { try NPZ.read(archive, source: "x.npz") }
        var badLocal = NPZ.write([(name: "ok", npy: good)])
        badLocal[0] = 0
        assertInvalidData(["y.npz", "member ok.npy", "local file header"]) { try NPZ.read(badLocal, source: "y.npz") }
        assertInvalidData(["z.npz", "end-of-central-directory"]) { try NPZ.read(Array(repeating: 7, count: 100), source: "z.npz") }
        assertInvalidData(["missing.npz", "cannot read"]) { try NPZ.read(contentsOf: "missing.npz") }
    }

    // MARK: - NPZ writer and CRC

    func testNPZWriterRoundTrips() throws {
        let f = NPY.encode(floats: [0.5, -2, 3e-8, .infinity], shape: [2, 2])
        let d = NPY.encode(doubles: [Double.pi], shape: [])
        let i = NPY.encode(int64s: [Int64.min, -1, 0, Int64.max], shape: [4])
        let zip = NPZ.write([(name: "f", npy: f), (name: "d.npy", npy: d), (name: "größe", npy: i)])
        let read = try NPZ.read(zip, source: "written.npz")
        XCTAssertEqual(Set(read.keys), ["f", "d", "größe"])
        XCTAssertEqual(read["f"]?.shape, [2, 2])
        XCTAssertEqual(try read["f"]?.asFloats(), [0.5, -2, 3e-8, .infinity])
        XCTAssertEqual(read["d"]?.shape, [])
        XCTAssertEqual(try read["d"]?.asDoubles(), [Double.pi])
        XCTAssertEqual(try read["größe"]?.asInts(), [Int.min, -1, 0, Int.max])
        XCTAssertEqual(NPZ.write([]).count, 22)
        XCTAssertEqual(try NPZ.read(NPZ.write([]), source: "empty.npz").count, 0)
    }

    func testCRC32MatchesKnownValues() {
        XCTAssertEqual(NPZ.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(NPZ.crc32([]), 0)
        XCTAssertEqual(NPZ.crc32(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
    }

    // MARK: - NPY

    func testNPYReadsFortranOrderArrayAsCOrder() throws {
        let a = try NPY.read(contentsOf: fixturePath("fortran.npy"))
        XCTAssertTrue(a.fortranOrder)
        XCTAssertEqual(a.shape, [2, 3, 4])
        XCTAssertEqual(a.dtype, "<i4")
        XCTAssertEqual(try a.asInts(), Array(0..<24))
    }

    func testNPYReadsBigEndianAndFormatVersions2And3() throws {
        let be = try NPY.read(contentsOf: fixturePath("bigendian.npy"))
        XCTAssertEqual(be.dtype, "<f8")
        XCTAssertEqual(be.shape, [2, 3])
        XCTAssertEqual(try be.asDoubles(), [0, 0.25, 0.5, 0.75, 1, 1.25])
        for v in ["v2.npy", "v3.npy"] {
            let a = try NPY.read(contentsOf: fixturePath(v))
            XCTAssertEqual(a.shape, [4], v)
            XCTAssertEqual(try a.asFloats(), [1, 2, 3, 4], v)
        }
    }

    func testNPYEncodeMatchesNumpyByteForByte() throws {
        XCTAssertEqual(NPY.encode(floats: [1, 2, 3, 4], shape: [4]), try fixtureBytes("encoded_f4.npy"))
        XCTAssertEqual(NPY.encode(int64s: [-3, -2, -1, 0, 1, 2], shape: [2, 3]), try fixtureBytes("encoded_i8.npy"))
        XCTAssertEqual(NPY.encode(doubles: [-2.5], shape: []), try fixtureBytes("encoded_f8_scalar.npy"))
        // Header padding: data starts at a multiple of 64 and the header ends in a newline.
        for shape in [[], [1], [123_456_789, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0]] {
            let count = shape.reduce(1, *)
            let bytes = NPY.encode(floats: [Float](repeating: 1, count: count), shape: shape)
            let headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            XCTAssertEqual((10 + headerLen) % 64, 0, "\(shape)")
            XCTAssertEqual(bytes[9 + headerLen], UInt8(ascii: "\n"))
            XCTAssertEqual(bytes.count, 10 + headerLen + 4 * count)
            XCTAssertEqual(try NPY.parse(bytes, source: "s").shape, shape)
        }
    }

    func testNPYConversionErrors() throws {
        let f = try NPY.parse(NPY.encode(floats: [1.5], shape: [1]), source: "f.npy")
        assertInvalidData(["asInts", "<f4"]) { try f.asInts() }
        let big = try NPZ.read(contentsOf: fixturePath("plain.npz"))["u8"]!
        assertInvalidData(["does not fit in Int"]) { try big.asInts() }
        let odd = NPYArray(shape: [3], dtype: "<f8", fortranOrder: false, data: [0, 0, 0])
        assertInvalidData(["needs 24 bytes"]) { try odd.asDoubles() }
        let weird = NPYArray(shape: [1], dtype: "<c8", fortranOrder: false, data: Array(repeating: 0, count: 8))
        assertInvalidData(["unsupported dtype '<c8'"]) { try weird.asDoubles() }
    }

    func testNPYRejectsBadMagicAndShapeMismatch() throws {
        var bytes = NPY.encode(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        var badMagic = bytes
        badMagic[0] = 0x92
        assertInvalidData(["bad.npy", "bad magic"]) { try NPY.parse(badMagic, source: "bad.npy") }
        // Rewrite the shape "(2, 3)" as "(2, 4)": the header now wants 32 bytes, the file has 24.
        let text = Array("(2, 3)".utf8)
        let at = try XCTUnwrap((0..<(bytes.count - text.count)).first { Array(bytes[$0..<($0 + text.count)]) == text })
        bytes[at + 4] = UInt8(ascii: "4")
        assertInvalidData(["shape.npy", "data size disagrees with the header", "[2, 4]", "need 32 bytes, found 24"]) {
            try NPY.parse(bytes, source: "shape.npy")
        }
        var version = NPY.encode(floats: [1], shape: [1])
        version[6] = 9
        assertInvalidData(["v.npy", "version 9.0"]) { try NPY.parse(version, source: "v.npy") }
        let truncated = Array(NPY.encode(floats: [1], shape: [1]).prefix(40))
        assertInvalidData(["t.npy", "truncated .npy header"]) { try NPY.parse(truncated, source: "t.npy") }
        let noKey = makeNPY(header: "{'descr': '<f4', 'shape': (1,), }", data: [0, 0, 0, 0])
        assertInvalidData(["k.npy", "keys"]) { try NPY.parse(noKey, source: "k.npy") }
        let structured = makeNPY(header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])
        assertInvalidData(["r.npy", "unsupported dtype"]) { try NPY.parse(structured, source: "r.npy") }
        let garbage = makeNPY(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,", data: [])
        assertInvalidData(["g.npy", "malformed .npy header"]) { try NPY.parse(garbage, source: "g.npy") }
    }

    private func makeNPY(header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8) + [0x0A]
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + data
    }

    // MARK: - Inflate

    func testInflateDecodesStoredFixedAndDynamicBlocks() throws {
        let source = try fixtureBytes("deflate_source.txt")
        for name in ["stored.deflate", "fixed.deflate", "dynamic.deflate"] {
            let stream = try fixtureBytes(name)
            XCTAssertEqual(try Inflate.decompress(stream), source, name)
            XCTAssertEqual(try Inflate.decompress(stream, expectedSize: source.count), source, name)
            assertInvalidData(["deflate stream", "exceeds the expected size"]) {
                try Inflate.decompress(stream, expectedSize: source.count - 1)
            }
        }
    }

    func testInflateRejectsTruncatedStreams() throws {
        for name in ["stored.deflate", "fixed.deflate", "dynamic.deflate"] {
            let stream = try fixtureBytes(name)
            for cut in [0, 1, 2, 5, stream.count / 3, stream.count / 2, stream.count - 2, stream.count - 1] {
                assertInvalidData(["deflate stream", "truncated"]) { try Inflate.decompress(Array(stream[0..<cut])) }
            }
        }
    }

    func testInflateRejectsMalformedStreams() {
        // Block type 3 is reserved.
        assertInvalidData(["invalid block type"]) { try Inflate.decompress([0x07, 0, 0, 0]) }
        // Stored block whose LEN and NLEN disagree.
        assertInvalidData(["does not match its complement"]) { try Inflate.decompress([0x01, 5, 0, 0, 0, 1, 2, 3, 4, 5]) }
        // Fixed block starting with a back-reference: length 3 (code 257), distance 1.
        var w = BitWriter()
        w.bits(1, 1); w.bits(1, 2); w.code(0b000_0001, 7); w.code(0, 5); w.code(0, 7)
        assertInvalidData(["distance 1 too far back"]) { try Inflate.decompress(w.bytes) }
        // Fixed block using distance code 30, which is not allowed.
        w = BitWriter()
        w.bits(1, 1); w.bits(1, 2); w.code(0x30 + 65, 8); w.code(0b000_0001, 7); w.code(30, 5)
        assertInvalidData(["invalid distance symbol 30"]) { try Inflate.decompress(w.bytes) }
        // Dynamic block whose code-length code is over-subscribed (four 1-bit codes).
        w = BitWriter()
        w.bits(1, 1); w.bits(2, 2); w.bits(0, 5); w.bits(0, 5); w.bits(0, 4)
        for _ in 0..<4 { w.bits(1, 3) }
        w.bits(0, 16)
        assertInvalidData(["over-subscribed"]) { try Inflate.decompress(w.bytes) }
        // Dynamic block whose first code length is "repeat previous".
        w = BitWriter()
        w.bits(1, 1); w.bits(2, 2); w.bits(0, 5); w.bits(0, 5); w.bits(0, 4)
        for _ in 0..<4 { w.bits(2, 3) }  // 16, 17, 18, 0 each 2 bits: codes 0 → 00, 16 → 01, 17 → 10, 18 → 11
        w.code(0b01, 2)  // symbol 16 first
        w.bits(0, 16)
        assertInvalidData(["repeat code 16 with no previous length"]) { try Inflate.decompress(w.bytes) }
        // A dynamic block without an end-of-block code (all lengths zero).
        w = BitWriter()
        w.bits(1, 1); w.bits(2, 2); w.bits(0, 5); w.bits(0, 5); w.bits(0, 4)
        for _ in 0..<4 { w.bits(2, 3) }
        w.code(0b11, 2); w.bits(127, 7)  // 18: 138 zeros
        w.code(0b11, 2); w.bits(109, 7)  // 18: 120 zeros → 258 lengths
        w.bits(0, 16)
        assertInvalidData(["no end-of-block code"]) { try Inflate.decompress(w.bytes) }
    }

    func testInflateSurvivesRandomAndMutatedInput() throws {
        var rng = LCG(state: 42)
        for n in 0..<3000 {
            let bytes = (0..<(n % 97 + 1)).map { _ in rng.next() }
            _ = try? Inflate.decompress(bytes, expectedSize: 1 << 20)
        }
        let stream = try fixtureBytes("dynamic.deflate")
        let source = try fixtureBytes("deflate_source.txt")
        for _ in 0..<500 {
            var bad = stream
            for _ in 0..<(Int(rng.next()) % 4 + 1) {
                let at = (Int(rng.next()) << 8 | Int(rng.next())) % bad.count
                bad[at] ^= rng.next() | 1
            }
            if let out = try? Inflate.decompress(bad, expectedSize: source.count * 2) {
                XCTAssertLessThanOrEqual(out.count, source.count * 2)
            }
        }
    }

    // MARK: - IDX

    func testIDXReadsUbyteFloatShortAndGzippedFiles() throws {
        let images = try IDX.read(contentsOf: fixturePath("images.idx3-ubyte"))
        XCTAssertEqual(images.shape, [3, 4, 5])
        XCTAssertEqual(images.values, (0..<60).map { Double(($0 * 37 + 11) % 256) })
        let gz = try IDX.read(contentsOf: fixturePath("images.idx3-ubyte.gz"))
        XCTAssertEqual(gz.shape, images.shape)
        XCTAssertEqual(gz.values, images.values)
        let floats = try IDX.read(contentsOf: fixturePath("floats.idx2-float"))
        XCTAssertEqual(floats.shape, [2, 3])
        XCTAssertEqual(floats.values, [0.5, -1.25, 3, Double(Float(1e-3)), 0, -7.5])
        let shorts = try IDX.read(contentsOf: fixturePath("shorts.idx1-short"))
        XCTAssertEqual(shorts.shape, [4])
        XCTAssertEqual(shorts.values, [-2, 300, -32768, 32767])
    }

    func testIDXRejectsShortAndMalformedFiles() throws {
        let bytes = try fixtureBytes("images.idx3-ubyte")
        assertInvalidData(["short.idx", "too few data bytes", "[3, 4, 5]", "needs 60 bytes, found 59"]) {
            try IDX.read(Array(bytes.dropLast()), source: "short.idx")
        }
        assertInvalidData(["long.idx", "needs 60 bytes, found 61"]) { try IDX.read(bytes + [0], source: "long.idx") }
        assertInvalidData(["hdr.idx", "truncated IDX header"]) { try IDX.read(Array(bytes.prefix(10)), source: "hdr.idx") }
        assertInvalidData(["tiny.idx", "too short"]) { try IDX.read([0, 0], source: "tiny.idx") }
        var magic = bytes
        magic[0] = 1
        assertInvalidData(["magic.idx", "two zero bytes"]) { try IDX.read(magic, source: "magic.idx") }
        var type = bytes
        type[2] = 0x0A
        assertInvalidData(["type.idx", "unknown IDX element type 0x0A"]) { try IDX.read(type, source: "type.idx") }
        var gz = try fixtureBytes("images.idx3-ubyte.gz")
        gz[gz.count - 6] ^= 0xFF  // inside the stored CRC-32
        assertInvalidData(["gz.idx", "gzip", "CRC-32 mismatch"]) { try IDX.read(gz, source: "gz.idx") }
    }

    // MARK: - CSV

    func testCSVReadsFilesWithAndWithoutHeader() throws {
        let h = try CSVTable.read(contentsOf: fixturePath("with_header.csv"))
        XCTAssertEqual(h.header, ["x", "y, quoted", "z"])
        XCTAssertEqual(h.rows, 3)
        XCTAssertEqual(h.columns, 3)
        XCTAssertEqual(h.values, [1, 2.5, -3, 4, 0.5, 6, 7, 8, 9])
        let n = try CSVTable.read(contentsOf: fixturePath("no_header.csv"))
        XCTAssertNil(n.header)
        XCTAssertEqual(n.rows, 3)
        XCTAssertEqual(n.columns, 2)
        XCTAssertEqual(n.values, [1, 2, 3, 4, -5.5, 600])
        let onlyHeader = try CSVTable.read("a,b\n", source: "h.csv")
        XCTAssertEqual(onlyHeader.header, ["a", "b"])
        XCTAssertEqual(onlyHeader.rows, 0)
        XCTAssertEqual(onlyHeader.columns, 2)
        let empty = try CSVTable.read("", source: "e.csv")
        XCTAssertEqual(empty.rows, 0)
        let multiline = try CSVTable.read("\"a\nb\",c\n1,2", source: "m.csv")
        XCTAssertEqual(multiline.header, ["a\nb", "c"])
        XCTAssertEqual(multiline.values, [1, 2])
    }

    func testCSVRejectsRaggedRowsAndNonNumericCells() {
        assertInvalidData(["ragged.csv", "line 3 has 2 fields, expected 3"]) {
            try CSVTable.read("a,b,c\n1,2,3\n4,5\n", source: "ragged.csv")
        }
        assertInvalidData(["cells.csv", "line 3, column 2", "'oops' is not a number"]) {
            try CSVTable.read("a,b\n1,2\n3,oops\n", source: "cells.csv")
        }
        assertInvalidData(["blank.csv", "line 2, column 2", "is empty"]) {
            try CSVTable.read("1,2\n3,\n", source: "blank.csv")
        }
        assertInvalidData(["gap.csv", "line 2 is blank"]) { try CSVTable.read("1,2\n\n3,4\n", source: "gap.csv") }
        assertInvalidData(["quote.csv", "unterminated quoted field"]) { try CSVTable.read("1,\"2\n", source: "quote.csv") }
        assertInvalidData(["hex.csv", "'0x10' is not a number"]) { try CSVTable.read("a\n0x10\n", source: "hex.csv") }
    }

    // MARK: - Real data sets

    func testRealMNIST1DArchive() throws {
        let path = packageRoot.appendingPathComponent("data/mnist1d.npz").path
        let a = try NPZ.read(contentsOf: path)
        XCTAssertEqual(Set(a.keys), ["x_train", "y_train", "x_test", "y_test"])
        XCTAssertEqual(a["x_train"]?.shape, [4000, 40])
        XCTAssertEqual(a["x_train"]?.dtype, "<f4")
        XCTAssertEqual(a["y_train"]?.shape, [4000])
        XCTAssertEqual(a["y_train"]?.dtype, "<i8")
        XCTAssertEqual(a["x_test"]?.shape, [1000, 40])
        XCTAssertEqual(a["y_test"]?.shape, [1000])
        // Expected values below were read with numpy 2.4 (np.load("data/mnist1d.npz")).
        let x = try XCTUnwrap(a["x_train"]).asFloats()
        XCTAssertEqual(Array(x.prefix(3)), [-0.33200568, -0.47191036, -0.7786971])
        XCTAssertEqual(x.last, -1.6509929)
        XCTAssertEqual(try a["x_test"]?.asFloats().first, -0.07877078)
        let y = try XCTUnwrap(a["y_train"]).asInts()
        XCTAssertEqual(Array(y.prefix(5)), [2, 6, 4, 5, 6])
        XCTAssertEqual(y.reduce(0, +), 18018)
        XCTAssertEqual(try a["y_test"]?.asInts().reduce(0, +), 4482)
        XCTAssertEqual(x.reduce(0) { $0 + Double($1) }, -51.787469785878784, accuracy: 1e-6)
    }

    func testRealDigitsArchive() throws {
        let path = packageRoot.appendingPathComponent("data/digits.npz").path
        let a = try NPZ.read(contentsOf: path)
        XCTAssertEqual(a["x_train"]?.shape, [1437, 64])
        XCTAssertEqual(a["y_train"]?.shape, [1437])
        XCTAssertEqual(a["x_test"]?.shape, [360, 64])
        XCTAssertEqual(a["y_test"]?.shape, [360])
        // Expected values below were read with numpy 2.4 (np.load("data/digits.npz")).
        let x = try XCTUnwrap(a["x_train"]).asDoubles()
        XCTAssertEqual(Array(x.prefix(5)), [0, 0, 0.0625, 0.8125, 0.4375])
        XCTAssertEqual(x.reduce(0, +), 28091.3125, accuracy: 1e-9)
        XCTAssertEqual(try a["y_train"]?.asInts().prefix(5).map { $0 }, [6, 6, 6, 2, 5])
        XCTAssertEqual(try a["y_train"]?.asInts().reduce(0, +), 6507)
        XCTAssertEqual(try a["y_test"]?.asInts().suffix(3).map { $0 }, [2, 9, 3])
        XCTAssertEqual(try a["y_test"]?.asInts().reduce(0, +), 1563)
    }
}
