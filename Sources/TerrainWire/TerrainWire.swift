import CZeroMQ

/// The transport layer: typed ZeroMQ sockets (``ZMQSocket``, ``ZMQPoller``), CurveZMQ keys and
/// the ZAP handler, and the wire protocol's messages and codec (``WireMessage``,
/// ``WireCodec``; docs/protocol.md). This namespace reports the linked libzmq version, which
/// `terrain --version` prints.
public enum TerrainWire {
    /// The libzmq version this binary is linked against, as "major.minor.patch".
    public static var zmqVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
