/// The coordinator: scheduler state machine, leases, retries and the SQLite dataset.
/// Filled by the runtime issue ("The ZeroMQ runtime…").
public enum TerrainCoordinator {}
