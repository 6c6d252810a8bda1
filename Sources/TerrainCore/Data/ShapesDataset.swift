import Foundation

/// A procedurally generated image classification set: 32×32 RGB images of ten shape
/// classes, a CIFAR-shaped stand-in that can be made anywhere (CIFAR itself cannot be
/// downloaded here).
///
/// Each image is one shape on a background, drawn from Terrain's RNG:
/// - **shape** (the class, `index mod 10`): disk, ring, square, frame (square outline),
///   triangle, plus, cross (×), diamond, bars (two horizontal bars), crescent;
/// - **geometry**: half-size 6–12 px, centre uniform where the shape stays mostly inside,
///   rotation uniform in ±15° (so squares and diamonds stay apart);
/// - **colours**: background and shape colours uniform in RGB with a Euclidean distance of
///   at least 0.35 (so the colour never tells the class), a linear background gradient of
///   up to ±0.15 per channel, a distractor dot of radius 1–2 px in a third colour;
/// - **rendering**: 4×4 supersampled coverage (anti-aliased edges), then Gaussian noise of
///   standard deviation `noise` (default 0.08) per pixel and channel, clipped to [0, 1] and
///   rounded to uint8.
///
/// Image `i` of the training part depends only on `(seed, "train", i)`, of the test part on
/// `(seed, "test", i)`: the same seed gives the same bytes on every machine, and a larger
/// set extends a smaller one.
public enum ShapesDataset {
    /// The class names, in label order.
    public static let classNames = ["disk", "ring", "square", "frame", "triangle", "plus", "cross", "diamond", "bars", "crescent"]
    /// Image side in pixels.
    public static let size = 32

    /// `count` images of a part (`"train"` or `"test"`): pixels `[count, 32, 32, 3]` (NHWC,
    /// uint8) and labels.
    public static func generate(count: Int, seed: UInt64, part: String, noise: Double = 0.08) -> (pixels: [UInt8], labels: [Int]) {
        precondition(count >= 0, "ShapesDataset: negative count")
        let n = size * size * 3
        var pixels = [UInt8](repeating: 0, count: count * n)
        var labels = [Int](repeating: 0, count: count)
        let key = TerrainRNG.derive(seed, "shapes-" + part)
        pixels.withUnsafeMutableBufferPointer { out in
            for i in 0..<count {
                labels[i] = i % classNames.count
                var rng = TerrainRNG(seed: key, stream: UInt64(i))
                render(label: labels[i], rng: &rng, noise: noise, into: UnsafeMutableBufferPointer(rebasing: out[(i * n)..<((i + 1) * n)]))
            }
        }
        return (pixels, labels)
    }

    /// Whether the point `(u, v)` (shape coordinates, half-size 1, v down) is inside shape
    /// `label`.
    static func inside(_ label: Int, _ u: Double, _ v: Double) -> Bool {
        switch label {
        case 0: return u * u + v * v <= 1
        case 1: let r = u * u + v * v; return r <= 1 && r >= 0.55 * 0.55
        case 2: return abs(u) <= 0.8 && abs(v) <= 0.8
        case 3: let m = max(abs(u), abs(v)); return m <= 0.9 && m >= 0.55
        case 4:  // apex up at (0, -0.9), base corners (±0.95, 0.75)
            guard v <= 0.75 else { return false }
            let t = (v + 0.9) / 1.65  // 0 at the apex, 1 at the base
            return t >= 0 && abs(u) <= 0.95 * t
        case 5: return (abs(u) <= 0.28 && abs(v) <= 0.95) || (abs(v) <= 0.28 && abs(u) <= 0.95)
        case 6:
            let a = (u + v) * 0.7071067811865476, b = (u - v) * 0.7071067811865476
            return (abs(a) <= 0.28 && abs(b) <= 1.05) || (abs(b) <= 0.28 && abs(a) <= 1.05)
        case 7: return abs(u) + abs(v) <= 1.05
        case 8: return abs(u) <= 0.95 && abs(v) >= 0.2 && abs(v) <= 0.62
        default: return u * u + v * v <= 1 && (u - 0.5) * (u - 0.5) + v * v > 0.75 * 0.75
        }
    }

    private static func colour(_ rng: inout TerrainRNG) -> (Double, Double, Double) {
        (rng.uniform(), rng.uniform(), rng.uniform())
    }

    private static func distance(_ a: (Double, Double, Double), _ b: (Double, Double, Double)) -> Double {
        ((a.0 - b.0) * (a.0 - b.0) + (a.1 - b.1) * (a.1 - b.1) + (a.2 - b.2) * (a.2 - b.2)).squareRoot()
    }

