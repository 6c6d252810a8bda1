/// How raw pixel values become network inputs: `x = (raw · scale − mean[c]) / std[c]`,
/// computed in `Double` for each element and rounded once to the model's scalar type.
///
/// `raw` is the stored value (0…255 for uint8 images, the stored number for float arrays).
/// With `scale = 1/255` and torchvision's CIFAR-10 statistics this is
/// `Normalize(mean, std)(ToTensor()(image))`.
public struct ImageNormalization: Sendable, Equatable {
    /// Multiplies the raw value first (``DataSpec/scale``).
    public var scale: Double
    /// Per-channel mean, subtracted after scaling (one entry per channel).
    public var mean: [Double]
    /// Per-channel standard deviation, divided by last (one positive entry per channel).
    public var std: [Double]

    /// Creates a normalization for `channels` channels; empty `mean`/`std` mean 0 and 1.
    /// A single value is used for every channel.
    /// - Throws: ``TerrainError/invalidData(_:)`` when a list has neither 1 nor `channels`
    ///   entries, or a value is not finite, or a standard deviation is not positive.
    public init(scale: Double, mean: [Double], std: [Double], channels: Int) throws {
        func expand(_ v: [Double], _ fallback: Double, _ name: String) throws -> [Double] {
            if v.isEmpty { return [Double](repeating: fallback, count: channels) }
            if v.count == 1 { return [Double](repeating: v[0], count: channels) }
            guard v.count == channels else {
                throw TerrainError.invalidData("data.normalize.\(name) has \(v.count) values but the images have \(channels) channels")
            }
            return v
        }
        self.scale = scale
        self.mean = try expand(mean, 0, "mean")
        self.std = try expand(std, 1, "std")
        guard scale.isFinite, self.mean.allSatisfy(\.isFinite) else {
            throw TerrainError.invalidData("data.normalize: scale and mean must be finite numbers")
        }
        guard self.std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw TerrainError.invalidData("data.normalize.std must be finite and positive, got \(std)")
        }
    }

    /// The normalized value of `raw` in channel `c`.
    @inline(__always)
    public func apply(_ raw: Double, channel c: Int) -> Double { (raw * scale - mean[c]) / std[c] }
}

/// Training-time augmentation of `[C, H, W]` images, as torchvision's
/// `RandomCrop(H, padding: crop)` followed by `RandomHorizontalFlip()`:
///
/// the raw image is padded with `crop` zero pixels on every side (zeros of the *stored*
/// values, before normalization, as torchvision pads the PIL image before `ToTensor` and
/// `Normalize`; a padded pixel of channel c therefore becomes `(0 − mean[c]) / std[c]`), an
/// `H × W` window at a uniformly random offset `(i, j) ∈ [0, 2·crop]²` is cut out, and it is
/// mirrored left–right with probability ½:
/// `out[c, h, w] = padded[c, h + i, w' + j]` with `w' = W − 1 − w` when flipped, else `w`.
///
/// The draw for a sample depends only on (the training seed, the epoch, the sample's index in
/// its file): a Philox stream keyed by `derive(seed, "augment", epoch)` whose stream number is
/// the sample index; `i`, `j` and the flip bit are its first three draws (`below(2·crop+1)`
/// twice, then the low bit of a 32-bit draw). It never depends on batch position, worker or
/// retry, so a resumed run sees the same augmented images as an uninterrupted one.
/// Evaluation never augments.
public struct ImageAugmentation: Sendable, Equatable, Codable {
    /// Zero padding of the random crop in pixels (0: no crop).
    public var crop: Int
    /// Random horizontal flips.
    public var flip: Bool

    /// Creates an augmentation.
    public init(crop: Int = 0, flip: Bool = false) {
        self.crop = crop
        self.flip = flip
    }

    enum CodingKeys: String, CodingKey { case crop, flip }

    public init(from decoder: Decoder) throws {
        try SpecKeys.check(decoder, allowed: ["crop", "flip"])
        let c = try decoder.container(keyedBy: CodingKeys.self)
        crop = try c.decodeIfPresent(Int.self, forKey: .crop) ?? 0
        flip = try c.decodeIfPresent(Bool.self, forKey: .flip) ?? false
    }

    /// Whether this augmentation changes anything.
    public var isIdentity: Bool { crop == 0 && !flip }

    /// The crop offset `(i, j)` in the padded image and the flip of sample `index` (its
    /// index in the file) in `epoch`, for training seed `seed`.
    public func draw(seed: UInt64, epoch: Int, index: Int) -> (i: Int, j: Int, flip: Bool) {
        var rng = TerrainRNG(seed: TerrainRNG.derive(TerrainRNG.derive(seed, "augment"), UInt64(truncatingIfNeeded: epoch)),
                             stream: UInt64(truncatingIfNeeded: index))
        let i = crop > 0 ? rng.below(2 * crop + 1) : 0
        let j = crop > 0 ? rng.below(2 * crop + 1) : 0
        let f = flip ? rng.nextUInt32() & 1 == 1 : false
        return (i, j, f)
    }
}
