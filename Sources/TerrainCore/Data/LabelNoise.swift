/// Label noise for the double-descent experiments (`data.label_noise: p`; Nakkiran et al.
/// 2021, Arpit et al. 2017): a fixed, seeded set of training samples gets a wrong label.
///
/// Exactly `k = round(p · N)` of the N training labels are changed (`round` takes halves away
/// from zero, so p = 0.15 of 1,010 samples is 152 — not a binomial draw: every run of a sweep
/// sees the same count). The samples are the first k of a permutation seeded by the spec's
/// `seed`; each gets a label drawn uniformly from the *other* K − 1 classes, so exactly k
/// labels are wrong (Nakkiran et al. draw from all K classes, which leaves about p/K of the
/// "noisy" labels correct). Test labels are never touched.
public enum LabelNoise {
    /// The number of labels changed among `samples` at fraction `p`: `round(p · samples)`.
    public static func count(fraction p: Double, samples: Int) -> Int {
        guard p > 0, samples > 0 else { return 0 }
        return min(samples, Int((p * Double(samples)).rounded()))
    }

    /// `labels` with `count(fraction:samples:)` of them changed to a different class of
    /// `0..<classes`, chosen by `seed`; returns the new labels and the changed positions
    /// (ascending). Needs `classes ≥ 2` to change anything.
    public static func apply(fraction p: Double, to labels: [Int], classes: Int, seed: UInt64) -> (labels: [Int], changed: [Int]) {
        let k = count(fraction: p, samples: labels.count)
        guard k > 0, classes >= 2 else { return (labels, []) }
        var pick = TerrainRNG(seed: TerrainRNG.derive(seed, "label-noise"))
        let chosen = pick.permutation(labels.count).prefix(k).sorted()
        var draw = TerrainRNG(seed: TerrainRNG.derive(seed, "label-noise-classes"))
        var out = labels
        for i in chosen {
            // A uniform draw among the K − 1 other classes: skip over the true one.
            let r = draw.below(classes - 1)
            out[i] = r >= labels[i] ? r + 1 : r
        }
        return (out, chosen)
    }
}

extension Dataset {
    /// The same samples with label noise applied to their class labels (``LabelNoise``);
    /// returns the set and the positions whose label changed. Regression targets are
    /// returned unchanged (the spec refuses label noise for them).
    public func withLabelNoise(_ fraction: Double, seed: UInt64) -> (data: Dataset, changed: [Int]) {
        guard case .classes(let labels) = y, let k = classes else { return (self, []) }
        let (noisy, changed) = LabelNoise.apply(fraction: fraction, to: labels, classes: k, seed: seed)
        var out = self
        out.y = .classes(noisy)
        return (out, changed)
    }
}
