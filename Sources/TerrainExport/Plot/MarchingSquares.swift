/// Iso-line extraction on a regular grid (marching squares).
///
/// The grid is sampled at the integer points `(i, j)`, `0 ≤ i < nx`, `0 ≤ j < ny`, with
/// the values stored row-major: the sample at `(i, j)` is `values[j * nx + i]`. Each of
/// the `(nx − 1) × (ny − 1)` cells is classified by which of its four corners are at or
/// above the level; the crossing point on each cell edge is found by linear
/// interpolation between the two corner values. The per-cell segments are then joined
/// through the cell edges they share into connected polylines.
public enum MarchingSquares {
    /// Iso-lines `value == level` of a sampled scalar field.
    ///
    /// - Parameters:
    ///   - values: `nx * ny` samples, row-major (`values[j * nx + i]` is the sample at grid point `(i, j)`).
    ///   - nx: number of samples along the first (x, column) axis.
    ///   - ny: number of samples along the second (y, row) axis.
    ///   - level: the iso-value.
    /// - Returns: polylines in fractional grid coordinates (`x` in `[0, nx − 1]`,
    ///   `y` in `[0, ny − 1]`; map them to data coordinates by interpolating the sample
    ///   coordinates). A closed iso-line is returned with its first point repeated at the
    ///   end; an open one starts and ends on the grid boundary or next to a missing
    ///   cell. Polylines are ordered by the first cell (row-major) they pass through, so
    ///   the output is deterministic.
    ///
    /// Conventions and failure modes:
    /// - A corner counts as "above" when `value >= level`. A sample exactly equal to
    ///   the level therefore yields crossing points on that sample; repeated
    ///   consecutive points are removed.
    /// - Saddle cells (diagonally opposite corners on the same side) are resolved by
    ///   the cell-centre average of the four corners: when the centre is above, the two
    ///   "above" corners are connected through the cell.
    /// - Cells with any non-finite corner (NaN, ±∞) produce no segments, so iso-lines
    ///   stop at missing data.
    /// - Returns `[]` when `nx < 2`, `ny < 2`, `values.count != nx * ny`, or `level`
    ///   is not finite.
    public static func contours(values: [Double], nx: Int, ny: Int, level: Double) -> [[(x: Double, y: Double)]] {
        guard nx >= 2, ny >= 2, values.count == nx * ny, level.isFinite else { return [] }
        let edges = CellEdges(nx: nx, ny: ny)
        let segments = Self.segments(values, edges, level: level)
        if segments.isEmpty { return [] }
        var graph = SegmentGraph(segments, edgeCount: edges.count)
        var result: [[(x: Double, y: Double)]] = []
        for chain in graph.chains() {
            var polyline: [(x: Double, y: Double)] = []
            polyline.reserveCapacity(chain.count)
            for key in chain {
                let p = edges.point(onEdge: key, values, level: level)
                if let last = polyline.last, last.x == p.x, last.y == p.y { continue }
                polyline.append(p)
            }
            if polyline.count >= 2 { result.append(polyline) }
        }
        return result
    }

    /// The segments of every cell with finite corners, as pairs of edge keys.
    private static func segments(_ values: [Double], _ edges: CellEdges, level: Double) -> [(Int, Int)] {
        let nx = edges.nx
        var out: [(Int, Int)] = []
        for j in 0..<(edges.ny - 1) {
            for i in 0..<(nx - 1) {
                let v00 = values[j * nx + i]
                let v10 = values[j * nx + i + 1]
                let v11 = values[(j + 1) * nx + i + 1]
                let v01 = values[(j + 1) * nx + i]
                guard v00.isFinite, v10.isFinite, v11.isFinite, v01.isFinite else { continue }

                // Corner bits, counter-clockwise from the lower-left corner.
                var code = 0
                if v00 >= level { code |= 1 }
                if v10 >= level { code |= 2 }
                if v11 >= level { code |= 4 }
                if v01 >= level { code |= 8 }
                if code == 0 || code == 15 { continue }

                let bottom = edges.horizontal(i, j), top = edges.horizontal(i, j + 1)
                let left = edges.vertical(i, j), right = edges.vertical(i + 1, j)
                switch code {
                case 1, 14: out.append((bottom, left))  // lower-left corner alone
                case 2, 13: out.append((bottom, right))  // lower-right corner alone
                case 4, 11: out.append((right, top))  // upper-right corner alone
                case 8, 7: out.append((top, left))  // upper-left corner alone
                case 3, 12: out.append((left, right))  // lower half vs upper half
                case 6, 9: out.append((bottom, top))  // left half vs right half
                case 5, 10:
                    // Saddle. `code == 5`: lower-left and upper-right are above.
                    let centreAbove = (v00 + v10 + v11 + v01) / 4 >= level
                    // Cut off the lower-left/upper-right pair when they are isolated
                    // from each other, otherwise cut off the other diagonal pair.
                    if (code == 5) != centreAbove {
                        out += [(bottom, left), (right, top)]
                    } else {
                        out += [(bottom, right), (top, left)]
                    }
                default:
                    break
                }
            }
        }
        return out
    }

