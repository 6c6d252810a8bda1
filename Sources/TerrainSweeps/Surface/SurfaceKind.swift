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

    /// The grid points of one tile: the axes' coordinates and the range `start..<end` of
    /// point indices (x fastest), with the data sets to evaluate.
    public struct Tile: Codable, Sendable, Equatable {
        public var x: [Double]
        public var y: [Double]?
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

        /// Creates a tile.
        public init(x: [Double], y: [Double]?, start: Int, end: Int, sets: [String], recomputeBatchNorm: Int?,
                    recomputeSamples: Int? = nil, states: Bool? = nil) {
            self.x = x
            self.y = y
            self.start = start
            self.end = end
            self.sets = sets
            self.recomputeBatchNorm = recomputeBatchNorm
            self.recomputeSamples = recomputeSamples
            self.states = states
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

    public func run(_ task: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = task.params
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
        out.reserveCapacity((p.end - p.start) * 2 * p.sets.count)
        // Reuse the first layer's products across the tile's points when the model allows it.
        var planes = [String: PlaneEvaluator]()
        for set in p.sets {
            if let data = set == "test" ? loaded.test : loaded.train,
               let plane = PlaneEvaluator(model: loaded.model, data: data, loss: p.loss, centre: centre, d1: d1, d2: d2) {
                planes[set] = plane
            }
        }
        let statisticsData = p.recomputeSamples.map { loaded.train.subset($0, seed: TerrainRNG.derive(p.dataSeed, "batch-norm")) } ?? loaded.train
        for index in p.start..<p.end {
            let alpha = p.x[index % nx]
            let beta = p.y.map { $0[index / nx] } ?? 0
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
