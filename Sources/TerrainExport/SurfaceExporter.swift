@preconcurrency import CHDF5
import Foundation
import TerrainCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file formats ``SurfaceExporter/write(_:format:to:heightMetric:logScale:)`` can
/// produce. The raw value is the conventional file extension.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// Comma-separated text, one row per grid point (``SurfaceExporter/csv(_:)``).
    case csv
    /// A NumPy `.npz` archive (``SurfaceExporter/npz(_:)``).
    case npz
    /// An HDF5 file in loss-landscape's surface-file layout
    /// (``SurfaceExporter/hdf5(_:path:)``).
    case h5
    /// A VTK XML structured grid for ParaView (``SurfaceExporter/vts(_:heightMetric:logScale:)``).
    case vts

    /// The file extension without a dot (`"csv"`, `"npz"`, `"h5"`, `"vts"`).
    public var fileExtension: String { rawValue }

    /// The format for a file extension (case-insensitive, with or without a leading dot);
    /// `"hdf5"` and `"hdf"` also mean ``h5``. `nil` for anything else.
    public init?(fileExtension: String) {
        var e = fileExtension.lowercased()
        if e.hasPrefix(".") { e.removeFirst() }
        switch e {
        case "hdf5", "hdf": self = .h5
        default:
            guard let f = ExportFormat(rawValue: e) else { return nil }
            self = f
        }
    }
}

/// Exporters of a ``SurfaceTable`` to formats the Python and ParaView world reads: CSV,
/// NumPy `.npz`, HDF5 (tomgoldstein/loss-landscape's surface-file layout) and VTK XML
/// structured grids (`.vts`). `docs/exports.md` documents each layout with Python snippets.
///
/// Every exporter validates the table first (``SurfaceTable/validate()``) and throws its
/// ``ExportError`` unchanged. The output is deterministic: the same table gives the same
/// bytes (attributes are written in sorted key order; HDF5 files carry no timestamps).
public enum SurfaceExporter {

    // MARK: - CSV

    /// Renders the table as CSV text.
    ///
    /// Layout: one `# key: value` comment line per attribute (sorted by key), then the
    /// header `x,y,<metric>,…` (`x,<metric>,…` for a 1-D table), then one row per grid point
    /// in x-fastest order (row `j * nx + i` is the point `(x[i], y[j])`). Numbers use
    /// Swift's shortest round-trip representation (parsing them back gives the identical
    /// `Double`); NaN is written `nan`, infinities `inf` and `-inf`. Lines end in `\n`.
    ///
    /// Readable with `pandas.read_csv(path, comment="#")` or
    /// `numpy.genfromtxt(path, delimiter=",", names=True, comments="#")`.
    /// - Throws: ``ExportError`` when the table is invalid (see ``SurfaceTable/validate()``).
    public static func csv(_ table: SurfaceTable) throws(ExportError) -> String {
        try table.validate()
        var out = ""
        out.reserveCapacity(64 + table.pointCount * (table.metrics.count + 2) * 12)
        for key in table.attributes.keys.sorted() {
            out += "# \(key): \(table.attributes[key]!)\n"
        }
        var header = table.isTwoDimensional ? ["x", "y"] : ["x"]
        header += table.metricNames
        out += header.joined(separator: ",")
        out += "\n"
        let nx = table.nx
        for j in 0..<table.ny {
            for i in 0..<nx {
                out += number(table.x[i])
                if let y = table.y { out += ","; out += number(y[j]) }
                let k = j * nx + i
                for m in table.metrics { out += ","; out += number(m.values[k]) }
                out += "\n"
            }
        }
        return out
    }

    // MARK: - NPZ

