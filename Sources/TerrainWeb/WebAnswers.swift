import Foundation
import TerrainDataset
import TerrainSweeps

/// `/api/status` (docs/http.md).
struct StatusAnswer: Codable, Sendable {
    var name, kind, specHash, state: String
    var total, done, failed, running, queued, waiting, workers: Int
    /// Tasks per second over the last ~10 s.
    var rate: Double
    /// Seconds to go at that rate (`null` when unknown or finished).
    var eta: Double?
    /// Unix seconds.
    var started, updated: Double
    /// Seconds since the start (to the last update for a stopped sweep).
    var elapsed: Double
    var results: Int
    /// Whether a coordinator in this process feeds the page (else: the dataset alone).
    var live: Bool
    /// Events logged, by kind.
    var events: [String: Int]

    enum CodingKeys: String, CodingKey {
        case name, kind, specHash = "spec_hash", state, total, done, failed, running, queued, waiting, workers, rate, eta, started
        case updated, elapsed, results, live, events
    }
}

/// One row of `/api/workers`.
struct WorkerAnswer: Codable, Sendable {
    var name: String
    var host: String?
    /// Whether the coordinator serving this page has it connected now.
    var connected: Bool
    var running: [UInt64]
    var results: Int
    var lastSeen: Double?
    var busySeconds: Double

    enum CodingKeys: String, CodingKey {
        case name, host, connected, running, results, lastSeen = "last_seen", busySeconds = "busy_seconds"
    }
}

/// `/api/surface`.
struct SurfaceAnswer: Codable, Sendable {
    var metric: String
    var metrics: [String]
    var x: [Double]
    /// `null` for a 1-D slice or interpolation.
    var y: [Double]?
    /// Row-major (x fastest), `null` where no result arrived yet.
    var values: [Double?]
    var done: Int
}

/// `/api/runs`.
struct RunsAnswer: Codable, Sendable {
    var runs: [RunRow]
    var curves: [CurvePointRow]
}

/// One figure of `/api/figures` and of the report.
struct FigureAnswer: Codable, Sendable {
    var name: String
    var svg: String
}

/// The figures a kind draws, through the same code as `terrain render`.
enum FigureSet {
    /// Every figure of the sweep so far; an empty list when there is nothing to draw yet
    /// (no finished runs, a probe sweep).
    static func render(_ s: StoredSweep) -> [FigureAnswer] {
        // One figure at a time, each under its own name: a figure the sweep has no data for
        // (λmax without a curvature section) is left out, not the others with it.
        var options: [RenderOptions] = []
        switch s.kind {
        case "surface":
            options = [RenderOptions(output: "surface.svg"), RenderOptions(output: "surface-log.svg", log: true)]
        case "lottery":
            options = ["accuracy", "curves"].map { RenderOptions(output: "\($0).svg", figure: $0) }
        case "training":
            options = ["heatmap", "accuracy", "lambda", "sharpness"].map { RenderOptions(output: "\($0).svg", figure: $0) }
        default:
            return []
        }
        var out = [FigureAnswer]()
        for o in options {
            guard let figures = try? s.sweepKind.render(s, options: o) else { continue }
            for f in figures { out.append(FigureAnswer(name: (f.path as NSString).lastPathComponent, svg: f.svg)) }
        }
        return out
    }
}
