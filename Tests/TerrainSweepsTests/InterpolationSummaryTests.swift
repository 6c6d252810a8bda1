import Foundation
import TerrainCore
import TerrainDataset
import TerrainExport
import TerrainSweeps
import XCTest

/// The interpolation summary of a finished surface sweep (θ_A → θ_B): barriers on the grids
/// users write, and a reason instead of a bare NaN when there is none.
final class InterpolationSummaryTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "terrain-interp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A loss with a bump between the end points: L(t) = 0.3 + 0.1·t + 0.8·t·(1 − t).
    private static func loss(_ t: Double) -> Double { 0.3 + 0.1 * t + 0.8 * t * (1 - t) }

    private func specText(_ axis: String) -> String {
        """
        kind: surface
        model: {kind: mlp, hidden: [4]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz"))}
        surface:
          checkpoint: a.safetensors
          x: "\(axis)"
          directions: {kind: interpolation, to: b.safetensors}
          sets: [train]
        """
    }

    private func spec(_ axis: String) throws -> SweepSpec {
        try SweepSpec.parse(specText(axis), baseDirectory: dir)
    }

    /// The interpolation summary of a sweep on `axis` whose one tile holds `loss(t)` (or the
    /// given losses) at every grid point, through a dataset written here.
    /// A stored sweep on `axis` whose one tile holds `losses` (default `loss(t)`) and the
    /// accuracies `accuracy(t)` at every grid point.
    private func stored(_ axis: String, losses: [Double]? = nil) throws -> (surface: SurfaceSpec, dataset: SweepDataset, path: String) {
        let surface = try XCTUnwrap(try spec(axis).surface)
        let xs = surface.x.coordinates
        let values = losses ?? xs.map(Self.loss)
        let tile = SurfaceKind.Tile(x: .init(surface.x), y: nil, start: 0, end: xs.count, sets: ["train"], recomputeBatchNorm: nil)
        let output = zip(values, xs).flatMap { [$0.0, Self.accuracy($0.1)] }
            .flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let path = dir + "/\(UUID().uuidString).sqlite"
        let ds = try SweepDataset(path: path)
        try ds.create(spec: specText(axis), specHash: "00", kind: "surface",
                      tasks: [StoredTask(id: 1, kind: SurfaceKind.name, params: [UInt8](try JSONEncoder().encode(tile)))])
        try ds.commit(results: [.init(task: 1, attempt: 1, worker: "w", output: output, digest: [UInt8](repeating: 0, count: 32),
                                      elapsed: 0, received: 0, blobs: [])], statuses: [], events: [])
        return (surface, ds, path)
    }

    /// An accuracy (a fraction) that dips between the end points.
    private static func accuracy(_ t: Double) -> Double { 0.996 - 0.5 * t * (1 - t) }

    /// The interpolation summary of a sweep on `axis` (see ``stored(_:losses:)``).
    private func summary(_ axis: String, losses: [Double]? = nil) throws -> [String: Any] {
        let (surface, ds, _) = try stored(axis, losses: losses)
        let json = try XCTUnwrap(try surface.summaries(of: try ds.completedOutputs(), source: "spec")["interpolation"])
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    /// `-0.2:1.2:29` (step 0.05) puts t = 0 at −2.8e-17 and `-0.1:1.1:13` puts t = 1 at
    /// 1.0000000000000002: the end points are still found, and the barrier is the bump's
    /// height above the higher end.
    func testGridsThatMissZeroOrOneByRoundingStillGiveTheBarrier() throws {
        for (axis, a, b) in [("-0.2:1.2:29", 4, 24), ("-0.1:1.1:13", 1, 11), ("-0.5:1.5:9", 2, 6)] {
            let xs = try XCTUnwrap(try spec(axis).surface).x.coordinates
            let s = try summary(axis)
            // On the grid: the highest loss between the two end points (inclusive).
            let highest = (a...b).map { Self.loss(xs[$0]) }.max()!
            let barrier = try XCTUnwrap(s["train_barrier"] as? Double, "\(axis): \(s)")
            XCTAssertEqual(barrier, highest - max(Self.loss(xs[a]), Self.loss(xs[b])), accuracy: 1e-12, axis)
            XCTAssertEqual(s["train_loss_a"] as? Double ?? .nan, 0.3, accuracy: 1e-12, "\(axis): θ_A's loss")
            XCTAssertEqual(s["train_loss_b"] as? Double ?? .nan, 0.4, accuracy: 1e-12, "\(axis): θ_B's loss")
            XCTAssertGreaterThan(barrier, 0.14, axis)   // the bump peaks ≈ 0.553 at t = 0.5625, 0.15 above θ_B
            XCTAssertNil(s["note"], axis)
        }
    }

    /// A grid without t = 1 gives no barrier, and the summary says why and what to write.
    func testAGridWithoutAnEndPointSaysSoInsteadOfNaN() throws {
        let s = try summary("-0.1:0.9:11")
        XCTAssertNil(s["train_barrier"])
        let note = try XCTUnwrap(s["note"] as? String, "\(s)")
        XCTAssertTrue(note.contains("t = 1") && !note.contains("t = 0 (θ_A)") && note.contains("-0.2:1.2:29"), note)
        XCTAssertFalse(s.values.contains { ($0 as? String) == "nan" }, "\(s)")
    }

    /// A NaN loss between the end points (a diverged point) names the point.
    func testANaNLossBetweenTheEndPointsIsNamed() throws {
        let axis = "0:1:5"
        var losses = try XCTUnwrap(try spec(axis).surface).x.coordinates.map(Self.loss)
        losses[2] = .nan
        let s = try summary(axis, losses: losses)
        XCTAssertNil(s["train_barrier"])
        let note = try XCTUnwrap(s["note"] as? String, "\(s)")
        XCTAssertTrue(note.contains("train_loss is NaN at t = 0.5"), note)
    }

    /// `terrain export`'s table keeps accuracies as fractions and marks them, so that the HDF5
    /// export alone writes them in percent (loss-landscape's unit) and CSV/NPZ keep fractions.
    func testTheExportTableMarksAccuraciesAsFractions() throws {
        let (surface, _, path) = try stored("0:1:5")
        let sweep = try StoredSweep(path: path)
        guard case let .grid(table) = try sweep.sweepKind.export(sweep, options: ExportOptions()).content else {
            return XCTFail("a surface sweep exports a grid")
        }
        XCTAssertEqual(table.metrics.map(\.name), ["train_loss", "train_acc"])
        XCTAssertEqual(table.fractions, ["train_acc"])
        XCTAssertEqual(table.metrics[1].values, surface.x.coordinates.map(Self.accuracy), "fractions, as measured")
        let csv = try SurfaceExporter.csv(table)
        XCTAssertTrue(csv.contains(",\(Self.accuracy(0))\n") || csv.contains(",\(Self.accuracy(0))\r\n"), csv)
    }

    /// Grid points are found within a millionth of a step of a value, not further.
    func testGridIndexOfAValueAllowsRoundingOnly() throws {
        let axis = try GridAxis(parsing: "-0.2:1.2:29")
        XCTAssertNotEqual(axis.coordinate(4), 0, "the rounding this guards against")
        XCTAssertEqual(axis.index(of: 0), 4)
        XCTAssertEqual(axis.index(of: 1), 24)
        XCTAssertNil(axis.index(of: 0.01), "a fifth of a step away")
        XCTAssertNil(axis.index(of: 1.3), "beyond the grid")
        XCTAssertEqual(GridAxis(min: 0, max: 0, count: 1).index(of: 0), 0)
        XCTAssertNil(GridAxis(min: 0, max: 0, count: 1).index(of: 1e-20))
    }
}
