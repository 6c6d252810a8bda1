import Foundation
import TerrainCore

/// A table of training-run results — the dataset's `runs` or `curve_points` — as named
/// columns, ready to be written as CSV or stored in an NPZ archive (docs/exports.md).
public struct RunTable: Sendable, Equatable {
    /// One column's values; `nil` is a missing value (SQL NULL).
    public enum Column: Sendable, Equatable {
        case integers([Int64?])
        case reals([Double?])
        case texts([String?])

        /// Number of rows.
        public var count: Int {
            switch self {
            case .integers(let v): return v.count
            case .reals(let v): return v.count
            case .texts(let v): return v.count
            }
        }
    }

    /// The columns in order.
    public var columns: [(name: String, values: Column)]

    /// Creates a table; every column must have the same number of rows (checked by the writers).
    public init(columns: [(name: String, values: Column)]) {
        self.columns = columns
    }

    public static func == (a: RunTable, b: RunTable) -> Bool {
        a.columns.map(\.name) == b.columns.map(\.name) && a.columns.map(\.values) == b.columns.map(\.values)
    }

    /// Number of rows (0 for a table without columns).
    public var rowCount: Int { columns.first?.values.count ?? 0 }

    /// The column named `name`.
    public func column(_ name: String) -> Column? { columns.first { $0.name == name }?.values }

    /// Throws ``ExportError/valueCountMismatch(metric:expected:actual:nx:ny:)`` when columns
    /// differ in length, ``ExportError/invalidMetricName(_:reason:)`` for an empty name.
    public func validate() throws(ExportError) {
        for c in columns {
            if c.name.isEmpty { throw .invalidMetricName(c.name, reason: "a column needs a name") }
            if c.values.count != rowCount {
                throw .valueCountMismatch(metric: c.name, expected: rowCount, actual: c.values.count, nx: rowCount, ny: nil)
            }
        }
    }

    /// CSV with a header row; missing values are empty fields; reals use Swift's shortest
    /// round-trip form (`inf`, `-inf` for infinities); text is quoted when it contains a
    /// comma, quote or newline. Readable with `pandas.read_csv(path)`.
    public func csv() throws(ExportError) -> String {
        try validate()
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = columns.map { quote($0.name) }.joined(separator: ",") + "\n"
        for r in 0..<rowCount {
            out += columns.map { c -> String in
                switch c.values {
                case .integers(let v): return v[r].map(String.init) ?? ""
                case .reals(let v): return v[r].map(SurfaceExporter.number) ?? ""
                case .texts(let v): return v[r].map(quote) ?? ""
                }
            }.joined(separator: ",")
            out += "\n"
        }
        return out
    }

    /// The table as NPZ members `<prefix><column>`, one 1-D array per column: integers as
    /// int64 (float64 with NaN when a value is missing), reals as float64 (NaN = missing),
    /// text as numpy unicode `<U…` (empty string = missing) — no pickles.
    public func npyMembers(prefix: String) throws(ExportError) -> [(name: String, npy: [UInt8])] {
        try validate()
        return columns.map { c in
            let npy: [UInt8]
            switch c.values {
            case .integers(let v):
                if v.contains(where: { $0 == nil }) {
                    npy = NPY.encode(doubles: v.map { $0.map(Double.init) ?? .nan }, shape: [v.count])
                } else {
                    npy = NPY.encode(int64s: v.map { $0! }, shape: [v.count])
                }
            case .reals(let v):
                npy = NPY.encode(doubles: v.map { $0 ?? .nan }, shape: [v.count])
            case .texts(let v):
                npy = NPY.encode(strings: v.map { $0 ?? "" }, shape: [v.count])
            }
            return (prefix + c.name, npy)
        }
    }

    /// An NPZ archive of several tables, each column under `<table>.<column>`, plus
    /// `attributes` (the UTF-8 bytes of a JSON object, as in surface exports).
    public static func npz(_ tables: [(name: String, table: RunTable)], attributes: [String: String]) throws(ExportError) -> [UInt8] {
        var members = [(name: String, npy: [UInt8])]()
        for t in tables { members += try t.table.npyMembers(prefix: t.name + ".") }
        members.append(("attributes", SurfaceExporter.attributesNPY(attributes)))
        return NPZ.write(members)
    }
}
