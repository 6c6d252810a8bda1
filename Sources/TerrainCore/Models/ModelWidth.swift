/// The width multiplier of every model family (`model.width`, and the `grid.width` of
/// training sweeps): the model-wise double-descent axis (Nakkiran et al. 2021 scale the
/// widths of every layer, as here).
extension ModelSpec {
    /// Largest accepted multiplier: a width of 64 turns the 256-unit example MLP into 16,384
    /// units per layer, already beyond what a sweep should train on a CPU.
    public static let maximumWidth = 64.0

    /// `units` scaled by the width multiplier, rounded to the nearest integer (halves away
    /// from zero), at least 1. Without a multiplier, `units` itself.
    public func scaledWidth(_ units: Int) -> Int {
        guard let w = width else { return units }
        return max(1, Int((Double(units) * w).rounded()))
    }

    /// The spec with its multiplier applied: for `mlp`, `cnn` and `resnet` the hidden widths
    /// or channels are scaled and `width` is cleared (the result names its layers' sizes);
    /// a preset keeps `width`, which its builder applies to the channels it fixes. Without
    /// a multiplier, the spec itself.
    public func widened() -> ModelSpec {
        guard width != nil, !kind.isPreset else { return self }
        var s = self
        s.hidden = hidden.map(scaledWidth)
        s.channels = channels.map(scaledWidth)
        s.width = nil
        return s
    }

    /// Checks the multiplier: finite, positive, at most ``maximumWidth``.
    func validateWidth() throws {
        guard let w = width else { return }
        guard w.isFinite, w > 0, w <= Self.maximumWidth else {
            throw TerrainError.invalidModel("model.width must be a multiplier in (0, \(Int(Self.maximumWidth))], got \(w)")
        }
    }
}
