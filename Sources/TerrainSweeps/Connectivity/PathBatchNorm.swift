import Yams

/// The `batch_norm:` entry of `connectivity` and `instability` sweeps: how BatchNorm
/// statistics are re-estimated at every point of a path (for models with BatchNorm layers;
/// ignored otherwise): in batches of `batch_size` over `samples` training samples (a seeded
/// subset, the same at every t; all of them when absent).
public struct PathBatchNorm: Sendable, Equatable {
    public var batchSize = 128
    public var samples: Int? = nil

    /// Parses `<section>.batch_norm` (absent: the defaults).
    static func parse(_ node: Node?, section: String, source: String) throws -> PathBatchNorm {
        var out = PathBatchNorm()
        guard let node else { return out }
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        try SpecYAML.checkKeys(node, allowed: ["batch_size", "samples"], section: "\(section).batch_norm", source: source)
        if let b = node["batch_size"] {
            guard let v = b.int, v >= 2 else { throw fail("\(section).batch_norm.batch_size: expected an integer ≥ 2") }
            try SweepLimits.check(v, atMost: SweepLimits.batchSize, field: "\(section).batch_norm.batch_size", what: "samples", source: source)
            out.batchSize = v
        }
        if let s = node["samples"] {
            guard let v = s.int, v >= 2 else { throw fail("\(section).batch_norm.samples: expected an integer ≥ 2 (training samples)") }
            out.samples = v
        }
        return out
    }

    /// Parses `<section>.points` (absent: 61, Garipov et al.'s count).
    static func points(_ node: Node?, section: String, source: String, default d: Int = 61) throws -> Int {
        guard let node else { return d }
        guard let v = node.int, v >= 2, v <= 10_001 else {
            throw SpecError(file: source, message: "\(section).points: expected an integer from 2 to 10001 (evenly spaced t from 0 to 1)")
        }
        return v
    }
}