    /// Position in `[0, 1]` of `level` between `a` and `b` (which straddle it).
    fileprivate static func fraction(_ a: Double, _ b: Double, _ level: Double) -> Double {
        let d = b - a
        guard d != 0 else { return 0.5 }
        return min(1, max(0, (level - a) / d))
    }
}

/// Every cell edge gets a global key so that neighbouring cells agree on the crossing point
/// they share: horizontal edges (i, j)–(i+1, j) first, then vertical edges (i, j)–(i, j+1).
private struct CellEdges {
    let nx: Int, ny: Int
    var horizontalCount: Int { (nx - 1) * ny }
    var count: Int { horizontalCount + nx * (ny - 1) }

    func horizontal(_ i: Int, _ j: Int) -> Int { j * (nx - 1) + i }
    func vertical(_ i: Int, _ j: Int) -> Int { horizontalCount + j * nx + i }

    /// The crossing point on an edge, always interpolated in the same direction for a given key.
    func point(onEdge key: Int, _ values: [Double], level: Double) -> (x: Double, y: Double) {
        if key < horizontalCount {
            let j = key / (nx - 1), i = key % (nx - 1)
            let t = MarchingSquares.fraction(values[j * nx + i], values[j * nx + i + 1], level)
            return (Double(i) + t, Double(j))
        }
        let k = key - horizontalCount
        let j = k / nx, i = k % nx
        let t = MarchingSquares.fraction(values[j * nx + i], values[(j + 1) * nx + i], level)
        return (Double(i), Double(j) + t)
    }
}

/// Segments joined through the edges they share. Each edge is shared by at most two cells
/// and used at most once per cell, so every edge key has degree ≤ 2: the components are
/// simple paths or cycles. Incidence is stored in two flat slots per edge (−1 = empty).
private struct SegmentGraph {
    let segments: [(Int, Int)]
    var firstIncident: [Int], secondIncident: [Int]
    var used: [Bool]

    init(_ segments: [(Int, Int)], edgeCount: Int) {
        self.segments = segments
        firstIncident = [Int](repeating: -1, count: edgeCount)
        secondIncident = [Int](repeating: -1, count: edgeCount)
        used = [Bool](repeating: false, count: segments.count)
        for (s, (a, b)) in segments.enumerated() {
            attach(a, s)
            attach(b, s)
        }
    }

    private mutating func attach(_ key: Int, _ s: Int) {
        if firstIncident[key] < 0 { firstIncident[key] = s } else { secondIncident[key] = s }
    }

    private func degree(_ key: Int) -> Int {
        (firstIncident[key] >= 0 ? 1 : 0) + (secondIncident[key] >= 0 ? 1 : 0)
    }

    /// Open chains first, each traced from one of its free ends (every open chain has an end
    /// segment, which the scan reaches while the chain is unused); what is left is loops.
    mutating func chains() -> [[Int]] {
        var chains: [[Int]] = []
        for s in segments.indices where !used[s] {
            let (a, b) = segments[s]
            if degree(a) == 1 {
                chains.append(trace(from: a, firstSegment: s))
            } else if degree(b) == 1 {
                chains.append(trace(from: b, firstSegment: s))
            }
        }
        for s in segments.indices where !used[s] {
            chains.append(trace(from: segments[s].0, firstSegment: s))
        }
        return chains
    }

    private mutating func trace(from startKey: Int, firstSegment: Int) -> [Int] {
        var keys = [startKey]
        var current = startKey
        var segment = firstSegment
        while true {
            used[segment] = true
            let next = segments[segment].0 == current ? segments[segment].1 : segments[segment].0
            keys.append(next)
            current = next
            let a = firstIncident[next], b = secondIncident[next]
            if a >= 0, !used[a] {
                segment = a
            } else if b >= 0, !used[b] {
                segment = b
            } else {
                break
            }
        }
        return keys
    }
}
