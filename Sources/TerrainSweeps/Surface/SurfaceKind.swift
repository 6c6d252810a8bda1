import Foundation
import Synchronization
import TerrainCore

/// The `surface` task kind: evaluates the loss (and accuracy) at every grid point of a tile,
/// returned as little-endian Float64 values, `<set>_loss, <set>_acc` per set, point by point.
///
/// The model, data and θ* are cached between tasks of the same sweep, so a worker loads them
/// once; the directions arrive once per worker as artifacts. A point's value depends only on
/// (θ*, d1, d2, α, β) and the data — never on the tile it was computed in.
public final class SurfaceKind: TaskKind, @unchecked Sendable {
    public static let name = "surface"

    /// The grid points of one tile: the two axes and the range `start..<end` of point indices
    /// (x fastest), with the data sets to evaluate.
    public struct Tile: Codable, Sendable, Equatable {
        public var x: Axis
        public var y: Axis?
        public var start: Int
        public var end: Int
        public var sets: [String]
        /// Re-estimate BatchNorm statistics at each point with this batch size.
        public var recomputeBatchNorm: Int?
        /// Re-estimate them on this many training samples (a seeded subset, the same at every
        /// point); nil (absent from stored parameters) means the whole training set.
        public var recomputeSamples: Int?
        /// The directions (and θ*) span the BatchNorm statistics too (``StateSpace``); nil
        /// (absent from stored parameters) means parameters only.
        public var states: Bool?
        /// The Hessian's extreme eigenvalues at every point (``ConvexityProbe``); nil (absent
        /// from stored parameters) means none.
        public var convexity: ConvexityProbe?

        /// Creates a tile.
        public init(x: Axis, y: Axis?, start: Int, end: Int, sets: [String], recomputeBatchNorm: Int?,
                    recomputeSamples: Int? = nil, states: Bool? = nil, convexity: ConvexityProbe? = nil) {
            self.convexity = convexity
            self.x = x
            self.y = y
            self.start = start
            self.end = end
            self.sets = sets
            self.recomputeBatchNorm = recomputeBatchNorm
            self.recomputeSamples = recomputeSamples
            self.states = states
        }

        /// Values per point: loss and accuracy per set, then the convexity metrics if asked.
        public var valuesPerPoint: Int { 2 * sets.count + (convexity == nil ? 0 : ConvexityProbe.metricNames.count) }

        /// Points in the grid.
        public var gridPoints: Int { x.count * (y?.count ?? 1) }

        /// Why these parameters cannot be a tile (they arrive over the wire), or `nil`.
        public var problem: String? {
            if let p = x.problem ?? y?.problem { return p }
            guard start >= 0, start < end, end <= gridPoints else { return "points \(start)..<\(end) are not within the grid of \(gridPoints)" }
            guard !sets.isEmpty, sets.allSatisfy({ $0 == "train" || $0 == "test" }) else { return "sets must be train and/or test" }
            if let b = recomputeBatchNorm, b < 2 || b > SweepLimits.batchSize { return "batch_norm batch size \(b) is out of range" }
            if let m = recomputeSamples, m < 2 { return "batch_norm samples \(m) is out of range" }
            return convexity?.problem
        }
    }

    /// A grid axis as a tile carries it: `{"min", "max", "count"}`, the coordinates computed
    /// as ``GridAxis`` computes them (numpy's `linspace`, bit for bit). Datasets created before
    /// tiles carried ranges hold the coordinate list itself, which still decodes.
    public enum Axis: Codable, Sendable, Equatable, ExpressibleByArrayLiteral {
        /// `count` points from `min` to `max`.
        case range(min: Double, max: Double, count: Int)
        /// Explicit coordinates (older datasets).
        case list([Double])

        /// The axis of a spec.
        public init(_ axis: GridAxis) { self = .range(min: axis.min, max: axis.max, count: axis.count) }

        /// Explicit coordinates.
        public init(arrayLiteral values: Double...) { self = .list(values) }

