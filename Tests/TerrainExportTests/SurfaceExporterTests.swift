@preconcurrency import CHDF5
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TerrainCore
import TerrainExport
import XCTest

/// Exports of loss-surface grids: CSV, NPZ, HDF5 (loss-landscape layout) and VTK, read back
/// with Terrain's own readers, the HDF5 C API and (when available) numpy/h5py.
final class SurfaceExporterTests: XCTestCase {

    // MARK: - Fixtures

    static let nx = 3, ny = 4
    static let xs: [Double] = [-0.75, 0.1, 1.0 / 3]
    static let ys: [Double] = [-1.0, -0.25, 0.2, 2.0 / 3]
    /// The missing point: (x[1], y[2]).
    static let missing = (i: 1, j: 2)

    static func loss(_ i: Int, _ j: Int) -> Double {
        (i, j) == (missing.i, missing.j) ? .nan : 1 + Double(i) / 3 + Double(j) * 0.7
    }
    static func acc(_ i: Int, _ j: Int) -> Double { 0.9 - 0.01 * Double(i) - 0.001 * Double(j) }

    static let attributes = [
        "spec_hash": "3f2a9c",
        "normalization": "filter",
        "directions": #"{"x":"random(seed=1)","y":"random(seed=2)"}"#,
        "note": "α/β grid, ünïcode \\ \"quoted\"",
    ]

    /// A 3×4 surface with one NaN, x fastest; `train_acc` is a fraction.
    static func table2D() -> SurfaceTable {
        var lossValues = [Double](), accValues = [Double]()
        for j in 0..<ny { for i in 0..<nx { lossValues.append(loss(i, j)); accValues.append(acc(i, j)) } }
        return SurfaceTable(x: xs, y: ys, metrics: [("train_loss", lossValues), ("train_acc", accValues)],
                            attributes: attributes, fractions: ["train_acc"])
    }

    /// A 1-D slice of 5 points with a NaN at index 3.
    static func table1D() -> SurfaceTable {
        SurfaceTable(x: [-1, -0.5, 0, 0.5, 1], metrics: [("test_loss", [2.5, 1.25, 0.1, .nan, 3])],
                     attributes: ["subset": "test[0:1000]"])
    }

    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("terrain-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let tempDir { try? FileManager.default.removeItem(at: tempDir) }
    }

    func path(_ name: String) -> String { tempDir.appendingPathComponent(name).path }

    /// Equal, or both NaN.
    func assertSame(_ a: Double?, _ b: Double, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        guard let a else { return XCTFail("missing value; expected \(b) \(message)", file: file, line: line) }
        if b.isNaN { XCTAssertTrue(a.isNaN, "expected NaN, got \(a) \(message)", file: file, line: line) }
        else { XCTAssertEqual(a.bitPattern, b.bitPattern, "expected \(b), got \(a) \(message)", file: file, line: line) }
    }

    // MARK: - Validation

    func testValidTablesPassValidation() throws {
        XCTAssertNoThrow(try Self.table2D().validate())
        XCTAssertNoThrow(try Self.table1D().validate())
        XCTAssertEqual(Self.table2D(), Self.table2D(), "NaN-holding tables equal their copies")
        XCTAssertNotEqual(Self.table2D(), Self.table1D())
        XCTAssertEqual(Self.table2D().nx, 3)
        XCTAssertEqual(Self.table2D().ny, 4)
        XCTAssertEqual(Self.table1D().ny, 1)
    }

