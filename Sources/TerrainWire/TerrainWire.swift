import CZeroMQ
// The messages these sockets carry: importing the transport brings the protocol's types.
@_exported import TerrainProtocol

/// The transport layer: typed ZeroMQ sockets (``ZMQSocket``, ``ZMQPoller``), CurveZMQ keys and
/// the ZAP handler. The wire protocol's messages and codec live in `TerrainProtocol` (no
/// sockets), which this module re-exports. This namespace reports the linked libzmq version,
/// which `terrain --version` prints.
public enum TerrainWire {
    /// The libzmq version this binary is linked against, as "major.minor.patch".
    public static var zmqVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
