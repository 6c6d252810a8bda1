/// The worker loop: handshake, pull tasks, run them on TerrainCore, return results.
/// Filled by the runtime issue ("The ZeroMQ runtime…").
public enum TerrainWorker {}
