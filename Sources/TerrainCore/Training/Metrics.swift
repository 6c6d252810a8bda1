/// Loss and accuracy over a set of samples.
public struct Metrics: Sendable, Codable, Equatable {
    /// Mean loss per sample.
    public var loss: Double
    /// Fraction of samples classified correctly (`nil` for regression targets).
    public var accuracy: Double?
    /// Samples evaluated.
    public var count: Int

    /// Creates metrics.
    public init(loss: Double, accuracy: Double?, count: Int) {
        self.loss = loss
        self.accuracy = accuracy
        self.count = count
    }
}
