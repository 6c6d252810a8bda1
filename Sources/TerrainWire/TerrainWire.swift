import CZeroMQ

/// The transport layer: typed ZeroMQ sockets and the wire protocol's messages and codec.
/// Its content arrives with the runtime issue ("The ZeroMQ runtime…"); for now it only
/// reports the linked libzmq version, which `terrain --version` prints.
public enum TerrainWire {
    /// The libzmq version this binary is linked against, as "major.minor.patch".
    public static var zmqVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