    /// Encodes the table as a NumPy `.npz` archive (stored, uncompressed ZIP).
    ///
    /// Members, in this order:
    /// - `x`: float64, shape `(nx,)`;
    /// - `y`: float64, shape `(ny,)` — 2-D tables only;
    /// - one float64 array per metric, named after it, of shape `(ny, nx)` for a 2-D table
    ///   (`d[m][j, i]` is the value at `(x[i], y[j])`, so
    ///   `plt.contourf(d["x"], d["y"], d["train_loss"])` works as is) or `(nx,)` for 1-D;
    ///   NaN marks missing points;
    /// - `attributes`: uint8, shape `(n,)`, the UTF-8 bytes of a JSON object of the
    ///   attributes (string values, sorted keys; `{}` when there are none). Read it with
    ///   `json.loads(d["attributes"].tobytes())` — no `allow_pickle` needed.
    /// - Throws: ``ExportError`` when the table is invalid (see ``SurfaceTable/validate()``).
    public static func npz(_ table: SurfaceTable) throws(ExportError) -> [UInt8] {
        try table.validate()
        var arrays: [(name: String, npy: [UInt8])] = [("x", NPY.encode(doubles: table.x, shape: [table.nx]))]
        if let y = table.y { arrays.append(("y", NPY.encode(doubles: y, shape: [y.count]))) }
        let shape = table.isTwoDimensional ? [table.ny, table.nx] : [table.nx]
        for m in table.metrics {
            arrays.append((m.name, NPY.encode(doubles: m.values, shape: shape)))
        }
        arrays.append(("attributes", attributesNPY(table.attributes)))
        return NPZ.write(arrays)
    }

    /// The attributes as an NPZ member: the UTF-8 bytes of their JSON object, dtype `|u1`.
    static func attributesNPY(_ attributes: [String: String]) -> [UInt8] {
        let json = Array(attributesJSON(attributes).utf8)
        return NPY.encode(uint8s: json, shape: [json.count])
    }

    /// The attributes as a compact JSON object with sorted keys and string values, e.g.
    /// `{"normalization":"filter","spec_hash":"ab12"}`; `{}` when empty. Non-ASCII
    /// characters are kept as UTF-8; `"`, `\` and control characters are escaped.
    public static func attributesJSON(_ attributes: [String: String]) -> String {
        let quote = SafeTensors.jsonString
        let body = attributes.keys.sorted().map { "\(quote($0)):\(quote(attributes[$0]!))" }
        return "{" + body.joined(separator: ",") + "}"
    }

    // MARK: - HDF5

    /// Writes the table as an HDF5 file in the layout of tomgoldstein/loss-landscape's
    /// surface files, replacing `path` atomically (the file is written next to it under a
    /// temporary name and renamed into place, so readers never see a partial file).
    ///
    /// Contents of the root group:
    /// - dataset `xcoordinates`: float64 (IEEE little-endian), shape `(nx,)`;
    /// - dataset `ycoordinates`: float64, shape `(ny,)` — 2-D tables only;
    /// - one float64 dataset per metric, named after it, of shape `(ny, nx)` with
    ///   `f[m][j, i]` the value at `(x[i], y[j])` (x fastest on disk, as loss-landscape's
    ///   `crunch()` fills its arrays and as its `plot_2D.py` reads them with
    ///   `contour(*meshgrid(x, y), Z)`), or `(nx,)` for 1-D; NaN marks missing points. For
    ///   square grids the shape and bytes are exactly those of loss-landscape's own files;
    ///   the same array layout as the NPZ export;
    /// - the table's ``SurfaceTable/fractions`` (accuracies) **in percent** (each value ×100),
    ///   as loss-landscape stores accuracy (`100.*correct/total`; its `plot_1D.py` draws
    ///   `100 - acc` as the error), each with a string attribute `units = "percent"`. Files
    ///   written before this attribute existed hold fractions;
    /// - one scalar fixed-length, NUL-terminated UTF-8 string attribute per table attribute
    ///   (h5py returns them as `bytes`; `.decode()` them).
    ///
    /// Object modification times are not recorded, so the file is byte-for-byte
    /// deterministic. HDF5 calls are serialized process-wide (the Debian serial library is
    /// not thread-safe); HDF5's automatic error printing is switched off.
    /// - Throws: ``ExportError`` when the table is invalid; ``ExportError/writeFailed(path:reason:)``
    ///   when the directory of `path` does not exist or the file cannot be moved into
    ///   place; ``ExportError/hdf5Failure(path:operation:detail:)`` naming `path`, the call
    ///   and HDF5's error-stack description when the library fails (permissions, full disk,
    ///   an attribute value beyond HDF5's 64 KiB attribute limit, …). No partial file is
    ///   left behind on failure.
    public static func hdf5(_ table: SurfaceTable, path: String) throws(ExportError) {
        try table.validate()
        try HDF5Writer.write(table, path: path)
    }

