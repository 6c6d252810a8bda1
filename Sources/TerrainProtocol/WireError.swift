/// Why a message from the network was refused by the codec. Every case is a reason to log
/// and drop the message, never to stop serving.
public enum WireError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The first frame does not start with "TR".
    case badMagic
    /// The sender speaks another protocol version (carried so the reply can name it).
    case unsupportedVersion(UInt8)
    /// The type byte is not a known message type.
    case unknownType(UInt8)
    /// A frame, field or count breaks the protocol's limits.
    case tooLarge(String)
    /// The message does not parse (truncated, missing or mistyped field, bad UTF-8).
    case malformed(String)

    public var description: String {
        switch self {
        case .badMagic: return "not a Terrain message (bad magic)"
        case .unsupportedVersion(let v): return "protocol version \(v), this side speaks \(WireCodec.version)"
        case .unknownType(let t): return "unknown message type \(t)"
        case .tooLarge(let m): return "too large: \(m)"
        case .malformed(let m): return "malformed: \(m)"
        }
    }
}
