import CHDF5
import XCTest

/// The HDF5 library links and reports its version (1.x).
final class LinkTests: XCTestCase {
    func testHDF5LibraryLinks() {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        XCTAssertGreaterThanOrEqual(H5get_libversion(&major, &minor, &release), 0)
        XCTAssertEqual(major, 1)
    }
}