    // MARK: - VTK

    /// Renders a 2-D table as an ASCII VTK XML structured grid (`.vts`) for ParaView.
    ///
    /// The grid has whole extent `0 nx-1 0 ny-1 0 0`; point `j * nx + i` (x fastest, VTK's
    /// own order) is at `(x[i], y[j], z)` with `z` the value of `heightMetric` there, or its
    /// `log10` when `logScale` is true. Every metric is a Float64 `PointData` array named
    /// after it; with `logScale` an extra array `log10(<heightMetric>)` holds the heights.
    /// The height array is the active scalar. Attributes become `FieldData` string arrays
    /// (one tuple each). NaN (missing points) is written `nan`, `+inf` as `inf`; VTK 9.2+
    /// reads both (ParaView leaves NaN points out of ranges; quads touching them are not
    /// drawn sensibly, so consider filtering with Threshold).
    ///
    /// - Throws: ``ExportError/requiresTwoDimensionalGrid(format:)`` for a 1-D table;
    ///   ``ExportError/unknownMetric(_:available:)`` when `heightMetric` is not a metric;
    ///   ``ExportError/unrepresentableValue(metric:x:y:value:reason:)`` for a value `<= 0`
    ///   of the height metric when `logScale` is true, and for `-inf` anywhere (VTK's ASCII
    ///   reader turns `-inf` into `+inf`); any validation error of the table.
    public static func vts(_ table: SurfaceTable, heightMetric: String, logScale: Bool = false) throws(ExportError) -> String {
        try table.validate()
        guard let y = table.y else { throw .requiresTwoDimensionalGrid(format: "VTK (.vts)") }
        guard let height = table.values(of: heightMetric) else {
            throw .unknownMetric(heightMetric, available: table.metricNames)
        }
        let nx = table.nx, ny = y.count
        func point(_ k: Int) -> (Double, Double) { (table.x[k % nx], y[k / nx]) }
        var z = height
        if logScale {
            for k in z.indices where !z[k].isNaN {
                guard z[k] > 0 else {
                    let (px, py) = point(k)
                    throw .unrepresentableValue(metric: heightMetric, x: px, y: py, value: z[k],
                                                reason: "a log-scale height needs positive values; export with logScale: false or drop the point (set it to NaN)")
                }
                z[k] = log10(z[k])
            }
        }
        var arrays = table.metrics.map { (name: $0.name, values: $0.values) }
        let scalarsName = logScale ? "log10(\(heightMetric))" : heightMetric
        if logScale { arrays.append((scalarsName, z)) }
        for a in arrays {
            if let k = a.values.firstIndex(of: -.infinity) {
                let (px, py) = point(k)
                throw .unrepresentableValue(metric: a.name, x: px, y: py, value: -.infinity,
                                            reason: "VTK's ASCII reader reads -inf as +inf; replace it with NaN or a finite value before exporting to .vts")
            }
        }

        let extent = "0 \(nx - 1) 0 \(ny - 1) 0 0"
        var out = "<?xml version=\"1.0\"?>\n"
        out += "<VTKFile type=\"StructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
        out += "  <StructuredGrid WholeExtent=\"\(extent)\">\n"
        if !table.attributes.isEmpty {
            out += "    <FieldData>\n"
            for key in table.attributes.keys.sorted() {
                // VTK's ASCII string arrays are the UTF-8 bytes of each string, NUL-terminated.
                let codes = Array(table.attributes[key]!.utf8).map(String.init) + ["0"]
                out += "      <DataArray type=\"String\" Name=\"\(key)\" NumberOfTuples=\"1\" format=\"ascii\">\n"
                out += wrapped(codes, perLine: 20, indent: "        ")
                out += "      </DataArray>\n"
            }
            out += "    </FieldData>\n"
        }
        out += "    <Piece Extent=\"\(extent)\">\n"
        out += "      <PointData Scalars=\"\(scalarsName)\">\n"
        for a in arrays {
            out += "        <DataArray type=\"Float64\" Name=\"\(a.name)\" NumberOfComponents=\"1\" format=\"ascii\">\n"
            out += wrapped(a.values.map(number), perLine: 6, indent: "          ")
            out += "        </DataArray>\n"
        }
        out += "      </PointData>\n"
        out += "      <Points>\n"
        out += "        <DataArray type=\"Float64\" Name=\"Points\" NumberOfComponents=\"3\" format=\"ascii\">\n"
        for k in 0..<(nx * ny) {
            let (px, py) = point(k)
            out += "          \(number(px)) \(number(py)) \(number(z[k]))\n"
        }
        out += "        </DataArray>\n"
        out += "      </Points>\n"
        out += "    </Piece>\n"
        out += "  </StructuredGrid>\n"
        out += "</VTKFile>\n"
        return out
    }

