/// Coarsens large grids for drawing: a 501×501 heatmap as one SVG rect per cell is tens of
/// megabytes; block means keep the picture and make the file light.
public enum GridDownsampling {
    /// Block means of a row-major grid (`values[j*x.count + i]` at `(x[i], y[j])`) with
    /// square blocks of `factor × factor` points, `factor` the smallest integer that brings
    /// both axes to at most `maxCells` blocks. NaN points are left out of the means; a block of
    /// only NaN stays NaN. Coordinates become the blocks' mean coordinates. Returns the input
    /// unchanged (factor 1) when it is small enough.
    public static func blockMeans(x: [Double], y: [Double], values: [Double], maxCells: Int)
        -> (x: [Double], y: [Double], values: [Double], factor: Int)
    {
        precondition(values.count == x.count * y.count, "grid of \(x.count)×\(y.count) needs \(x.count * y.count) values")
        let factor = max(1, Int((Double(max(x.count, y.count)) / Double(max(maxCells, 1))).rounded(.up)))
        guard factor > 1 else { return (x, y, values, 1) }
        let nx = (x.count + factor - 1) / factor, ny = (y.count + factor - 1) / factor
        func centres(_ a: [Double], _ n: Int) -> [Double] {
            (0..<n).map { b in
                let r = (b * factor)..<min((b + 1) * factor, a.count)
                return r.reduce(0) { $0 + a[$1] } / Double(r.count)
            }
        }
        var out = [Double](repeating: .nan, count: nx * ny)
        for bj in 0..<ny {
            for bi in 0..<nx {
                var sum = 0.0, n = 0
                for j in (bj * factor)..<min((bj + 1) * factor, y.count) {
                    for i in (bi * factor)..<min((bi + 1) * factor, x.count) {
                        let v = values[j * x.count + i]
                        if !v.isNaN { sum += v; n += 1 }
                    }
                }
                if n > 0 { out[bj * nx + bi] = sum / Double(n) }
            }
        }
        return (centres(x, nx), centres(y, ny), out, factor)
    }
}
