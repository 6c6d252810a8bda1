import Foundation

/// Paths shared by the sweep tests.
enum TestSupport {
    /// The repository root (two levels above this file's folder).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func dataPath(_ name: String) -> String { root.appendingPathComponent("data/\(name)").path }
}