    func testValidationErrorsNameTheMetricOrField() {
        func expectError(_ table: SurfaceTable, mentions words: [String], file: StaticString = #filePath, line: UInt = #line) {
            do {
                try table.validate()
                XCTFail("expected a validation error mentioning \(words)", file: file, line: line)
            } catch {
                for w in words {
                    XCTAssertTrue(error.description.contains(w), "'\(error.description)' should mention '\(w)'", file: file, line: line)
                }
                // Every exporter refuses the same table with the same error.
                XCTAssertThrowsError(try SurfaceExporter.csv(table), file: file, line: line) {
                    XCTAssertEqual($0 as? ExportError, error, file: file, line: line)
                }
                XCTAssertThrowsError(try SurfaceExporter.npz(table), file: file, line: line)
            }
        }
        var t = Self.table2D()
        t.metrics[1].values.removeLast()
        expectError(t, mentions: ["train_acc", "11", "12", "3 x 4"])

        t = Self.table2D()
        t.metrics[1].name = "train_loss"
        expectError(t, mentions: ["train_loss", "more than once"])

        t = Self.table2D()
        t.metrics[0].name = "train loss"
        expectError(t, mentions: ["'train loss'", "[A-Za-z_][A-Za-z0-9_]*"])

        t = Self.table2D()
        t.metrics[0].name = "xcoordinates"
        expectError(t, mentions: ["xcoordinates", "reserved"])

        t = Self.table2D()
        t.metrics[0].name = ""
        expectError(t, mentions: ["empty"])

        t = Self.table2D()
        t.y = []
        expectError(t, mentions: ["'y'", "no coordinates"])

        t = Self.table2D()
        t.x[2] = .nan
        expectError(t, mentions: ["x[2]", "finite"])

        t = Self.table2D()
        t.attributes["bad key"] = "v"
        expectError(t, mentions: ["'bad key'"])

        t = Self.table2D()
        t.attributes["multi"] = "line one\nline two"
        expectError(t, mentions: ["'multi'", "LF"])

        t = Self.table1D()
        t.metrics[0].values.append(1)
        expectError(t, mentions: ["test_loss", "1-D grid of 5 points", "6 values"])

        t = Self.table2D()
        t.fractions = ["test_acc"]
        expectError(t, mentions: ["test_acc", "train_loss, train_acc"])
    }

    // MARK: - CSV

    func testCSVRoundTripsThroughTerrainCSVReader() throws {
        let text = try SurfaceExporter.csv(Self.table2D())
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Attributes first, as sorted "# key: value" comments.
        let comments = Array(lines.prefix { $0.hasPrefix("#") })
        XCTAssertEqual(comments, Self.attributes.keys.sorted().map { "# \($0): \(Self.attributes[$0]!)" })
        XCTAssertEqual(lines[comments.count], "x,y,train_loss,train_acc")
        XCTAssertTrue(text.contains(",nan,"), "NaN is written as nan")

        let body = lines.dropFirst(comments.count).joined(separator: "\n")
        let parsed = try CSVTable.read(body, source: "surface.csv")
        XCTAssertEqual(parsed.header ?? [], ["x", "y", "train_loss", "train_acc"])
        XCTAssertEqual(parsed.rows, Self.nx * Self.ny)
        XCTAssertEqual(parsed.columns, 4)
        for j in 0..<Self.ny {
            for i in 0..<Self.nx {
                let r = (j * Self.nx + i) * 4  // x fastest
                assertSame(parsed.values[r], Self.xs[i], "x at row \(r / 4)")
                assertSame(parsed.values[r + 1], Self.ys[j], "y at row \(r / 4)")
                assertSame(parsed.values[r + 2], Self.loss(i, j), "train_loss at (\(i), \(j))")
                assertSame(parsed.values[r + 3], Self.acc(i, j), "train_acc at (\(i), \(j))")
            }
        }
    }

    func testCSVOneDimensionalHasNoYColumn() throws {
        let text = try SurfaceExporter.csv(Self.table1D())
        XCTAssertEqual(text, """
            # subset: test[0:1000]
            x,test_loss
            -1.0,2.5
            -0.5,1.25
            0.0,0.1
            0.5,nan
            1.0,3.0

            """)
    }

    // MARK: - NPZ

    func testNPZReadsBackWithDocumentedShapes() throws {
        let arrays = try NPZ.read(try SurfaceExporter.npz(Self.table2D()), source: "surface.npz")
        XCTAssertEqual(Set(arrays.keys), ["x", "y", "train_loss", "train_acc", "attributes"])
        XCTAssertEqual(arrays["x"]?.shape, [3])
        XCTAssertEqual(arrays["y"]?.shape, [4])
        XCTAssertEqual(arrays["train_loss"]?.shape, [4, 3], "metrics are (ny, nx)")
        XCTAssertEqual(arrays["train_loss"]?.dtype, "<f8")
        XCTAssertEqual(try arrays["x"]?.asDoubles(), Self.xs)
        XCTAssertEqual(try arrays["y"]?.asDoubles(), Self.ys)
        let loss = try XCTUnwrap(arrays["train_loss"]).asDoubles()
        let acc = try XCTUnwrap(arrays["train_acc"]).asDoubles()
        for j in 0..<Self.ny {
            for i in 0..<Self.nx {
                assertSame(loss[j * Self.nx + i], Self.loss(i, j), "train_loss[\(j), \(i)]")  // C order of (ny, nx)
                assertSame(acc[j * Self.nx + i], Self.acc(i, j), "train_acc[\(j), \(i)]")
            }
        }
        let attributes = try XCTUnwrap(arrays["attributes"])
        XCTAssertEqual(attributes.dtype, "|u1")
        let decoded = try JSONSerialization.jsonObject(with: Data(attributes.data)) as? [String: String]
        XCTAssertEqual(decoded, Self.attributes)
    }

