/// Perceptually uniform colour maps for scalar fields.
///
/// `viridis` is the map designed by van der Walt and Smith for matplotlib (CC0). It is
/// defined here by 32 control points taken from the published 256-entry table (entries
/// `round(k · 255 / 31)`, `k = 0…31`) and interpolated linearly in sRGB; the deviation
/// from the full table is below 2/255 per channel.
public enum ColorMap: Sendable, Hashable {
    /// Dark purple (low) → blue → green → yellow (high).
    case viridis

    /// Colour at position `t` of the map as 8-bit sRGB channels.
    ///
    /// - Parameter t: position in `[0, 1]` (0 = low end). Values outside are clamped;
    ///   NaN maps to the low end.
    public func color(_ t: Double) -> (r: UInt8, g: UInt8, b: UInt8) {
        let (r, g, b) = unitColor(t)
        return (Self.byte(r), Self.byte(g), Self.byte(b))
    }

    /// Colour at position `t` as a lowercase CSS/SVG hex string `#rrggbb`.
    ///
    /// - Parameter t: position in `[0, 1]`, clamped as in ``color(_:)``.
    public func hex(_ t: Double) -> String {
        let c = color(t)
        return "#" + Self.hexByte(c.r) + Self.hexByte(c.g) + Self.hexByte(c.b)
    }

    /// Control points `(position, r, g, b)` with channels in `[0, 1]`, positions ascending
    /// from 0 to 1. Linear interpolation between them (in sRGB) defines the map, so an
    /// SVG gradient with these stops reproduces it exactly.
    var controlPoints: [(t: Double, r: Double, g: Double, b: Double)] {
        switch self {
        case .viridis: return Self.viridisPoints
        }
    }

    /// Interpolated colour with channels in `[0, 1]`.
    func unitColor(_ t: Double) -> (Double, Double, Double) {
        let points = controlPoints
        let u = t.isNaN ? 0 : min(1, max(0, t))
        // Index of the segment containing u (points are sorted, few: linear scan).
        var k = 0
        while k + 2 < points.count && points[k + 1].t <= u { k += 1 }
        let p0 = points[k], p1 = points[k + 1]
        let span = p1.t - p0.t
        let f = span > 0 ? min(1, max(0, (u - p0.t) / span)) : 0
        return (
            p0.r + f * (p1.r - p0.r),
            p0.g + f * (p1.g - p0.g),
            p0.b + f * (p1.b - p0.b)
        )
    }

    private static func byte(_ v: Double) -> UInt8 {
        UInt8(min(255, max(0, (v * 255).rounded())))
    }

    private static let hexDigits = Array("0123456789abcdef")

    private static func hexByte(_ v: UInt8) -> String {
        String([hexDigits[Int(v >> 4)], hexDigits[Int(v & 0x0f)]])
    }

    /// viridis table entries 0, 8, 16, 25, …, 247, 255 (of 0…255).
    private static let viridisPoints: [(t: Double, r: Double, g: Double, b: Double)] = [
        (0, 0.267004, 0.004874, 0.329415),
        (8, 0.277018, 0.050344, 0.375715),
        (16, 0.282327, 0.094955, 0.417331),
        (25, 0.282623, 0.140926, 0.457517),
        (33, 0.278012, 0.180367, 0.486697),
        (41, 0.269308, 0.218818, 0.509577),
        (49, 0.257322, 0.256130, 0.526563),
        (58, 0.241237, 0.296485, 0.539709),
        (66, 0.225863, 0.330805, 0.547314),
        (74, 0.210503, 0.363727, 0.552206),
        (82, 0.195860, 0.395433, 0.555276),
        (90, 0.182256, 0.426184, 0.557120),
        (99, 0.168126, 0.459988, 0.558082),
        (107, 0.156270, 0.489624, 0.557936),
        (115, 0.144759, 0.519093, 0.556572),
        (123, 0.133743, 0.548535, 0.553541),
        (132, 0.123463, 0.581687, 0.547445),
        (140, 0.119423, 0.611141, 0.538982),
        (148, 0.124780, 0.640461, 0.527068),
        (156, 0.143303, 0.669459, 0.511215),
        (165, 0.180653, 0.701402, 0.488189),
        (173, 0.226397, 0.728888, 0.462789),
        (181, 0.281477, 0.755203, 0.432552),
        (189, 0.344074, 0.780029, 0.397381),
        (197, 0.412913, 0.803041, 0.357269),
        (206, 0.496615, 0.826376, 0.306377),
        (214, 0.575563, 0.844566, 0.256415),
        (222, 0.657642, 0.860219, 0.203082),
        (230, 0.741388, 0.873449, 0.149561),
        (239, 0.835270, 0.886029, 0.102646),
        (247, 0.916242, 0.896091, 0.100717),
        (255, 0.993248, 0.906157, 0.143936),
    ].map { (t: $0.0 / 255, r: $0.1, g: $0.2, b: $0.3) }
}
