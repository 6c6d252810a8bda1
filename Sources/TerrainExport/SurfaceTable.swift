import Foundation

/// A loss surface (or 1-D loss curve) sampled on a rectilinear grid, ready for export by
/// ``SurfaceExporter``.
///
/// The grid has `nx = x.count` coordinates along the first direction (α) and, for a 2-D
/// surface, `ny = y!.count` along the second (β). Every metric holds one value per grid
/// point, stored row-major with **x fastest**: `values[j * nx + i]` is the value at
/// `(x[i], y[j])`. A 1-D table (`y == nil`) stores `values[i]` for `x[i]`. NaN marks a
/// point that was not computed (or failed); it is exported as NaN in every format.
///
/// Coordinates are the step sizes along the (normalized) directions, dimensionless.
/// Metric values are in whatever unit the metric has (nats for a cross-entropy loss, a
/// fraction for an accuracy) and CSV, NPZ and VTK write them as they are. The one exception
/// is the HDF5 export, which follows loss-landscape's layout: metrics listed in
/// ``fractions`` (accuracies) are written there in percent, as loss-landscape stores them.
///
/// Call ``validate()`` (the exporters do) before relying on the invariants.
public struct SurfaceTable: Sendable, Equatable {
    /// The coordinates along the first direction (α), in grid order; `nx = x.count >= 1`.
    public var x: [Double]
    /// The coordinates along the second direction (β), in grid order; `nil` for a 1-D slice.
    public var y: [Double]?
    /// The metrics, in export order. Each `values` array has `nx * ny` elements (`nx` for a
    /// 1-D table) in x-fastest order; NaN marks a missing point. Names must be unique,
    /// match `[A-Za-z_][A-Za-z0-9_]*` and not be one of ``reservedNames``.
    public var metrics: [(name: String, values: [Double])]
    /// Free-form provenance: directions, normalization, data subset, spec hash, …. Keys
    /// match `[A-Za-z_][A-Za-z0-9_.-]*`; values are one-line UTF-8 strings (no NUL, CR or
    /// LF — encode structured values as compact JSON). Exported in sorted key order.
    public var attributes: [String: String]
    /// The metrics whose values are fractions of one (accuracies: 0.996 means 99.6 %). CSV,
    /// NPZ and VTK keep them as fractions; the HDF5 export writes them in percent (×100,
    /// loss-landscape's `100.*correct/total`) with a `units = "percent"` attribute on each such
    /// dataset, so that loss-landscape's plotting scripts read them as they read their own
    /// files. Every name must be one of the metrics.
    public var fractions: Set<String> = []

    /// Names a metric may not take, because the export formats use them for coordinates
    /// or metadata: `x`, `y` (CSV columns, NPZ arrays), `xcoordinates`, `ycoordinates`
    /// (HDF5 datasets) and `attributes` (the NPZ metadata array).
    public static let reservedNames: Set<String> = ["x", "y", "xcoordinates", "ycoordinates", "attributes"]

    /// Creates a table. No validation happens here; see ``validate()``.
    /// - Parameters:
    ///   - x: the α coordinates.
    ///   - y: the β coordinates, or `nil` for a 1-D slice.
    ///   - metrics: `(name, values)` pairs, values in x-fastest order.
    ///   - attributes: provenance strings.
    ///   - fractions: the metrics whose values are fractions of one (accuracies), see ``fractions``.
    public init(x: [Double], y: [Double]? = nil, metrics: [(name: String, values: [Double])] = [],
                attributes: [String: String] = [:], fractions: Set<String> = []) {
        self.x = x
        self.y = y
        self.metrics = metrics
        self.attributes = attributes
        self.fractions = fractions
    }

    /// The number of x coordinates.
    public var nx: Int { x.count }
    /// The number of y coordinates; 1 for a 1-D table.
    public var ny: Int { y?.count ?? 1 }
    /// Whether the table is a 2-D surface (`y != nil`).
    public var isTwoDimensional: Bool { y != nil }
    /// The number of grid points, `nx * ny`.
    public var pointCount: Int { nx * ny }
    /// The metric names, in export order.
    public var metricNames: [String] { metrics.map(\.name) }

    /// The values of the metric called `name` (x-fastest order), or `nil` if there is none.
    public func values(of name: String) -> [Double]? {
        metrics.first(where: { $0.name == name })?.values
    }