    func testNPZOneDimensionalHasNoY() throws {
        let arrays = try NPZ.read(try SurfaceExporter.npz(Self.table1D()), source: "slice.npz")
        XCTAssertEqual(Set(arrays.keys), ["x", "test_loss", "attributes"])
        XCTAssertEqual(arrays["test_loss"]?.shape, [5])
        let values = try XCTUnwrap(arrays["test_loss"]).asDoubles()
        for (k, v) in Self.table1D().metrics[0].values.enumerated() { assertSame(values[k], v) }
        XCTAssertEqual(String(decoding: arrays["attributes"]!.data, as: UTF8.self), #"{"subset":"test[0:1000]"}"#)
    }

    // MARK: - HDF5

    func testHDF5HasLossLandscapeLayoutReadWithCAPI() throws {
        let file = path("surface.h5")
        try SurfaceExporter.hdf5(Self.table2D(), path: file)
        let h5 = try H5Reader(file)
        defer { h5.close() }
        XCTAssertEqual(try h5.names(), ["train_acc", "train_loss", "xcoordinates", "ycoordinates"])
        let x = try h5.dataset("xcoordinates")
        XCTAssertEqual(x.dims, [3])
        XCTAssertEqual(x.values, Self.xs)
        let y = try h5.dataset("ycoordinates")
        XCTAssertEqual(y.dims, [4])
        XCTAssertEqual(y.values, Self.ys)
        for name in ["train_loss", "train_acc"] {
            let d = try h5.dataset(name)
            XCTAssertEqual(d.dims, [4, 3], "\(name) is (ny, nx)")
            for i in 0..<Self.nx {
                for j in 0..<Self.ny {
                    // Accuracy in percent, as loss-landscape stores it (100.*correct/total).
                    let expected = name == "train_loss" ? Self.loss(i, j) : 100 * Self.acc(i, j)
                    assertSame(d.values[j * Self.nx + i], expected, "\(name)[\(j), \(i)]")  // C order of (ny, nx)
                }
            }
        }
        XCTAssertEqual(try h5.stringAttribute("units", of: "train_acc"), "percent")
        XCTAssertThrowsError(try h5.stringAttribute("units", of: "train_loss"), "a loss has no unit attribute")
        for (key, value) in Self.attributes {
            XCTAssertEqual(try h5.stringAttribute(key), value, "attribute \(key)")
        }
        XCTAssertThrowsError(try h5.stringAttribute("units"), "the root has only the table's attributes")
    }

    func testHDF5OneDimensionalHasNoYCoordinates() throws {
        let file = path("slice.h5")
        try SurfaceExporter.hdf5(Self.table1D(), path: file)
        let h5 = try H5Reader(file)
        defer { h5.close() }
        XCTAssertEqual(try h5.names(), ["test_loss", "xcoordinates"])
        let d = try h5.dataset("test_loss")
        XCTAssertEqual(d.dims, [5])
        for (k, v) in Self.table1D().metrics[0].values.enumerated() { assertSame(d.values[k], v) }
        XCTAssertEqual(try h5.stringAttribute("subset"), "test[0:1000]")
    }

    func testHDF5IsDeterministicAndReplacesExistingFile() throws {
        let a = path("a.h5"), b = path("b.h5")
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: a))
        try SurfaceExporter.hdf5(Self.table2D(), path: a)
        Thread.sleep(forTimeInterval: 1.1)  // a recorded timestamp would differ
        try SurfaceExporter.hdf5(Self.table2D(), path: b)
        let bytesA = try Data(contentsOf: URL(fileURLWithPath: a)), bytesB = try Data(contentsOf: URL(fileURLWithPath: b))
        XCTAssertEqual(Array(bytesA.prefix(8)), [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A], "HDF5 signature")
        XCTAssertEqual(bytesA, bytesB)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tempDir.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no temporary files are left behind")
    }

    func testHDF5FailuresNameTheFile() throws {
        let missingDir = path("no/such/dir/surface.h5")
        XCTAssertThrowsError(try SurfaceExporter.hdf5(Self.table2D(), path: missingDir)) { error in
            let e = error as? ExportError
            XCTAssertNotNil(e)
            XCTAssertTrue("\(error)".contains(missingDir), "\(error)")
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        // A directory in the way of the target file: HDF5 writes, the final rename fails.
        let dirInTheWay = path("occupied.h5")
        try FileManager.default.createDirectory(atPath: dirInTheWay + "/child", withIntermediateDirectories: true)
        XCTAssertThrowsError(try SurfaceExporter.hdf5(Self.table2D(), path: dirInTheWay)) { error in
            XCTAssertTrue("\(error)".contains(dirInTheWay), "\(error)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tempDir.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no temporary files are left behind")
        // An attribute too large for HDF5's compact attribute storage.
        var t = Self.table2D()
        t.attributes["huge"] = String(repeating: "a", count: 70_000)
        let hugeFile = path("huge.h5")
        XCTAssertThrowsError(try SurfaceExporter.hdf5(t, path: hugeFile)) { error in
            XCTAssertTrue("\(error)".contains(hugeFile), "\(error)")
            XCTAssertTrue("\(error)".contains("'huge'"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: hugeFile))
    }

    // MARK: - VTK

    func testVTSIsWellFormedXMLWithRightPointCount() throws {
        let text = try SurfaceExporter.vts(Self.table2D(), heightMetric: "train_loss", logScale: false)
        let doc = try XMLDocument(data: Data(text.utf8))
        let root = try XCTUnwrap(doc.rootElement())
        XCTAssertEqual(root.name, "VTKFile")
        XCTAssertEqual(root.attribute(forName: "type")?.stringValue, "StructuredGrid")
        let grid = try XCTUnwrap(root.elements(forName: "StructuredGrid").first)
        XCTAssertEqual(grid.attribute(forName: "WholeExtent")?.stringValue, "0 2 0 3 0 0")
        let piece = try XCTUnwrap(grid.elements(forName: "Piece").first)
        XCTAssertEqual(piece.attribute(forName: "Extent")?.stringValue, "0 2 0 3 0 0")

        let pointsArray = try XCTUnwrap(piece.elements(forName: "Points").first?.elements(forName: "DataArray").first)
        XCTAssertEqual(pointsArray.attribute(forName: "NumberOfComponents")?.stringValue, "3")
        let coords = (pointsArray.stringValue ?? "").split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        XCTAssertEqual(coords.count, 3 * Self.nx * Self.ny)
        for j in 0..<Self.ny {
            for i in 0..<Self.nx {
                let p = 3 * (j * Self.nx + i)
                assertSame(coords[p], Self.xs[i]); assertSame(coords[p + 1], Self.ys[j])
                assertSame(coords[p + 2], Self.loss(i, j), "z at (\(i), \(j))")
            }
        }

        let pointData = try XCTUnwrap(piece.elements(forName: "PointData").first)
        XCTAssertEqual(pointData.attribute(forName: "Scalars")?.stringValue, "train_loss")
        let arrays = pointData.elements(forName: "DataArray")
        XCTAssertEqual(arrays.compactMap { $0.attribute(forName: "Name")?.stringValue }, ["train_loss", "train_acc"])
        for a in arrays {
            XCTAssertEqual(a.attribute(forName: "type")?.stringValue, "Float64")
            let values = (a.stringValue ?? "").split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
            XCTAssertEqual(values.count, Self.nx * Self.ny)
        }
        // Attributes as FieldData strings: NUL-terminated UTF-8 byte codes.
        let field = try XCTUnwrap(grid.elements(forName: "FieldData").first).elements(forName: "DataArray")
        XCTAssertEqual(field.compactMap { $0.attribute(forName: "Name")?.stringValue }, Self.attributes.keys.sorted())
        let note = try XCTUnwrap(field.first { $0.attribute(forName: "Name")?.stringValue == "note" })
        let codes = (note.stringValue ?? "").split(whereSeparator: \.isWhitespace).compactMap { UInt8($0) }
        XCTAssertEqual(codes.last, 0)
        XCTAssertEqual(String(decoding: codes.dropLast(), as: UTF8.self), Self.attributes["note"])
    }

    func testVTSLogScaleUsesLog10AndRejectsNonPositiveHeights() throws {
        let text = try SurfaceExporter.vts(Self.table2D(), heightMetric: "train_acc", logScale: true)
        let doc = try XMLDocument(data: Data(text.utf8))
        let piece = try XCTUnwrap(doc.rootElement()?.elements(forName: "StructuredGrid").first?.elements(forName: "Piece").first)
        let pointData = try XCTUnwrap(piece.elements(forName: "PointData").first)
        XCTAssertEqual(pointData.attribute(forName: "Scalars")?.stringValue, "log10(train_acc)")
        let coords = (piece.elements(forName: "Points").first?.stringValue ?? "").split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        assertSame(coords[3 * (2 * Self.nx + 1) + 2], log10(Self.acc(1, 2)))

        var t = Self.table2D()
        t.metrics[1].values[5] = 0  // (i=2, j=1)
        XCTAssertThrowsError(try SurfaceExporter.vts(t, heightMetric: "train_acc", logScale: true)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("train_acc") && text.contains("x=\(Self.xs[2])") && text.contains("positive"), text)
        }
        XCTAssertNoThrow(try SurfaceExporter.vts(t, heightMetric: "train_acc", logScale: false))
        t.metrics[1].values[5] = -.infinity
        XCTAssertThrowsError(try SurfaceExporter.vts(t, heightMetric: "train_loss")) { error in
            XCTAssertTrue("\(error)".contains("train_acc") && "\(error)".contains("-inf"), "\(error)")
        }
    }

    func testVTSNeedsATwoDimensionalGridAndAKnownMetric() {
        XCTAssertThrowsError(try SurfaceExporter.vts(Self.table1D(), heightMetric: "test_loss", logScale: false)) { error in
            XCTAssertEqual(error as? ExportError, .requiresTwoDimensionalGrid(format: "VTK (.vts)"))
            XCTAssertTrue("\(error)".contains("needs a 2-D grid"), "\(error)")
        }
        XCTAssertThrowsError(try SurfaceExporter.vts(Self.table2D(), heightMetric: "test_loss", logScale: false)) { error in
            XCTAssertTrue("\(error)".contains("'test_loss'") && "\(error)".contains("train_loss, train_acc"), "\(error)")
        }
    }

    // MARK: - write(_:format:to:)

    func testWritePicksTheFormatAndReplacesFilesAtomically() throws {
        let table = Self.table2D()
        for format in ExportFormat.allCases {
            let file = path("surface.\(format.fileExtension)")
            try Data("old".utf8).write(to: URL(fileURLWithPath: file))
            try SurfaceExporter.write(table, format: format, to: file)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            switch format {
            case .csv: XCTAssertEqual(bytes, Array(try SurfaceExporter.csv(table).utf8))
            case .npz: XCTAssertEqual(bytes, try SurfaceExporter.npz(table))
            case .vts: XCTAssertEqual(bytes, Array(try SurfaceExporter.vts(table, heightMetric: "train_loss").utf8))
            case .h5: XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x48, 0x44, 0x46])
            }
        }
        XCTAssertThrowsError(try SurfaceExporter.write(table, format: .csv, to: path("missing/dir/s.csv"))) { error in
            XCTAssertTrue("\(error)".contains("missing/dir/s.csv"), "\(error)")
        }
        XCTAssertThrowsError(try SurfaceExporter.write(Self.table1D(), format: .vts, to: path("s.vts")))
        XCTAssertEqual(ExportFormat(fileExtension: ".HDF5"), .h5)
        XCTAssertEqual(ExportFormat(fileExtension: "vts"), .vts)
        XCTAssertNil(ExportFormat(fileExtension: "xlsx"))
    }

    func testExportsAreDeterministic() throws {
        XCTAssertEqual(try SurfaceExporter.csv(Self.table2D()), try SurfaceExporter.csv(Self.table2D()))
        XCTAssertEqual(try SurfaceExporter.npz(Self.table2D()), try SurfaceExporter.npz(Self.table2D()))
        XCTAssertEqual(try SurfaceExporter.vts(Self.table2D(), heightMetric: "train_loss"),
                       try SurfaceExporter.vts(Self.table2D(), heightMetric: "train_loss"))
        XCTAssertEqual(SurfaceExporter.attributesJSON(["b": "1", "a": "x\"y\\z\u{1}"]), #"{"a":"x\"y\\z\u0001","b":"1"}"#)
    }

    // MARK: - Python interoperability

    func testNPZExportLoadsInNumpyWithDocumentedShapes() throws {
        try Python.requireNumpyAndH5py()
        let file = path("surface.npz")
        try SurfaceExporter.write(Self.table2D(), format: .npz, to: file)
        let out = try Python.run("""
            import json, sys, numpy as np
            d = np.load(sys.argv[1])  # allow_pickle stays False
            print(json.dumps({
                "files": sorted(d.files),
                "shapes": {k: list(d[k].shape) for k in d.files},
                "dtypes": {k: d[k].dtype.str for k in d.files},
                "train_loss": [[repr(float(v)) for v in row] for row in d["train_loss"]],
                "x": [repr(v) for v in d["x"].tolist()], "y": [repr(v) for v in d["y"].tolist()],
                "attributes": json.loads(d["attributes"].tobytes()),
            }))
            """, arguments: [file])
        XCTAssertEqual(out["files"] as? [String], ["attributes", "train_acc", "train_loss", "x", "y"])
        let shapes = try XCTUnwrap(out["shapes"] as? [String: [Int]])
        XCTAssertEqual(shapes["x"], [3]); XCTAssertEqual(shapes["y"], [4])
        XCTAssertEqual(shapes["train_loss"], [4, 3]); XCTAssertEqual(shapes["train_acc"], [4, 3])
        XCTAssertEqual((out["dtypes"] as? [String: String])?["train_loss"], "<f8")
        XCTAssertEqual(Python.doubles(out["x"]), Self.xs)
        XCTAssertEqual(Python.doubles(out["y"]), Self.ys)
        let rows = try XCTUnwrap(out["train_loss"] as? [[String]]).map { $0.map { Double($0) } }
        for j in 0..<Self.ny {
            for i in 0..<Self.nx {
                assertSame(rows[j][i], Self.loss(i, j), "d['train_loss'][\(j), \(i)]")
            }
        }
        XCTAssertEqual(out["attributes"] as? [String: String], Self.attributes)
    }

    func testHDF5ExportReadsInH5pyWithLossLandscapeLayout() throws {
        try Python.requireNumpyAndH5py()
        let file = path("surface.h5")
        try SurfaceExporter.write(Self.table2D(), format: .h5, to: file)
        let out = try Python.run("""
            import json, sys, numpy as np, h5py
            with h5py.File(sys.argv[1], "r") as f:
                print(json.dumps({
                    "keys": sorted(f.keys()),
                    "shapes": {k: list(f[k].shape) for k in f.keys()},
                    "dtypes": {k: f[k].dtype.str for k in f.keys()},
                    "train_loss": [[repr(float(f["train_loss"][j, i])) for j in range(len(f["ycoordinates"]))]
                                   for i in range(len(f["xcoordinates"]))],
                    "x": [repr(v) for v in f["xcoordinates"][:].tolist()],
                    "y": [repr(v) for v in f["ycoordinates"][:].tolist()],
                    "attrs": {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()},
                }))
            """, arguments: [file])
        XCTAssertEqual(out["keys"] as? [String], ["train_acc", "train_loss", "xcoordinates", "ycoordinates"])
        let shapes = try XCTUnwrap(out["shapes"] as? [String: [Int]])
        XCTAssertEqual(shapes["xcoordinates"], [3]); XCTAssertEqual(shapes["ycoordinates"], [4])
        XCTAssertEqual(shapes["train_loss"], [4, 3]); XCTAssertEqual(shapes["train_acc"], [4, 3])
        XCTAssertEqual((out["dtypes"] as? [String: String])?["train_loss"], "<f8")
        XCTAssertEqual(Python.doubles(out["x"]), Self.xs)
        XCTAssertEqual(Python.doubles(out["y"]), Self.ys)
        let rows = try XCTUnwrap(out["train_loss"] as? [[String]]).map { $0.map { Double($0) } }
        for i in 0..<Self.nx {
            for j in 0..<Self.ny {
                assertSame(rows[i][j], Self.loss(i, j), "f['train_loss'][\(j), \(i)]")
            }
        }
        XCTAssertEqual(out["attrs"] as? [String: String], Self.attributes)
    }

    /// loss-landscape's `plot_1d_loss_err` reads `train_acc` and `test_acc` as percent: it
    /// draws them on a 0–100 axis and the error as `100 - acc`. Terrain's accuracies are
    /// fractions everywhere else; the HDF5 file holds them in percent and says so.
    func testHDF5AccuracyIsInPercentAsLossLandscapesPlotScriptsReadIt() throws {
        try Python.requireNumpyAndH5py()
        let x: [Double] = [-1, -0.5, 0, 0.5, 1]
        let trainAcc = [0.31, 0.62, 0.996, 0.7, 0.25], testAcc = [0.3, 0.6, 0.9, .nan, 0.2]
        let table = SurfaceTable(x: x, metrics: [("train_loss", [2, 1, 0.01, 0.9, 2.2]), ("train_acc", trainAcc),
                                                 ("test_loss", [2.1, 1.2, 0.3, .nan, 2.3]), ("test_acc", testAcc)],
                                 attributes: ["directions": "interpolation"], fractions: ["train_acc", "test_acc"])
        let file = path("curve.h5")
        try SurfaceExporter.write(table, format: .h5, to: file)
        // As loss-landscape's plot_1D.py plot_1d_loss_err: accuracy on ax2 (ylim 0–100), error = 100 - acc.
        let out = try Python.run("""
            import json, sys, numpy as np, h5py
            with h5py.File(sys.argv[1], "r") as f:
                train_acc, test_acc = f["train_acc"][:], f["test_acc"][:]
                units = {k: f[k].attrs["units"].decode() for k in f.keys() if "units" in f[k].attrs}
                print(json.dumps({
                    "train_acc": [repr(float(v)) for v in train_acc], "test_acc": [repr(float(v)) for v in test_acc],
                    "train_err": [repr(float(v)) for v in 100 - train_acc],
                    "within_axis": bool(np.all((train_acc >= 0) & (train_acc <= 100))),
                    "units": units,
                }))
            """, arguments: [file])
        XCTAssertEqual(out["units"] as? [String: String], ["train_acc": "percent", "test_acc": "percent"])
        XCTAssertEqual(out["within_axis"] as? Bool, true)
        let train = try XCTUnwrap(Python.doubles(out["train_acc"])), test = try XCTUnwrap(Python.doubles(out["test_acc"]))
        let err = try XCTUnwrap(Python.doubles(out["train_err"]))
        for k in x.indices {
            XCTAssertEqual(train[k], 100 * trainAcc[k], accuracy: 1e-12, "train_acc[\(k)] in percent")
            XCTAssertEqual(err[k], 100 * (1 - trainAcc[k]), accuracy: 1e-12, "training error in percent")
            assertSame(test[k], 100 * testAcc[k], "test_acc[\(k)]")
        }
        XCTAssertEqual(train[2], 99.6, accuracy: 1e-12, "a 99.6 %-accurate point reads 99.6, not 0.996")
        // The other formats keep fractions.
        let npz = try NPZ.read(try SurfaceExporter.npz(table), source: "curve.npz")
        XCTAssertEqual(try npz["train_acc"]?.asDoubles(), trainAcc)
        XCTAssertTrue(try SurfaceExporter.csv(table).contains("\n0.0,0.01,0.996,0.3,0.9\n"))
    }

    func testCSVParsesInPythonToIdenticalFloats() throws {
        try Python.requireNumpyAndH5py()
        let file = path("surface.csv")
        try SurfaceExporter.write(Self.table2D(), format: .csv, to: file)
        let out = try Python.run("""
            import csv, json, math, sys
            with open(sys.argv[1]) as fh:
                lines = [l for l in fh if not l.startswith("#")]
            rows = list(csv.reader(lines))
            print(json.dumps({"header": rows[0],
                              "rows": [[repr(float(c)) for c in r] for r in rows[1:]]}))
            """, arguments: [file])
        XCTAssertEqual(out["header"] as? [String], ["x", "y", "train_loss", "train_acc"])
        let rows = try XCTUnwrap(out["rows"] as? [[String]]).map { $0.map { Double($0) } }
        XCTAssertEqual(rows.count, 12)
        for j in 0..<Self.ny {
            for i in 0..<Self.nx {
                let row = rows[j * Self.nx + i]
                assertSame(row[0], Self.xs[i]); assertSame(row[1], Self.ys[j])
                assertSame(row[2], Self.loss(i, j), "train_loss at (\(i), \(j))")
                assertSame(row[3], Self.acc(i, j), "train_acc at (\(i), \(j))")
            }
        }
    }
}

