import TerrainWire
import XCTest

/// The linked libzmq is the 4.x line the protocol notes were written for.
final class LibraryVersionTests: XCTestCase {
    func testLinkedLibZMQIsVersion4() {
        XCTAssertTrue(TerrainWire.zmqVersion.hasPrefix("4."), TerrainWire.zmqVersion)
    }
}
