/// Keskar et al. (2017)'s ε-sharpness: how much the loss can rise inside a box around θ,
/// relative to `1 + L(θ)`:
///
/// `φ = 100 · (max_{y ∈ C_ε} L(θ + y) − L(θ)) / (1 + L(θ))`, `C_ε = { y : |y_i| ≤ ε·(|θ_i| + 1) }`.
///
/// The paper solves the inner maximization approximately with L-BFGS-B (a few iterations).
/// Terrain uses projected sign-gradient ascent on the box — the ℓ∞ geometry of `C_ε` makes
/// `y ← clip(y + a·b ⊙ sign(∇L(θ+y)), −b, b)` with `b = ε(|θ| + 1)` the steepest feasible
/// step — for `steps` iterations with `a = 2.5 / steps`, keeping the largest loss seen. Like
/// the paper's, the result is a lower bound on the true maximum. Masked (pruned) weights are
/// held fixed. The full-space variant (no random subspace).
public enum Sharpness {
    /// The outcome of a sharpness computation.
    public struct Result: Sendable, Equatable, Codable {
        /// φ, in percent.
        public var sharpness: Double
        /// L(θ).
        public var loss: Double
        /// The largest L(θ + y) found.
        public var maxLoss: Double
        /// The box size parameter.
        public var epsilon: Double
    }

    /// Computes φ for `model` (parameters restored afterwards) over `data`.
    public static func keskar<Scalar: TensorScalar>(model: Model<Scalar>, data: Dataset<Scalar>, loss: LossKind,
                                                    epsilon: Double, steps: Int = 10) -> Result {
        let space = ParameterSpace(model)
        let theta = space.values()
        let mask = space.masks()
        let bound = zip(theta, mask).map { Double($1) * epsilon * (abs(Double($0)) + 1) }
        let base = Evaluator.evaluate(model, on: data, loss: loss).loss
        var y = [Double](repeating: 0, count: theta.count)
        var best = base
        let a = 2.5 / Double(max(steps, 1))
        for _ in 0..<max(steps, 1) {
            space.setValues(zip(theta, y).map { Scalar(Double($0) + $1) })
            let (metrics, g) = Evaluator.gradient(model, on: data, loss: loss)
            best = max(best, metrics.loss)
            for i in 0..<y.count where bound[i] > 0 {
                let stepped = y[i] + a * bound[i] * (g[i] > 0 ? 1 : (g[i] < 0 ? -1 : 0))
                y[i] = min(max(stepped, -bound[i]), bound[i])
            }
        }
        space.setValues(zip(theta, y).map { Scalar(Double($0) + $1) })
        best = max(best, Evaluator.evaluate(model, on: data, loss: loss).loss)
        space.setValues(theta)
        return Result(sharpness: 100 * (best - base) / (1 + base), loss: base, maxLoss: best, epsilon: epsilon)
    }
}
