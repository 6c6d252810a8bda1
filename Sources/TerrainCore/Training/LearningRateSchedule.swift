import Foundation

/// The `schedule:` section of a spec: how the learning rate changes with the step.
///
/// `lr(step) = base · scale(batch) · warmup(step) · decay(step)` where
/// - `scale` is 1, `B/B_ref` (`linear`, Goyal et al. 2017) or `√(B/B_ref)` (`sqrt`);
/// - `warmup` rises linearly from `1/warmupSteps` to 1 over the first `warmupSteps` steps;
/// - `decay` is 1 (`constant`), `gamma^⌊epoch/decayEvery⌋` (`step`, by whole epochs), or
///   half a cosine from 1 to `minFactor` over the steps after warm-up (`cosine`).
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    /// The decay shape.
    public enum Kind: String, Codable, Sendable, CaseIterable { case constant, step, cosine }
    /// Batch-size scaling of the base rate.
    public enum Scaling: String, Codable, Sendable, CaseIterable { case none, linear, sqrt }

    /// The decay shape.
    public var kind: Kind
    /// Steps of linear warm-up (0 = none).
    public var warmupSteps: Int
    /// `step` schedule: epochs between decays.
    public var decayEvery: Int
    /// `step` schedule: the factor applied at each decay.
    public var gamma: Double
    /// `cosine` schedule: the final rate as a fraction of the peak.
    public var minFactor: Double
    /// Batch-size scaling rule.
    public var scaling: Scaling
    /// The batch size at which the base rate applies unscaled.
    public var referenceBatchSize: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, warmupSteps = "warmup_steps", decayEvery = "decay_every", gamma
        case minFactor = "min_factor", scaling, referenceBatchSize = "reference_batch_size"
    }

    /// The keys a `schedule:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a schedule.
    public init(kind: Kind = .constant, warmupSteps: Int = 0, decayEvery: Int = 1, gamma: Double = 0.1,
                minFactor: Double = 0, scaling: Scaling = .none, referenceBatchSize: Int = 128) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.decayEvery = decayEvery
        self.gamma = gamma
        self.minFactor = minFactor
        self.scaling = scaling
        self.referenceBatchSize = referenceBatchSize
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            kind: try c.decodeIfPresent(Kind.self, forKey: .kind) ?? .constant,
            warmupSteps: try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? 0,
            decayEvery: try c.decodeIfPresent(Int.self, forKey: .decayEvery) ?? 1,
            gamma: try c.decodeIfPresent(Double.self, forKey: .gamma) ?? 0.1,
            minFactor: try c.decodeIfPresent(Double.self, forKey: .minFactor) ?? 0,
            scaling: try c.decodeIfPresent(Scaling.self, forKey: .scaling) ?? .none,
            referenceBatchSize: try c.decodeIfPresent(Int.self, forKey: .referenceBatchSize) ?? 128)
    }

    /// Checks ranges, naming the offending field.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw TerrainError.invalidArgument(m) }
        if warmupSteps < 0 { try fail("schedule.warmup_steps must be ≥ 0, got \(warmupSteps)") }
        if decayEvery <= 0 { try fail("schedule.decay_every must be a positive number of epochs, got \(decayEvery)") }
        if !(gamma > 0) { try fail("schedule.gamma must be positive, got \(gamma)") }
        if minFactor < 0 || minFactor > 1 { try fail("schedule.min_factor must be in [0, 1], got \(minFactor)") }
        if referenceBatchSize <= 0 { try fail("schedule.reference_batch_size must be positive") }
    }

    /// The base rate after batch-size scaling.
    public func scaledBaseRate(_ base: Double, batchSize: Int) -> Double {
        let ratio = Double(batchSize) / Double(referenceBatchSize)
        switch scaling {
        case .none: return base
        case .linear: return base * ratio
        case .sqrt: return base * ratio.squareRoot()
        }
    }

    /// The learning rate for optimizer step `step` (0-based) of `totalSteps`, with
    /// `stepsPerEpoch` steps per epoch.
    public func rate(base: Double, batchSize: Int, step: Int, totalSteps: Int, stepsPerEpoch: Int) -> Double {
        var lr = scaledBaseRate(base, batchSize: batchSize)
        if warmupSteps > 0 && step < warmupSteps {
            lr *= Double(step + 1) / Double(warmupSteps)
        }
        switch kind {
        case .constant:
            break
        case .step:
            let epoch = step / max(stepsPerEpoch, 1)
            lr *= Foundation.pow(gamma, Double(epoch / decayEvery))
        case .cosine:
            let span = max(totalSteps - warmupSteps, 1)
            let t = min(max(Double(step - warmupSteps) / Double(span), 0), 1)
            lr *= minFactor + (1 - minFactor) * 0.5 * (1 + Foundation.cos(Double.pi * t))
        }
        return lr
    }
}