    /// Checks the invariants every exporter relies on.
    ///
    /// - Throws: ``ExportError`` naming the field or metric at fault:
    ///   ``ExportError/emptyAxis(_:)`` when `x` (or a non-nil `y`) is empty;
    ///   ``ExportError/nonFiniteCoordinate(axis:index:value:)`` for a NaN or infinite
    ///   coordinate; ``ExportError/invalidMetricName(_:reason:)`` for a name that is empty,
    ///   not an identifier or reserved; ``ExportError/duplicateMetricName(_:)``;
    ///   ``ExportError/valueCountMismatch(metric:expected:actual:nx:ny:)`` when a metric
    ///   does not have `nx * ny` values; ``ExportError/unknownMetric(_:available:)`` when
    ///   ``fractions`` names a metric the table does not have;
    ///   ``ExportError/invalidAttribute(key:reason:)`` for a
    ///   bad attribute key or a value with NUL, CR or LF.
    public func validate() throws(ExportError) {
        try Self.checkAxis("x", x)
        if let y { try Self.checkAxis("y", y) }
        var seen = Set<String>()
        for (name, values) in metrics {
            if let problem = Self.metricNameProblem(name) { throw .invalidMetricName(name, reason: problem) }
            guard seen.insert(name).inserted else { throw .duplicateMetricName(name) }
            guard values.count == pointCount else {
                throw .valueCountMismatch(metric: name, expected: pointCount, actual: values.count, nx: nx, ny: y?.count)
            }
        }
        for name in fractions.sorted() where !seen.contains(name) {
            throw .unknownMetric(name, available: metricNames)
        }
        for key in attributes.keys.sorted() {
            if let problem = Self.attributeKeyProblem(key) { throw .invalidAttribute(key: key, reason: problem) }
            let value = attributes[key]!
            if value.unicodeScalars.contains(where: { $0 == "\0" || $0 == "\n" || $0 == "\r" }) {
                throw .invalidAttribute(key: key, reason: "its value contains a NUL, CR or LF character; attribute values must be one-line strings (encode structured values as compact JSON)")
            }
        }
    }

    /// Compares two tables. Metric values and coordinates compare with `==` except that
    /// NaN equals NaN (so a table with missing points equals its own copy); metric order
    /// matters, attribute order does not.
    public static func == (lhs: SurfaceTable, rhs: SurfaceTable) -> Bool {
        func same(_ a: [Double], _ b: [Double]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        }
        guard same(lhs.x, rhs.x), lhs.attributes == rhs.attributes, lhs.fractions == rhs.fractions,
              lhs.metrics.count == rhs.metrics.count else { return false }
        switch (lhs.y, rhs.y) {
        case (nil, nil): break
        case let (a?, b?): guard same(a, b) else { return false }
        default: return false
        }
        return zip(lhs.metrics, rhs.metrics).allSatisfy { $0.name == $1.name && same($0.values, $1.values) }
    }

    // MARK: - Rules

    static func checkAxis(_ axis: String, _ values: [Double]) throws(ExportError) {
        guard !values.isEmpty else { throw .emptyAxis(axis) }
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteCoordinate(axis: axis, index: i, value: values[i])
        }
    }

    /// Why `name` cannot be a metric name, or `nil` when it can.
    static func metricNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if !isIdentifier(name, extra: []) {
            return "it must match [A-Za-z_][A-Za-z0-9_]* so that it is a valid CSV header, NPZ member, HDF5 dataset and Python identifier"
        }
        if reservedNames.contains(name) {
            return "it is reserved for coordinates or metadata (reserved: \(reservedNames.sorted().joined(separator: ", ")))"
        }
        return nil
    }

    /// Why `key` cannot be an attribute key, or `nil` when it can.
    static func attributeKeyProblem(_ key: String) -> String? {
        if key.isEmpty { return "the key is empty" }
        if !isIdentifier(key, extra: [UInt8(ascii: "."), UInt8(ascii: "-")]) {
            return "the key must match [A-Za-z_][A-Za-z0-9_.-]*"
        }
        return nil
    }

    /// ASCII identifier check: a letter or underscore, then letters, digits, underscores
    /// or any of `extra`.
    static func isIdentifier(_ s: String, extra: Set<UInt8>) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        func digit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        return letter(first) && bytes.dropFirst().allSatisfy { letter($0) || digit($0) || extra.contains($0) }
    }
}

