/// A spec that cannot be used, with the file and the field at fault.
public struct SpecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The spec file (or `<string>`).
    public var file: String
    /// What is wrong, naming the field (`optimizer.lr: …`).
    public var message: String

    /// Creates an error.
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