    private static func render(label: Int, rng: inout TerrainRNG, noise: Double, into out: UnsafeMutableBufferPointer<UInt8>) {
        let background = colour(&rng)
        var foreground = colour(&rng)
        while distance(foreground, background) < 0.35 { foreground = colour(&rng) }
        var dot = colour(&rng)
        while distance(dot, background) < 0.35 { dot = colour(&rng) }
        let gradient = (rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15))
        let angle = rng.uniform(-1, 1) * Double.pi / 12
        let half = rng.uniform(6, 12)
        let side = Double(size)
        let margin = half * 0.85
        let cx = rng.uniform(margin, side - margin), cy = rng.uniform(margin, side - margin)
        let dotR = rng.uniform(1, 2), dx = rng.uniform(2, side - 2), dy = rng.uniform(2, side - 2)
        let cosA = cos(angle), sinA = sin(angle)
        let sub = 4
        for y in 0..<size {
            for x in 0..<size {
                var covered = 0, dotted = 0
                for sy in 0..<sub {
                    for sx in 0..<sub {
                        let px = Double(x) + (Double(sx) + 0.5) / Double(sub), py = Double(y) + (Double(sy) + 0.5) / Double(sub)
                        let rx = px - cx, ry = py - cy
                        let u = (cosA * rx + sinA * ry) / half, v = (-sinA * rx + cosA * ry) / half
                        if inside(label, u, v) { covered += 1 }
                        else if (px - dx) * (px - dx) + (py - dy) * (py - dy) <= dotR * dotR { dotted += 1 }
                    }
                }
                let f = Double(covered) / Double(sub * sub), d = Double(dotted) / Double(sub * sub)
                let g = (Double(x) + Double(y)) / (2 * side) - 0.5
                let bg = (background.0 + gradient.0 * g, background.1 + gradient.1 * g, background.2 + gradient.2 * g)
                let o = (y * size + x) * 3
                func mix(_ b: Double, _ s: Double, _ t: Double) -> UInt8 {
                    let value = b * (1 - f - d) + s * f + t * d + noise * rng.normal()
                    return UInt8((min(max(value, 0), 1) * 255).rounded())
                }
                out[o] = mix(bg.0, foreground.0, dot.0)
                out[o + 1] = mix(bg.1, foreground.1, dot.1)
                out[o + 2] = mix(bg.2, foreground.2, dot.2)
            }
        }
    }

    /// Per-channel mean and standard deviation of `pixels` (NHWC uint8) in [0, 1] units, for
    /// `data.normalize`.
    public static func channelStatistics(_ pixels: [UInt8]) -> (mean: [Double], std: [Double]) {
        var sum = [0.0, 0.0, 0.0], squares = [0.0, 0.0, 0.0]
        for (i, p) in pixels.enumerated() {
            let v = Double(p) / 255
            sum[i % 3] += v
            squares[i % 3] += v * v
        }
        let n = Double(max(pixels.count / 3, 1))
        let mean = sum.map { $0 / n }
        let std = (0..<3).map { max(squares[$0] / n - mean[$0] * mean[$0], 0).squareRoot() }
        return (mean, std)
    }

    /// A training and a test part (from ``generate(count:seed:part:noise:)``) as a stored NPZ
    /// archive: `x_train`, `x_test` uint8 `[N, 32, 32, 3]`, `y_train`, `y_test` int64, and
    /// `class_names`.
    public static func npz(train a: (pixels: [UInt8], labels: [Int]), test b: (pixels: [UInt8], labels: [Int])) -> [UInt8] {
        NPZ.write([
            ("x_train", NPY.encode(uint8s: a.pixels, shape: [a.labels.count, size, size, 3])),
            ("y_train", NPY.encode(int64s: a.labels.map(Int64.init), shape: [a.labels.count])),
            ("x_test", NPY.encode(uint8s: b.pixels, shape: [b.labels.count, size, size, 3])),
            ("y_test", NPY.encode(int64s: b.labels.map(Int64.init), shape: [b.labels.count])),
            ("class_names", NPY.encode(strings: classNames, shape: [classNames.count])),
        ])
    }

    /// NHWC uint8 pixels `[n, 32, 32, 3]` rearranged into CIFAR's record order (`nchw`).
    public static func channelPlanes(_ pixels: [UInt8]) -> [UInt8] {
        let plane = size * size
        var out = [UInt8](repeating: 0, count: pixels.count)
        for i in 0..<(pixels.count / (3 * plane)) {
            for p in 0..<plane {
                for c in 0..<3 { out[i * 3 * plane + c * plane + p] = pixels[i * 3 * plane + p * 3 + c] }
            }
        }
        return out
    }
}
