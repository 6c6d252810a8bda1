import Foundation

/// A rectangle in pixels (y down).
struct PlotRect {
    var x: Double, y: Double, width: Double, height: Double
    var right: Double { x + width }
    var bottom: Double { y + height }
}

/// An affine map from data (or log-data) coordinates to pixels along one axis.
struct PlotAxis {
    var lo: Double, hi: Double, pixelLo: Double, pixelHi: Double

    func map(_ v: Double) -> Double {
        guard hi != lo else { return (pixelLo + pixelHi) / 2 }
        return pixelLo + (v - lo) / (hi - lo) * (pixelHi - pixelLo)
    }
}

/// A tick at `value` (axis coordinates) with its label as SVG text markup (already escaped)
/// and its approximate width in characters.
struct Tick {
    var value: Double
    var markup: String
    var chars: Int
    /// Minor ticks are short, unlabelled and get no grid line.
    var minor = false
}

/// Tick positions and labels.
enum Ticks {
    /// Nice tick step (1, 2 or 5 × 10^k) giving about `target` intervals over the span.
    static func niceStep(_ span: Double, target: Double = 5) -> Double {
        let raw = span / target
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let n = raw / magnitude
        let m: Double = n < 1.5 ? 1 : (n < 3.5 ? 2 : (n < 7.5 ? 5 : 10))
        return m * magnitude
    }

    /// Multiples of `step` inside `[lo, hi]` (tiny values snapped to 0).
    static func multiples(of step: Double, in lo: Double, _ hi: Double) -> [Double] {
        guard step > 0, step.isFinite, lo.isFinite, hi.isFinite, hi > lo else { return [] }
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard first <= last, last - first <= 1000 else { return [] }
        var out: [Double] = []
        var k = first
        while k <= last {
            let v = k * step
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            k += 1
        }
        return out
    }

    /// Labelled ticks at nice values of a linear axis over `[lo, hi]`.
    static func linear(_ lo: Double, _ hi: Double) -> [Tick] {
        guard hi > lo else { return [] }
        let step = niceStep(hi - lo)
        let values = multiples(of: step, in: lo, hi)
        let maxAbs = values.map(abs).max() ?? 0
        let exponential = maxAbs >= 1e5 || step < 1e-3
        let decimals = max(0, Int(-(log10(step) + 1e-9).rounded(.down)))
        return values.map { v in
            let label = SVGText.display(exponential ? SVGText.significant(v) : String(format: "%.\(decimals)f", v == 0 ? 0 : v))
            return Tick(value: v, markup: SVGText.escape(label), chars: label.count)
        }
    }

    /// Ticks for a log10 axis spanning `[lo, hi]` (in decades): whole decades labelled
    /// `10^k` when the range covers one (with unlabelled minor ticks at 2…9 × 10^k when it
    /// spans at most six), otherwise nice linear values at their logs.
    static func log(_ lo: Double, _ hi: Double) -> [Tick] {
        guard hi > lo else { return [] }
        if hi - lo >= 1 {
            let step = max(1, niceStep(hi - lo).rounded(.up))
            var ticks = multiples(of: step, in: lo, hi).map { k in
                let exponent = SVGText.display(String(Int(k)))
                return Tick(value: k, markup: "10<tspan dy=\"-0.45em\" font-size=\"\(SVGText.fmt(PlotStyle.tickSize * 0.75))\">\(exponent)</tspan>",
                            chars: 2 + exponent.count)
            }
            if step == 1 && hi - lo <= 6 {
                var decade = (lo - 1e-9).rounded(.down)
                while decade < hi {
                    for m in 2...9 {
                        let v = decade + log10(Double(m))
                        if v >= lo && v <= hi { ticks.append(Tick(value: v, markup: "", chars: 0, minor: true)) }
                    }
                    decade += 1
                }
            }
            return ticks
        }
        let a = pow(10, lo), b = pow(10, hi)
        let step = niceStep(b - a)
        let maxAbs = max(abs(a), abs(b))
        let exponential = maxAbs >= 1e5 || step < 1e-3
        let decimals = max(0, Int(-(log10(step) + 1e-9).rounded(.down)))
        return multiples(of: step, in: a, b).filter { $0 > 0 }.map { v in
            let label = SVGText.display(exponential ? SVGText.significant(v) : String(format: "%.\(decimals)f", v))
            return Tick(value: log10(v), markup: SVGText.escape(label), chars: label.count)
        }
    }

    /// Ticks at the given axis values; labels that would overlap the previous labelled one
    /// (scanning left to right, 8 px apart) are dropped and returned as minor positions.
    static func thinned(_ candidates: [(value: Double, label: String)], axis: PlotAxis) -> (major: [Tick], minor: [Double]) {
        let sorted = candidates.sorted { axis.map($0.value) < axis.map($1.value) }
        var major: [Tick] = [], minor: [Double] = []
        var lastRight = -Double.infinity, lastPixel = -Double.infinity
        for c in sorted {
            let px = axis.map(c.value)
            if px - lastPixel < 0.5 { continue }  // same position as the previous tick
            lastPixel = px
            let halfWidth = SVGText.textWidth(c.label.count, size: PlotStyle.tickSize) / 2
            if px - halfWidth >= lastRight + 8 {
                major.append(Tick(value: c.value, markup: SVGText.escape(c.label), chars: c.label.count))
                lastRight = px + halfWidth
            } else {
                minor.append(c.value)
            }
        }
        return (major, minor)
    }

    /// Categorical ticks at the centres of `labels.count` equal cells.
    static func categorical(_ labels: [String]) -> [Tick] {
        labels.enumerated().map { Tick(value: Double($0.offset) + 0.5, markup: SVGText.escape($0.element), chars: $0.element.count) }
    }

    /// The widest tick label in pixels.
    static func labelWidth(_ ticks: [Tick]) -> Double {
        ticks.map { SVGText.textWidth($0.chars, size: PlotStyle.tickSize) }.max() ?? 0
    }
}

/// Data ranges.
enum PlotRange {
    /// `[lo, hi]` widened by `fraction` of the span at both ends, or by `flatPad(lo)` when flat.
    static func widened(_ lo: Double, _ hi: Double, fraction: Double = 0.05, flatPad: (Double) -> Double) -> (Double, Double) {
        if hi == lo {
            let pad = flatPad(lo)
            return (lo - pad, hi + pad)
        }
        let pad = fraction * (hi - lo)
        return (lo - pad, hi + pad)
    }

    /// The pad of a flat range: 5 % of the value, or 0.5 at zero.
    static func flatPad(_ v: Double) -> Double { v == 0 ? 0.5 : abs(v) * 0.05 }
}