        /// Number of points.
        public var count: Int {
            switch self {
            case .range(_, _, let n): return n
            case .list(let values): return values.count
            }
        }

        /// The i-th coordinate (`i` in `0..<count`; check ``problem`` first).
        public func coordinate(_ i: Int) -> Double {
            switch self {
            case let .range(lo, hi, n): return GridAxis(min: lo, max: hi, count: n).coordinate(i)
            case .list(let values): return values[i]
            }
        }

        /// Why the axis is unusable, or `nil`.
        var problem: String? {
            switch self {
            case let .range(lo, hi, n):
                guard n >= 1, n <= 100_000, lo.isFinite, hi.isFinite, n == 1 || hi > lo else { return "axis \(lo):\(hi):\(n) is not a grid axis" }
            case .list(let values):
                guard !values.isEmpty, values.count <= 100_000, values.allSatisfy(\.isFinite) else { return "an axis lists \(values.count) coordinates" }
            }
            return nil
        }

        private enum Keys: String, CodingKey { case min, max, count }

        public init(from decoder: Decoder) throws {
            if let values = try? decoder.singleValueContainer().decode([Double].self) {
                self = .list(values)
                return
            }
            let c = try decoder.container(keyedBy: Keys.self)
            self = .range(min: try c.decode(Double.self, forKey: .min), max: try c.decode(Double.self, forKey: .max),
                          count: try c.decode(Int.self, forKey: .count))
        }

        public func encode(to encoder: Encoder) throws {
            switch self {
            case let .range(lo, hi, n):
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(lo, forKey: .min)
                try c.encode(hi, forKey: .max)
                try c.encode(n, forKey: .count)
            case .list(let values):
                var c = encoder.singleValueContainer()
                try c.encode(values)
            }
        }
    }

    /// The parameters of one tile task.
    public typealias Params = Networked<Tile>

    private struct Loaded {
        var key: String
        var model: Model<Float>
        var train: Dataset<Float>
        var test: Dataset<Float>?
        var centreHash: [UInt8]
        var centre: [Float]
    }

    private let cache = Mutex<Loaded?>(nil)

    /// Creates the runner.
    public init() {}

    public static func problem(in p: Params) -> String? { p.own.problem }

