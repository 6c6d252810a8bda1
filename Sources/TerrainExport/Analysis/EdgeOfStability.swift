/// The edge-of-stability threshold of gradient descent (Cohen et al. 2021): full-batch GD
/// with step size η is stable on a quadratic only while λmax < 2/η; with heavy-ball momentum
/// β the bound is (2 + 2β)/η. Figures compare measured λmax against it; computed here, apart
/// from any drawing code.
public enum EdgeOfStability {
    /// (2 + 2β)/η for step size `learningRate` (η, the rate actually used, e.g. after
    /// batch-size scaling) and momentum `momentum` (β ≥ 0; 0 gives 2/η).
    public static func threshold(learningRate: Double, momentum: Double = 0) -> Double {
        (2 + 2 * momentum) / learningRate
    }

    /// The threshold's label: `2/η` without momentum, `(2+2β)/η` with.
    public static func label(anyMomentum: Bool) -> String { anyMomentum ? "(2+2β)/η" : "2/η" }
}