/// What can go wrong when validating or exporting a ``SurfaceTable``. Every message names
/// the field, metric, attribute or file at fault and says what to change.
public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// A coordinate axis (`"x"` or `"y"`) has no values.
    case emptyAxis(String)
    /// A coordinate is NaN or infinite.
    case nonFiniteCoordinate(axis: String, index: Int, value: Double)
    /// A metric name is empty, not an identifier, or reserved.
    case invalidMetricName(String, reason: String)
    /// Two metrics share a name.
    case duplicateMetricName(String)
    /// A metric does not have one value per grid point (`ny` is `nil` for a 1-D table).
    case valueCountMismatch(metric: String, expected: Int, actual: Int, nx: Int, ny: Int?)
    /// An attribute key or value cannot be stored in every format.
    case invalidAttribute(key: String, reason: String)
    /// The format (e.g. `"VTK"`) can only represent a 2-D surface.
    case requiresTwoDimensionalGrid(format: String)
    /// A metric was asked for by name (e.g. the VTK height metric) but the table has none
    /// by that name.
    case unknownMetric(String, available: [String])
    /// A value cannot be written faithfully in the chosen format (e.g. a non-positive
    /// value on a log scale, or -inf in ASCII VTK).
    case unrepresentableValue(metric: String, x: Double, y: Double?, value: Double, reason: String)
    /// An HDF5 library call failed while writing `path`; `detail` carries HDF5's own
    /// error-stack description when it has one.
    case hdf5Failure(path: String, operation: String, detail: String)
    /// Writing `path` failed (missing directory, permissions, full disk, …).
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .emptyAxis(let axis):
            return "surface table: '\(axis)' has no coordinates; every axis needs at least one"
        case .nonFiniteCoordinate(let axis, let index, let value):
            return "surface table: coordinate \(axis)[\(index)] is \(value); coordinates must be finite"
        case .invalidMetricName(let name, let reason):
            return "surface table: metric name '\(name)' is invalid: \(reason)"
        case .duplicateMetricName(let name):
            return "surface table: metric '\(name)' appears more than once; metric names must be unique"
        case .valueCountMismatch(let metric, let expected, let actual, let nx, let ny):
            let grid = ny.map { "\(nx) x \(String($0)) grid (nx * ny, x fastest)" } ?? "1-D grid of \(nx) points"
            return "surface table: metric '\(metric)' has \(actual) values but the \(grid) needs \(expected)"
        case .invalidAttribute(let key, let reason):
            return "surface table: attribute '\(key)' is invalid: \(reason)"
        case .requiresTwoDimensionalGrid(let format):
            return "\(format) export needs a 2-D grid (the table has no y coordinates); export a 1-D slice as CSV, NPZ or HDF5 instead"
        case .unknownMetric(let name, let available):
            let list = available.isEmpty ? "the table has no metrics" : "available: \(available.joined(separator: ", "))"
            return "surface table has no metric '\(name)' (\(list))"
        case .unrepresentableValue(let metric, let x, let y, let value, let reason):
            let at = y.map { "(x=\(x), y=\($0))" } ?? "x=\(x)"
            return "metric '\(metric)' has value \(value) at \(at): \(reason)"
        case .hdf5Failure(let path, let operation, let detail):
            return "\(path): HDF5 \(operation) failed" + (detail.isEmpty ? "" : ": \(detail)")
        case .writeFailed(let path, let reason):
            return "\(path): cannot write file: \(reason)"
        }
    }

    public var errorDescription: String? { description }

    /// Case-and-payload equality, where a NaN payload equals NaN (so an error about a NaN
    /// coordinate equals itself).
    public static func == (lhs: ExportError, rhs: ExportError) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        switch (lhs, rhs) {
        case let (.emptyAxis(a), .emptyAxis(b)): return a == b
        case let (.nonFiniteCoordinate(a1, i1, v1), .nonFiniteCoordinate(a2, i2, v2)):
            return a1 == a2 && i1 == i2 && same(v1, v2)
        case let (.invalidMetricName(n1, r1), .invalidMetricName(n2, r2)): return n1 == n2 && r1 == r2
        case let (.duplicateMetricName(a), .duplicateMetricName(b)): return a == b
        case let (.valueCountMismatch(m1, e1, a1, x1, y1), .valueCountMismatch(m2, e2, a2, x2, y2)):
            return m1 == m2 && e1 == e2 && a1 == a2 && x1 == x2 && y1 == y2
        case let (.invalidAttribute(k1, r1), .invalidAttribute(k2, r2)): return k1 == k2 && r1 == r2
        case let (.requiresTwoDimensionalGrid(a), .requiresTwoDimensionalGrid(b)): return a == b
        case let (.unknownMetric(n1, a1), .unknownMetric(n2, a2)): return n1 == n2 && a1 == a2
        case let (.unrepresentableValue(m1, x1, y1, v1, r1), .unrepresentableValue(m2, x2, y2, v2, r2)):
            return m1 == m2 && same(x1, x2) && y1.map { y in y2.map { same(y, $0) } ?? false } ?? (y2 == nil)
                && same(v1, v2) && r1 == r2
        case let (.hdf5Failure(p1, o1, d1), .hdf5Failure(p2, o2, d2)): return p1 == p2 && o1 == o2 && d1 == d2
        case let (.writeFailed(p1, r1), .writeFailed(p2, r2)): return p1 == p2 && r1 == r2
        default: return false
        }
    }
}
