import Foundation
import TerrainCore
import Yams

/// `surface.convexity`: the Hessian's extreme eigenvalues at every grid point, and Li et al.
/// (2018)'s convexity measure `|λ_min/λ_max|` (their "convexity maps": near 0 where the
/// surface is locally convex, large where negative curvature is as strong as positive).
///
/// ```yaml
/// surface:
///   convexity: {steps: 20, samples: 500, seed: 0}
/// ```
///
/// At each point a Lanczos run of `steps` steps on the Hessian of the training loss over a
/// fixed, seeded subset of `samples` training samples (all when omitted) gives λ_max and λ_min
/// as its extreme Ritz values; the surface gets the metrics `lambda_max`, `lambda_min` and
/// `eigen_ratio` = |λ_min/λ_max| (NaN where λ_max = 0). The Lanczos start vector is the same at
/// every point, so the map depends only on the spec. Extreme Ritz values approach the true
/// extremes from inside the spectrum: with few steps both are underestimated in size.
public struct ConvexityProbe: Codable, Sendable, Equatable {
    /// Lanczos steps per point.
    public var steps: Int
    /// Training samples (nil = all).
    public var samples: Int?
    /// Seed of the start vector and of the subset.
    public var seed: UInt64

    /// Creates a probe.
    public init(steps: Int = 20, samples: Int? = nil, seed: UInt64 = 0) {
        self.steps = steps
        self.samples = samples
        self.seed = seed
    }

    /// The metrics a point gains, in output order.
    public static let metricNames = ["lambda_max", "lambda_min", "eigen_ratio"]

    /// Why these parameters (from the wire) are unusable, or nil.
    public var problem: String? {
        guard steps >= 2, steps <= 1000 else { return "convexity steps \(steps) outside 2…1000" }
        if let s = samples, s < 1 { return "convexity samples \(s) is not positive" }
        return nil
    }

    /// Parses `surface.convexity`. Throws a ``SpecError`` naming the field.
    static func parse(_ node: Node, source: String) throws -> ConvexityProbe {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        if node.bool == true { return ConvexityProbe() }
        guard node.mapping != nil else { throw fail("surface.convexity: expected true or {steps: 20, samples: 500, seed: 0}") }
        try SpecYAML.checkKeys(node, allowed: ["steps", "samples", "seed"], section: "surface.convexity", source: source)
        var probe = ConvexityProbe()
        if let v = node["steps"] {
            guard let s = v.int, s >= 2, s <= 1000 else { throw fail("surface.convexity.steps: expected an integer in 2…1000") }
            probe.steps = s
        }
        if let v = node["samples"] {
            guard let s = v.int, s >= 1 else { throw fail("surface.convexity.samples: expected a positive integer") }
            probe.samples = s
        }
        if let v = node["seed"] {
            guard let s = v.int, s >= 0 else { throw fail("surface.convexity.seed: expected a non-negative integer") }
            probe.seed = UInt64(s)
        }
        return probe
    }

    /// The subset of `train` the Hessian is taken over.
    public func data(_ train: Dataset<Float>) -> Dataset<Float> {
        samples.map { train.subset(min($0, train.count), seed: TerrainRNG.derive(seed, "convexity-samples")) } ?? train
    }

    /// `[λ_max, λ_min, |λ_min/λ_max|]` for `model` at its current parameters over `data`.
    public func measure(model: Model<Float>, data: Dataset<Float>, loss: LossKind) throws -> [Double] {
        let h = try HessianOperator(model: model, data: data, loss: loss)
        let ritz = h.lanczos(steps: steps, seed: seed, index: 0).values
        let top = ritz.max() ?? 0, bottom = ritz.min() ?? 0
        return [top, bottom, top == 0 ? .nan : abs(bottom / top)]
    }
}
