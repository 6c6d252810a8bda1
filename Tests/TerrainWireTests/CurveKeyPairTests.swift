import Foundation
import TerrainWire
import XCTest

final class CurveKeyPairTests: XCTestCase {
    private let rfcBytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]

    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "terrain-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testZ85EncodesAndDecodesRFC32TestVector() throws {
        XCTAssertEqual(try Z85.encode(rfcBytes), "HelloWorld")
        XCTAssertEqual(try Z85.decode("HelloWorld"), rfcBytes)
        XCTAssertEqual(try Z85.encode([]), "")
        XCTAssertEqual(try Z85.decode(""), [])
    }

    func testZ85RoundTripsAllByteValues() throws {
        let bytes = (0..<256).map { UInt8($0) } + [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        let text = try Z85.encode(bytes)
        XCTAssertEqual(text.count, bytes.count / 4 * 5)
        XCTAssertEqual(try Z85.decode(text), bytes)
        XCTAssertEqual(try Z85.encode([0xFF, 0xFF, 0xFF, 0xFF]), "%nSc0")
    }

    func testZ85RejectsBadLengthsAndCharacters() {
        XCTAssertThrowsError(try Z85.encode([1, 2, 3])) { error in
            XCTAssertEqual(error as? CurveKeyError, .z85InvalidLength(length: 3, multipleOf: 4))
        }
        XCTAssertThrowsError(try Z85.decode("HelloWorl")) { error in
            XCTAssertEqual(error as? CurveKeyError, .z85InvalidLength(length: 9, multipleOf: 5))
        }
        XCTAssertThrowsError(try Z85.decode("Hello Worl")) { error in
            XCTAssertEqual(error as? CurveKeyError, .z85InvalidCharacter(" ", offset: 5))
        }
        XCTAssertThrowsError(try Z85.decode("Hell\"")) { error in
            XCTAssertEqual(error as? CurveKeyError, .z85InvalidCharacter("\"", offset: 4))
        }
        XCTAssertThrowsError(try Z85.decode("Hellé")) { error in
            XCTAssertEqual(error as? CurveKeyError, .z85InvalidCharacter("é", offset: 4))
        }
        XCTAssertThrowsError(try Z85.decode("HelloWorld#####")) { error in
            XCTAssertEqual(error as? CurveKeyError, .z85Overflow(offset: 10))
        }
    }

    func testGeneratedKeysAre32BytesAndConsistentWithLibzmq() throws {
        let pair = try CurveKeyPair.generate()
        XCTAssertEqual(pair.publicKey.count, 32)
        XCTAssertEqual(pair.secretKey.count, 32)
        XCTAssertNotEqual(pair.publicKey, pair.secretKey)
        // Our Z85 encoding of the secret, decoded by libzmq, yields the same public key.
        XCTAssertEqual(try CurveKeyPair.publicKey(forSecretKey: pair.secretKey), pair.publicKey)
        XCTAssertNotEqual(try CurveKeyPair.generate(), pair)
        XCTAssertFalse(pair.description.contains(try Z85.encode(pair.secretKey)))
        XCTAssertTrue(pair.description.contains(try Z85.encode(pair.publicKey)))
    }

    func testKeyPairRoundTripsThroughKeyFiles() throws {
        let directory = try temporaryDirectory()
        let publicPath = directory + "/server.key"
        let secretPath = directory + "/server.key_secret"
        // A pre-existing, world-readable secret file is tightened to 0600.
        _ = FileManager.default.createFile(atPath: secretPath, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])

        let pair = try CurveKeyPair.generate()
        try pair.write(publicPath: publicPath, secretPath: secretPath)

        let publicText = try String(contentsOfFile: publicPath, encoding: .utf8)
        XCTAssertEqual(publicText, try Z85.encode(pair.publicKey) + "\n")
        XCTAssertEqual(try String(contentsOfFile: secretPath, encoding: .utf8).count, 41)
        let mode = try FileManager.default.attributesOfItem(atPath: secretPath)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)

        XCTAssertEqual(try CurveKeyPair.read(publicPath: publicPath, secretPath: secretPath), pair)
        XCTAssertEqual(try CurveKeyPair.readPublicKey(path: publicPath), pair.publicKey)
    }

    func testKeyFileErrorsNameTheFile() throws {
        let directory = try temporaryDirectory()
        let missing = directory + "/missing.key"
        XCTAssertThrowsError(try CurveKeyPair.readPublicKey(path: missing)) { error in
            guard case .keyFile(let path, _)? = error as? CurveKeyError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, missing)
            XCTAssertTrue("\(error)".contains(missing))
        }

        let garbled = directory + "/garbled.key"
        try "not a key\n".write(toFile: garbled, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CurveKeyPair.readPublicKey(path: garbled)) { error in
            XCTAssertEqual((error as? CurveKeyError).map { "\($0)" }?.contains(garbled), true)
        }
        let badCharacters = directory + "/bad.key"
        try (String(repeating: "~", count: 40) + "\n").write(toFile: badCharacters, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CurveKeyPair.readPublicKey(path: badCharacters)) { error in
            guard case .keyFile(let path, _)? = error as? CurveKeyError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, badCharacters)
        }

        // A secret key that belongs to another public key is refused, naming the secret file.
        let one = try CurveKeyPair.generate(), other = try CurveKeyPair.generate()
        try one.write(publicPath: directory + "/a.key", secretPath: directory + "/a.key_secret")
        try other.write(publicPath: directory + "/b.key", secretPath: directory + "/b.key_secret")
        XCTAssertThrowsError(try CurveKeyPair.read(publicPath: directory + "/a.key", secretPath: directory + "/b.key_secret")) { error in
            guard case .keyFile(let path, _)? = error as? CurveKeyError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, directory + "/b.key_secret")
        }

        XCTAssertThrowsError(try CurveKeyPair(publicKey: [1], secretKey: [2]).write(
            publicPath: directory + "/c.key", secretPath: directory + "/c.key_secret"))
        XCTAssertThrowsError(try one.write(publicPath: directory + "/no/such/dir.key", secretPath: directory + "/d")) { error in
            XCTAssertTrue("\(error)".contains(directory + "/no/such/dir.key"))
        }
    }
}
