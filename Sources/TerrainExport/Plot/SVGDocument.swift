import Foundation

/// A standalone SVG 1.1 document being written: a white background, then elements in order.
/// The output is deterministic: coordinates are rounded to 1/100 px and printed without
/// trailing zeros (``SVGText/fmt(_:digits:)``), and all text passes through
/// ``SVGText/escape(_:)``.
struct SVGDocument {
    var width: Double
    var height: Double
    var title: String
    private var lines: [String] = []

    init(width: Double, height: Double, title: String) {
        self.width = width
        self.height = height
        self.title = title
    }

    /// Appends one element (markup, already escaped).
    mutating func add(_ line: String) { lines.append(line) }

    /// The document's text.
    func render() -> String {
        let fmt = SVGText.px
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" font-family=\"\(PlotStyle.font)\">\n"
        out += "<title>\(SVGText.escape(title))</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" fill=\"#ffffff\"/>\n"
        for line in lines {
            out += line
            out += "\n"
        }
        out += "</svg>\n"
        return out
    }
}

/// Sizes, font and colours shared by every figure.
enum PlotStyle {
    static let font = "DejaVu Sans, Helvetica, Arial, sans-serif"
    static let titleSize = 16.0
    static let subtitleSize = 12.0
    static let labelSize = 13.0
    static let tickSize = 11.0
    /// The categorical palette (matplotlib's tab10); series beyond it are dashed.
    static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    /// The palette colour of series `index`.
    static func colour(_ index: Int) -> String { palette[index % palette.count] }
    /// The dash attribute of series `index` (series beyond the palette are dashed).
    static func dash(_ index: Int) -> String { index >= palette.count ? " stroke-dasharray=\"6 3\"" : "" }
}

/// Text and numbers in SVG markup.
enum SVGText {
    /// A `<text>` element; `markup` must already be escaped. With `rotate`, the text is
    /// turned about its anchor point. The baseline sits at `y`, so centred rotated text
    /// is shifted by a third of its size to appear centred on `x`.
    static func text(x: Double, y: Double, markup: String, size: Double, anchor: String, rotate: Double? = nil, extra: String = "") -> String {
        if let angle = rotate {
            // Rotated labels: place the baseline so the glyphs are centred on x.
            let shift = size * 0.35 * (angle > 0 ? -1 : 1)
            let bx = x + shift
            return "<text x=\"\(fmt(bx))\" y=\"\(fmt(y))\" font-size=\"\(fmt(size))\" text-anchor=\"\(anchor)\" transform=\"rotate(\(fmt(angle)) \(fmt(bx)) \(fmt(y)))\"\(extra)>\(markup)</text>"
        }
        return "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"\(fmt(size))\" text-anchor=\"\(anchor)\"\(extra)>\(markup)</text>"
    }

    /// Compact `%.3g` rendering (`-0` printed as `0`).
    static func significant(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "inf" : "-inf") }
        let s = String(format: "%.3g", v)
        return s == "-0" ? "0" : s
    }

    /// A number label for display: hyphen-minus replaced by the minus sign U+2212.
    static func display(_ label: String) -> String {
        label.replacingOccurrences(of: "-", with: "\u{2212}")
    }

    /// Approximate rendered width of `chars` characters at font size `size`.
    static func textWidth(_ chars: Int, size: Double) -> Double {
        Double(chars) * size * 0.6
    }

    /// A coordinate rounded to `digits` decimals without trailing zeros (`-0` → `0`).
    static func fmt(_ v: Double, digits: Int = 2) -> String {
        guard v.isFinite else { return "0" }
        var s = String(format: "%.\(digits)f", v)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        if s == "-0" { s = "0" }
        return s
    }

    /// A coordinate rounded to 1/100 px (``fmt(_:digits:)`` as a function value).
    static func px(_ v: Double) -> String { fmt(v) }

    /// Escapes text for XML character data and attribute values. Characters not
    /// allowed in XML 1.0 are dropped; tabs and line breaks become spaces.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += " "
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