    // MARK: - Files

    /// Exports `table` in `format` to `path`, replacing any existing file atomically (the
    /// content is written to a temporary file in the same directory and renamed into
    /// place).
    ///
    /// - Parameters:
    ///   - heightMetric: the metric used as height for ``ExportFormat/vts``; defaults to
    ///     the first metric. Ignored by the other formats.
    ///   - logScale: whether the `.vts` height is `log10` of the metric. Ignored by the
    ///     other formats.
    /// - Throws: whatever the chosen exporter throws; ``ExportError/unknownMetric(_:available:)``
    ///   for a `.vts` export of a table without metrics; ``ExportError/writeFailed(path:reason:)``
    ///   naming `path` when the file cannot be written.
    public static func write(_ table: SurfaceTable, format: ExportFormat, to path: String,
                             heightMetric: String? = nil, logScale: Bool = false) throws(ExportError) {
        let bytes: [UInt8]
        switch format {
        case .csv: bytes = Array(try csv(table).utf8)
        case .npz: bytes = try npz(table)
        case .vts:
            guard let name = heightMetric ?? table.metrics.first?.name else {
                throw .unknownMetric("(height metric)", available: [])
            }
            bytes = Array(try vts(table, heightMetric: name, logScale: logScale).utf8)
        case .h5:
            try hdf5(table, path: path)
            return
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .writeFailed(path: path, reason: describe(error))
        }
    }

    // MARK: - Helpers

    /// Shortest round-trip text of `v`; `nan`, `inf`, `-inf` for the non-finite values.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        return v.description
    }

    /// `items` separated by spaces, `perLine` to a line, each line indented.
    static func wrapped(_ items: [String], perLine: Int, indent: String) -> String {
        var out = ""
        var start = 0
        while start < items.count {
            let end = min(start + perLine, items.count)
            out += indent + items[start..<end].joined(separator: " ") + "\n"
            start = end
        }
        return out
    }

    /// A readable reason for a Foundation or POSIX error.
    /// The operating system's reason for a failed file write ("No space left on device"),
    /// rather than Foundation's generic description.
    public static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return error.localizedDescription
    }
}

// MARK: - HDF5 writer

