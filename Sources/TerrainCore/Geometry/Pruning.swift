/// Magnitude pruning for lottery tickets (Frankle & Carbin 2019; the conventions of
/// facebookresearch/open_lth): which weights a level removes, and the random-pruning control.
///
/// Only the `.weight` of Linear and Conv layers is prunable; biases and normalization
/// parameters never are. Each level removes `⌈fraction · remaining⌉` of the weights still
/// present — over all prunable weights at once (`global`) or per layer (`layerwise`) — so
/// density after L levels is `(1 − fraction)^L` up to rounding. Ties in magnitude are broken by
/// position, so a level's masks depend only on the weights.
public enum Pruning {
    /// Where the pruning threshold applies.
    public enum Scope: String, Sendable, Codable, CaseIterable {
        /// One threshold over all prunable weights.
        case global
        /// The fraction is applied to each layer separately.
        case layerwise
    }

    /// How one level prunes.
    public struct Plan: Sendable, Codable, Equatable {
        /// Fraction of the remaining weights removed per level (open_lth's default 0.2).
        public var fraction: Double
        /// Global or per-layer thresholds.
        public var scope: Scope
        /// Whether the output layer's weight is prunable at all.
        public var pruneOutputLayer: Bool
        /// Layerwise scope: the output layer is pruned at `fraction × outputRateFactor`
        /// (Frankle & Carbin prune the output layer of their MNIST networks at half the rate).
        public var outputRateFactor: Double

        /// Creates a plan with open_lth's defaults.
        public init(fraction: Double = 0.2, scope: Scope = .global, pruneOutputLayer: Bool = true, outputRateFactor: Double = 1) {
            self.fraction = fraction
            self.scope = scope
            self.pruneOutputLayer = pruneOutputLayer
            self.outputRateFactor = outputRateFactor
        }
    }

    /// The prunable parameters of a model, in order: every Linear/Conv weight, the output
    /// layer's (the last one) only when `includeOutput`.
    public static func prunable<Scalar: TensorScalar>(_ model: Model<Scalar>, includeOutput: Bool) -> [Parameter<Scalar>] {
        let weights = model.parameters.filter { $0.role == .weight }
        return includeOutput ? weights : Array(weights.dropLast())
    }

    /// The masks of the next level: the current masks (all ones where a parameter has none)
    /// with `⌈fraction · remaining⌉` more of the smallest-magnitude surviving weights removed.
    /// Keys are parameter names; only prunable parameters appear.
    public static func nextMasks<Scalar: TensorScalar>(_ model: Model<Scalar>, plan: Plan) -> [String: Tensor<Scalar>] {
        let params = prunable(model, includeOutput: plan.pruneOutputLayer)
        var masks = [String: Tensor<Scalar>]()
        for p in params { masks[p.name] = p.mask ?? Tensor(shape: p.shape, repeating: 1) }
        func prune(_ candidates: [(param: Int, index: Int, magnitude: Double)], count: Int) {
            let order = candidates.sorted { ($0.magnitude, $0.param, $0.index) < ($1.magnitude, $1.param, $1.index) }
            for c in order.prefix(count) { masks[params[c.param].name]!.storage[c.index] = 0 }
        }
        func survivors(_ i: Int) -> [(param: Int, index: Int, magnitude: Double)] {
            let p = params[i], m = masks[p.name]!
            return (0..<p.count).compactMap { j in m.storage[j] != 0 ? (i, j, abs(Double(p.value.storage[j]))) : nil }
        }
        switch plan.scope {
        case .global:
            let all = params.indices.flatMap(survivors)
            prune(all, count: Int((plan.fraction * Double(all.count)).rounded(.up)))
        case .layerwise:
            for i in params.indices {
                let s = survivors(i)
                let isOutput = plan.pruneOutputLayer && i == params.count - 1
                let rate = isOutput ? plan.fraction * plan.outputRateFactor : plan.fraction
                prune(s, count: Int((rate * Double(s.count)).rounded(.up)))
            }
        }
        return masks
    }

    /// The `random_prune` control: for each layer, a uniformly random mask with exactly the
    /// same number of surviving weights as `like`, drawn from `seed` and the parameter name.
    /// With `within`, the survivors are drawn among the entries `within` keeps (so that an
    /// iterated random-pruning chain nests its masks like the magnitude chain does); the
    /// layer must keep at least as many there as `like` asks for, or it keeps all of them.
    public static func randomMasks<Scalar: TensorScalar>(like masks: [String: Tensor<Scalar>], within: [String: Tensor<Scalar>]? = nil,
                                                        seed: UInt64) -> [String: Tensor<Scalar>] {
        var out = [String: Tensor<Scalar>]()
        for (name, m) in masks {
            let keep = m.storage.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "random-prune:" + name))
            let candidates: [Int]
            if let w = within?[name] {
                candidates = (0..<w.count).filter { w.storage[$0] != 0 }
            } else {
                candidates = Array(0..<m.count)
            }
            let chosen = rng.permutation(candidates.count).prefix(keep).map { candidates[$0] }
            var r = Tensor<Scalar>(shape: m.shape)
            for i in chosen { r.storage[i] = 1 }
            out[name] = r
        }
        return out
    }

    /// The fraction of prunable weights still present.
    public static func density<Scalar: TensorScalar>(_ masks: [String: Tensor<Scalar>]) -> Double {
        let total = masks.values.reduce(0) { $0 + $1.count }
        let kept = masks.values.reduce(0) { $0 + $1.storage.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        return total == 0 ? 1 : Double(kept) / Double(total)
    }
}
