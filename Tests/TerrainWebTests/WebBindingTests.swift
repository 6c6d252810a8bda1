import TerrainWeb
import XCTest

/// `--http HOST:PORT` and the token rule (docs/security.md).
final class WebBindingTests: XCTestCase {
    func testLoopbackNeedsNoToken() throws {
        for address in ["127.0.0.1:8080", "localhost:0", "[::1]:9000", ":7000", "127.1.2.3:1"] {
            let b = try WebBinding(address, token: nil)
            XCTAssertTrue(b.isLoopback, address)
            XCTAssertTrue(b.admits(bearer: nil, query: nil), "loopback without a token admits anyone on this machine")
        }
        XCTAssertEqual(try WebBinding(":7000", token: nil).host, "127.0.0.1")
        XCTAssertEqual(try WebBinding("[::1]:9000", token: nil).port, 9000)
    }

    func testOtherAddressesRequireAToken() {
        for address in ["0.0.0.0:8080", "10.1.2.3:80", "[::]:8080", "node17:8080"] {
            XCTAssertThrowsError(try WebBinding(address, token: nil), address) { error in
                guard case WebError.tokenRequired(let m) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(m.contains("--http-token") && m.contains("TERRAIN_HTTP_TOKEN"), m)
            }
            XCTAssertNoThrow(try WebBinding(address, token: "0123456789abcdef0123"))
        }
    }

    func testMalformedAddressesAndTokensAreRefused() {
        for address in ["8080", "host:", "host:99999", "host:-1", "a b:80", "[::1:80", "h/x:80"] {
            XCTAssertThrowsError(try WebBinding(address, token: nil), address) { error in
                guard case WebError.badAddress = error else { return XCTFail("\(address): \(error)") }
            }
        }
        XCTAssertThrowsError(try WebBinding("0.0.0.0:80", token: "short")) { XCTAssertEqual(($0 as? WebError).map { "\($0)" }?.contains("16"), true) }
        XCTAssertThrowsError(try WebBinding("0.0.0.0:80", token: "has a space in it, long"))
    }

    func testTheTokenMustMatchExactly() throws {
        let b = try WebBinding("0.0.0.0:80", token: "0123456789abcdef")
        XCTAssertTrue(b.admits(bearer: "0123456789abcdef", query: nil))
        XCTAssertTrue(b.admits(bearer: nil, query: "0123456789abcdef"))
        XCTAssertTrue(b.admits(bearer: "wrong", query: "0123456789abcdef"))
        for wrong in [nil, "", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeF", "x123456789abcdef"] {
            XCTAssertFalse(b.admits(bearer: wrong, query: nil), wrong ?? "nil")
        }
        // Even on loopback, a token given is a token required.
        XCTAssertFalse(try WebBinding("127.0.0.1:0", token: "0123456789abcdef").admits(bearer: nil, query: nil))
    }
}