/// The HDF5 C-API calls behind ``SurfaceExporter/hdf5(_:path:)``.
///
/// Notes on the Swift import of `<hdf5.h>`: the predefined-type macros
/// (`H5T_NATIVE_DOUBLE`, `H5T_C_S1`, `H5P_FILE_CREATE`, …) expand to `(H5open(), X_g)`
/// and do not import; we call `H5open()` and read the `_g` globals directly, which Swift 6
/// only allows through `@preconcurrency import` (they are mutable C globals). The file
/// access flags (`H5F_ACC_TRUNC`, …) likewise expand to calls and are spelled out here.
enum HDF5Writer {
    /// `H5F_ACC_TRUNC` from `H5Fpublic.h`.
    static let accTrunc: UInt32 = 0x0002
    /// `H5P_DEFAULT`, `H5E_DEFAULT` and `H5S_ALL` are all `(hid_t)0`; Swift imports the
    /// macros as `Int32`, so they are restated as `hid_t` here.
    static let defaultPlist: hid_t = 0
    static let defaultStack: hid_t = 0
    static let allSelection: hid_t = 0
    /// Serializes every HDF5 call of this module: Debian's serial libhdf5 is not built
    /// thread-safe.
    static let lock = NSLock()

    static func write(_ table: SurfaceTable, path: String) throws(ExportError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .writeFailed(path: path, reason: "directory '\(directory)' does not exist")
        }
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString)").path

        lock.lock()
        defer { lock.unlock() }
        do {
            try writeFile(table, to: temp, reportingAs: path)
        } catch {
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw .writeFailed(path: path, reason: "cannot move the finished file into place: \(reason)")
        }
    }

    /// Writes the whole file at `temp`; errors name `path`. Every handle is closed on every
    /// path out.
    private static func writeFile(_ table: SurfaceTable, to temp: String, reportingAs path: String) throws(ExportError) {
        func failure(_ operation: String) -> ExportError {
            .hdf5Failure(path: path, operation: operation, detail: errorStack())
        }
        guard H5open() >= 0 else { throw failure("H5open (library initialization)") }
        H5Eset_auto2(defaultStack, nil, nil)
        H5Eclear2(defaultStack)

        let fcpl = H5Pcreate(H5P_CLS_FILE_CREATE_ID_g)
        guard fcpl >= 0 else { throw failure("H5Pcreate (file creation properties)") }
        defer { H5Pclose(fcpl) }
        guard H5Pset_obj_track_times(fcpl, false) >= 0 else { throw failure("H5Pset_obj_track_times (file)") }
        let dcpl = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
        guard dcpl >= 0 else { throw failure("H5Pcreate (dataset creation properties)") }
        defer { H5Pclose(dcpl) }
        guard H5Pset_obj_track_times(dcpl, false) >= 0 else { throw failure("H5Pset_obj_track_times (dataset)") }

        let file = H5Fcreate(temp, accTrunc, fcpl, defaultPlist)
        guard file >= 0 else { throw failure("H5Fcreate") }
        var fileOpen = true
        defer { if fileOpen { H5Fclose(file) } }

        let nx = table.nx
        try writeDataset(file, "xcoordinates", table.x, dims: [nx], dcpl: dcpl, failure)
        if let y = table.y {
            let ny = y.count
            try writeDataset(file, "ycoordinates", y, dims: [ny], dcpl: dcpl, failure)
            // The table is x fastest (index j*nx+i), which is the C order of a (ny, nx) array.
            for m in table.metrics {
                try writeMetric(file, m, percent: table.fractions.contains(m.name), dims: [ny, nx], dcpl: dcpl, failure)
            }
        } else {
            for m in table.metrics { try writeMetric(file, m, percent: table.fractions.contains(m.name), dims: [nx], dcpl: dcpl, failure) }
        }
        for key in table.attributes.keys.sorted() {
            try writeStringAttribute(file, key, table.attributes[key]!, failure)
        }

        guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw failure("H5Fflush") }
        fileOpen = false
        guard H5Fclose(file) >= 0 else { throw failure("H5Fclose (flushing the file)") }
    }

    /// A metric's dataset; a fraction (accuracy) is written in percent with `units = "percent"`,
    /// loss-landscape's unit.
    private static func writeMetric(_ file: hid_t, _ metric: (name: String, values: [Double]), percent: Bool, dims: [Int], dcpl: hid_t,
                                    _ failure: (String) -> ExportError) throws(ExportError) {
        guard percent else { return try writeDataset(file, metric.name, metric.values, dims: dims, dcpl: dcpl, failure) }
        try writeDataset(file, metric.name, metric.values.map { $0 * 100 }, dims: dims, dcpl: dcpl, units: "percent", failure)
    }

    private static func writeDataset(_ file: hid_t, _ name: String, _ values: [Double], dims: [Int], dcpl: hid_t, units: String? = nil,
                                     _ failure: (String) -> ExportError) throws(ExportError) {
        let hdims = dims.map { hsize_t($0) }
        let space = hdims.withUnsafeBufferPointer { H5Screate_simple(Int32($0.count), $0.baseAddress, nil) }
        guard space >= 0 else { throw failure("H5Screate_simple for dataset '\(name)'") }
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(file, name, H5T_IEEE_F64LE_g, space, defaultPlist, dcpl, defaultPlist)
        guard dataset >= 0 else { throw failure("H5Dcreate2 for dataset '\(name)'") }
        let status = values.withUnsafeBufferPointer {
            H5Dwrite(dataset, H5T_NATIVE_DOUBLE_g, allSelection, allSelection, defaultPlist, $0.baseAddress)
        }
        var unitsError: ExportError?
        if status >= 0, let units {
            do { try writeStringAttribute(dataset, "units", units, failure) } catch { unitsError = error }
        }
        // Closing a dataset may flush its data: its result is checked like the write's.
        let closed = H5Dclose(dataset)
        guard status >= 0 else { throw failure("H5Dwrite for dataset '\(name)'") }
        if let unitsError { throw unitsError }
        guard closed >= 0 else { throw failure("H5Dclose for dataset '\(name)'") }
    }

    /// A string attribute of `file` (the root group) or of a dataset.
    private static func writeStringAttribute(_ file: hid_t, _ key: String, _ value: String,
                                             _ failure: (String) -> ExportError) throws(ExportError) {
        let bytes = Array(value.utf8) + [0]
        let type = H5Tcopy(H5T_C_S1_g)
        guard type >= 0 else { throw failure("H5Tcopy for attribute '\(key)'") }
        defer { H5Tclose(type) }
        guard H5Tset_size(type, bytes.count) >= 0,
              H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0,
              H5Tset_cset(type, H5T_CSET_UTF8) >= 0 else {
            throw failure("H5Tset_size/strpad/cset for attribute '\(key)'")
        }
        let space = H5Screate(H5S_SCALAR)
        guard space >= 0 else { throw failure("H5Screate for attribute '\(key)'") }
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(file, key, type, space, defaultPlist, defaultPlist)
        guard attribute >= 0 else {
            let hint = bytes.count > 60_000 ? " (the value is \(bytes.count) bytes; HDF5 attributes hold at most about 64 KiB)" : ""
            throw failure("H5Acreate2 for attribute '\(key)'\(hint)")
        }
        let written = bytes.withUnsafeBufferPointer { H5Awrite(attribute, type, $0.baseAddress) }
        let closed = H5Aclose(attribute)
        guard written >= 0 else { throw failure("H5Awrite for attribute '\(key)'") }
        guard closed >= 0 else { throw failure("H5Aclose for attribute '\(key)'") }
    }

    /// The outermost and innermost descriptions on the current HDF5 error stack (the
    /// innermost is the most specific, e.g. "errno = 13, error message = 'Permission
    /// denied'"), whitespace collapsed, joined with "; "; empty when the stack is empty.
    /// Clears the stack.
    private static func errorStack() -> String {
        final class Collector { var lines: [String] = [] }
        let collector = Collector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        _ = H5Ewalk2(defaultStack, H5E_WALK_DOWNWARD, { _, entry, context in
            guard let entry, let context else { return 0 }
            let c = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
            if let desc = entry.pointee.desc {
                let text = String(cString: desc)
                if !text.isEmpty, !c.lines.contains(text) { c.lines.append(text) }
            }
            return 0
        }, context)
        H5Eclear2(defaultStack)
        withExtendedLifetime(collector) {}
        var picked = collector.lines
        if picked.count > 2 { picked = [picked.first!, picked.last!] }
        return picked.map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }.joined(separator: "; ")
    }
}