    /// The output holds `(loss, accuracy)` per set for each of the tile's points: exactly that
    /// many little-endian Float64 values, losses not negative (a diverged point may be `inf`
    /// or NaN: that is what the network computes there), accuracies in [0, 1] — NaN for a
    /// loss without accuracy (`mse`). No blobs.
    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = p.own.problem { return .reject("the task's parameters: \(problem)") }
        let stride = p.own.valuesPerPoint
        let expected = (p.end - p.start) * stride
        guard result.output.count == expected * 8 else {
            let convexity = p.convexity == nil ? "" : " + \(ConvexityProbe.metricNames.count) convexity values"
            return .reject("the output has \(result.output.count) bytes; \(p.end - p.start) points × (\(p.sets.count) sets × 2 values\(convexity)) need \(expected * 8)"
                .replacingOccurrences(of: "(\(p.sets.count) sets × 2 values)", with: "\(p.sets.count) sets × 2 values"))
        }
        if let problem = Self.blobProblem(result, expected: []) { return .reject(problem) }
        let values = SurfaceSpec.decodeOutput(result.output)
        let hasAccuracy = p.loss == .crossEntropy
        for (position, v) in values.enumerated() {
            let point = p.start + position / stride, i = position % stride
            if i >= 2 * p.sets.count {
                // λ_max, λ_min finite; the ratio finite or NaN (λ_max = 0).
                let name = ConvexityProbe.metricNames[i - 2 * p.sets.count]
                guard v.isFinite || (name == "eigen_ratio" && v.isNaN) else { return .reject("point \(point): \(name) is \(v)") }
                continue
            }
            let set = p.sets[(i / 2) % p.sets.count]
            if i % 2 == 0 {
                guard v.isNaN || v >= 0 else { return .reject("point \(point): \(set)_loss is \(v)") }
            } else if hasAccuracy ? !(v >= 0 && v <= 1) : !v.isNaN {
                return .reject("point \(point): \(set)_acc is \(v)")
            }
        }
        return .accept(nil)
    }

    public func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = task.params
        if let problem = p.own.problem { throw task.failure("parameters out of range: \(problem)") }
        let centreBytes = try task.input("centre")
        let d1 = floats(try task.input("d1"))
        let d2 = p.y == nil ? nil : floats(try task.input("d2"))
        var loaded = try cache.withLock { cached -> Loaded in
            let key = "\(p.model)|\(p.data)|\(p.dataSHA256)|\(p.dataSeed)"
            let centreHash = SHA256.hash(centreBytes)
            if var c = cached, c.key == key {
                if c.centreHash != centreHash { try self.loadCentre(&c, centreBytes, centreHash) }
                cached = c
                return c
            }
            let (train, test) = try p.network.loadData()
            let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
            var c = Loaded(key: key, model: model, train: train, test: test, centreHash: [], centre: [])
            try self.loadCentre(&c, centreBytes, centreHash)
            cached = c
            return c
        }
        let space: any FlatModelSpace<Float> = p.states == true ? StateSpace(loaded.model) : ParameterSpace(loaded.model)
        let centre = p.states == true ? space.values() : loaded.centre
        guard d1.count == space.dimension, d2.map({ $0.count == space.dimension }) ?? true else {
            throw task.failure("directions have \(d1.count) entries, the model \(space.dimension)")
        }
        let nx = p.x.count
        var out = [Double]()
        out.reserveCapacity((p.end - p.start) * p.own.valuesPerPoint)
        // Reuse the first layer's products across the tile's points when the model allows it.
        var planes = [String: PlaneEvaluator]()
        for set in p.sets {
            if let data = set == "test" ? loaded.test : loaded.train,
               let plane = PlaneEvaluator(model: loaded.model, data: data, loss: p.loss, centre: centre, d1: d1, d2: d2) {
                planes[set] = plane
            }
        }
        let convexityData = p.convexity.map { $0.data(loaded.train) }
        let statisticsData = p.recomputeSamples.map { loaded.train.subset($0, seed: TerrainRNG.derive(p.dataSeed, "batch-norm")) } ?? loaded.train
        for index in p.start..<p.end {
            let alpha = p.x.coordinate(index % nx)
            let beta = p.y.map { $0.coordinate(index / nx) } ?? 0
            space.setValues(Directions.point(center: centre, d1, alpha, d2, beta))
            if let batch = p.recomputeBatchNorm {
                Evaluator.recomputeBatchNormStatistics(loaded.model, on: statisticsData, batchSize: batch)
            }
            for set in p.sets {
                let data = set == "test" ? loaded.test : loaded.train
                guard let data else { throw task.failure("the data has no test set") }
                let m = planes[set]?.evaluate(alpha: alpha, beta: beta) ?? Evaluator.evaluate(loaded.model, on: data, loss: p.loss)
                out.append(m.loss)
                out.append(m.accuracy ?? .nan)
            }
            if let probe = p.convexity, let data = convexityData {
                out += try probe.measure(model: loaded.model, data: data, loss: p.loss)
            }
        }
        space.setValues(centre)
        loaded.model.zeroGradients()
        if p.recomputeBatchNorm != nil {
            // Restore θ*'s own statistics (in the cached model, a shared reference) for the next task.
            try loadCentre(&loaded, centreBytes, SHA256.hash(centreBytes))
        }
        return TaskOutput(output: out.withUnsafeBytes { Array($0) })
    }

    private func loadCentre(_ c: inout Loaded, _ bytes: [UInt8], _ hash: [UInt8]) throws {
        let decoded = try SafeTensors.decode(bytes, source: "centre checkpoint")
        try Checkpoint.apply(decoded.tensors, source: "centre checkpoint", to: c.model)
        c.centre = ParameterSpace(c.model).values()
        c.centreHash = hash
    }

    private func floats(_ bytes: [UInt8]) -> [Float] {
        bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }
}
