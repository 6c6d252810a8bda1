/// Inverted dropout: in training, zeroes each element with probability `p` and scales the
/// rest by `1/(1−p)`; the identity in evaluation.
///
/// Masks come from Terrain's RNG keyed by (the forward context's seed, this layer's
/// `streamID`, the context's step), so a retried or resumed step drops the same units.
public final class Dropout<Scalar: TensorScalar>: Layer<Scalar> {
    /// The drop probability in [0, 1).
    public let p: Double
    /// Distinguishes this layer's random stream from other dropout layers' (set by the
    /// model builder to the layer's position).
    public var streamID: UInt64
    private var mask: [Scalar]? = nil

    /// Creates the layer.
    public init(p: Double, streamID: UInt64 = 0) {
        precondition(p >= 0 && p < 1, "dropout probability \(p) must be in [0, 1)")
        self.p = p
        self.streamID = streamID
    }

    public override var summary: String { "Dropout(p=\(p))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        guard context.training, !context.statisticsOnly, p > 0 else {
            mask = nil
            return input
        }
        var rng = TerrainRNG(seed: TerrainRNG.derive(context.seed, 0x64726F70, streamID), stream: context.step)
        let keep = Scalar(1 / (1 - p))
        let m = (0..<input.count).map { _ in rng.uniform() < p ? Scalar(0) : keep }
        mask = m
        var out = input
        Kernels.multiply(&out.storage, by: m)
        return out
    }

    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        guard let mask else { return gradOutput }
        var g = gradOutput
        Kernels.multiply(&g.storage, by: mask)
        return g
    }
}