// MARK: - Helpers

/// Reads datasets and string attributes with the HDF5 C API.
final class H5Reader {
    let file: hid_t
    let path: String

    init(_ path: String) throws {
        self.path = path
        _ = H5open()
        H5Eset_auto2(0, nil, nil)
        file = H5Fopen(path, 0 /* H5F_ACC_RDONLY */, 0)
        guard file >= 0 else { throw TerrainError.invalidData("\(path): H5Fopen failed") }
    }

    func close() { H5Fclose(file) }

    /// The names of the root group's links, sorted.
    func names() throws -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(file, &info) >= 0 else { throw TerrainError.invalidData("\(path): H5Gget_info failed") }
        return (0..<info.nlinks).map { k -> String in
            let n = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, k, nil, 0, 0)
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            _ = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, k, &buf, buf.count, 0)
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }.sorted()
    }

    func dataset(_ name: String) throws -> (dims: [Int], values: [Double]) {
        let d = H5Dopen2(file, name, 0)
        guard d >= 0 else { throw TerrainError.invalidData("\(path): no dataset \(name)") }
        defer { H5Dclose(d) }
        let space = H5Dget_space(d)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: rank)
        _ = H5Sget_simple_extent_dims(space, &dims, nil)
        let type = H5Dget_type(d)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_FLOAT, H5Tget_size(type) == 8 else {
            throw TerrainError.invalidData("\(path): \(name) is not float64")
        }
        var values = [Double](repeating: 0, count: dims.reduce(1) { $0 * Int($1) })
        guard H5Dread(d, H5T_NATIVE_DOUBLE_g, 0, 0, 0, &values) >= 0 else {
            throw TerrainError.invalidData("\(path): H5Dread \(name) failed")
        }
        return (dims.map { Int($0) }, values)
    }

    /// A string attribute of the root group, or of the dataset `dataset`.
    func stringAttribute(_ name: String, of dataset: String? = nil) throws -> String {
        var object = file
        if let dataset {
            object = H5Dopen2(file, dataset, 0)
            guard object >= 0 else { throw TerrainError.invalidData("\(path): no dataset \(dataset)") }
        }
        defer { if dataset != nil { H5Dclose(object) } }
        let a = H5Aopen(object, name, 0)
        guard a >= 0 else { throw TerrainError.invalidData("\(path): no attribute \(name)") }
        defer { H5Aclose(a) }
        let type = H5Aget_type(a)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING, H5Tis_variable_str(type) == 0, H5Tget_cset(type) == H5T_CSET_UTF8 else {
            throw TerrainError.invalidData("\(path): attribute \(name) is not a fixed-length UTF-8 string")
        }
        var buf = [UInt8](repeating: 0, count: H5Tget_size(type))
        guard H5Aread(a, type, &buf) >= 0 else { throw TerrainError.invalidData("\(path): H5Aread \(name) failed") }
        XCTAssertEqual(buf.last, 0, "attribute \(name) is NUL-terminated")
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// Runs python3 snippets that print one JSON object.
///
/// Floats travel as `repr()` strings: Foundation's JSON parser does not round-trip every
/// double exactly.
enum Python {
    /// `repr()` strings parsed back into doubles (`nil` when absent or malformed).
    static func doubles(_ value: Any?) -> [Double]? {
        guard let strings = value as? [String] else { return nil }
        let parsed = strings.compactMap(Double.init)
        return parsed.count == strings.count ? parsed : nil
    }

    static func requireNumpyAndH5py() throws {
        guard (try? run(["-c", "import numpy, h5py"]).status) == 0 else {
            throw XCTSkip("python3 with numpy/h5py is not available")
        }
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, o, e)
    }

    static func run(_ script: String, arguments: [String]) throws -> [String: Any] {
        let r = try run(["-c", script] + arguments)
        guard r.status == 0 else {
            throw TerrainError.invalidData("python3 failed (\(r.status)): \(String(decoding: r.stderr, as: UTF8.self))")
        }
        guard let obj = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any] else {
            throw TerrainError.invalidData("python3 printed no JSON object: \(String(decoding: r.stdout, as: UTF8.self))")
        }
        return obj
    }
}
