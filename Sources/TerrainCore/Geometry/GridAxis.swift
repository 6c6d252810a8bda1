/// One axis of a surface grid: `count` evenly spaced coordinates from `min` to `max`
/// inclusive, written `"min:max:count"` as loss-landscape users know it (`-1:1:51`).
public struct GridAxis: Sendable, Equatable, CustomStringConvertible {
    /// The first coordinate.
    public var min: Double
    /// The last coordinate.
    public var max: Double
    /// Number of points (≥ 1; with 1 point the axis is just `min`).
    public var count: Int

    /// Creates an axis; fails (precondition) on a non-positive count.
    public init(min: Double, max: Double, count: Int) {
        precondition(count >= 1)
        self.min = min
        self.max = max
        self.count = count
    }

    /// Parses `"min:max:count"`. Throws ``TerrainError/invalidArgument(_:)`` naming the text.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3, let lo = Double(parts[0]), let hi = Double(parts[1]), let n = Int(parts[2]) else {
            throw TerrainError.invalidArgument("'\(text)' is not an axis: write min:max:count, e.g. -1:1:51")
        }
        guard n >= 1, n <= 100_000 else { throw TerrainError.invalidArgument("'\(text)': the count must be in 1…100000") }
        guard lo.isFinite, hi.isFinite, n == 1 || hi > lo else {
            throw TerrainError.invalidArgument("'\(text)': max must be greater than min")
        }
        self.init(min: lo, max: hi, count: n)
    }

    /// The i-th coordinate, computed as `numpy.linspace` does (`i·step + min` with
    /// `step = (max − min)/(count − 1)`, the last one exactly `max`), so coordinates match
    /// numpy's bit for bit.
    public func coordinate(_ i: Int) -> Double {
        if count == 1 { return min }
        if i == count - 1 { return max }
        let step = (max - min) / Double(count - 1)
        return Double(i) * step + min
    }

    /// All coordinates.
    public var coordinates: [Double] { (0..<count).map(coordinate) }

    /// The spacing `(max − min)/(count − 1)` between neighbouring coordinates (0 for one point).
    public var step: Double { count > 1 ? (max - min) / Double(count - 1) : 0 }

    /// The index of the grid point at `value`, allowing for rounding: the nearest coordinate
    /// if it lies within `tolerance` steps of `value`, else `nil`. Coordinates are computed as
    /// numpy's `linspace` does, so a grid written to contain a value often misses it by an
    /// ulp (`-0.2:1.2:29` puts 0 at −2.8e-17): exact comparison would not find it. With one
    /// point, only an exact match counts.
    public func index(of value: Double, tolerance: Double = 1e-6) -> Int? {
        guard value.isFinite else { return nil }
        let xs = coordinates
        guard let nearest = xs.indices.min(by: { abs(xs[$0] - value) < abs(xs[$1] - value) }) else { return nil }
        return abs(xs[nearest] - value) <= tolerance * step || xs[nearest] == value ? nearest : nil
    }

    public var description: String { "\(min):\(max):\(count)" }
}

import Foundation
