import Foundation
import Synchronization
import TerrainCore

/// Runs `surface` tasks: evaluates the loss (and accuracy) at every grid point of a tile.
///
/// The model, data and θ* are cached between tasks of the same sweep, so a worker loads them
/// once; the directions arrive once per worker as artifacts. A point's value depends only on
/// (θ*, d1, d2, α, β) and the data — never on the tile it was computed in.
public final class SurfaceRunner: TaskRunner, @unchecked Sendable {
    public var kind: String { "surface" }

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

    public func run(task: UInt64, attempt: UInt64, params: [UInt8], inputs: [TaskInput]) throws -> TaskOutput {
        let p: SurfaceSpec.Params
        do { p = try JSONDecoder().decode(SurfaceSpec.Params.self, from: Data(params)) } catch {
            throw TaskError("surface task \(task): unreadable parameters: \(error)", retryable: false)
        }
        func input(_ name: String) throws -> [UInt8] {
            guard let i = inputs.first(where: { $0.name == name }) else { throw TaskError("surface task \(task): missing input \(name)", retryable: false) }
            return i.data
        }
        let centreBytes = try input("centre")
        let d1 = floats(try input("d1"))
        let d2 = p.y == nil ? nil : floats(try input("d2"))
        var loaded = try cache.withLock { cached -> Loaded in
            let key = "\(p.model)|\(p.data)|\(p.dataSHA256)|\(p.dataSeed)"
            let centreHash = SHA256.hash(centreBytes)
            if var c = cached, c.key == key {
                if c.centreHash != centreHash { try self.loadCentre(&c, centreBytes, centreHash) }
                cached = c
                return c
            }
            let (train, test) = try Self.loadData(p.data, sha256: p.dataSHA256, seed: p.dataSeed)
            let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
            var c = Loaded(key: key, model: model, train: train, test: test, centreHash: [], centre: [])
            try self.loadCentre(&c, centreBytes, centreHash)
            cached = c
            return c
        }
        let space = ParameterSpace(loaded.model)
        guard d1.count == space.dimension, d2.map({ $0.count == space.dimension }) ?? true else {
            throw TaskError("surface task \(task): directions have \(d1.count) entries, the model \(space.dimension)", retryable: false)
        }
        let nx = p.x.count
        var out = [Double]()
        out.reserveCapacity((p.end - p.start) * 2 * p.sets.count)
        // Reuse the first layer's products across the tile's points when the model allows it.
        var planes = [String: PlaneEvaluator]()
        for set in p.sets {
            if let data = set == "test" ? loaded.test : loaded.train,
               let plane = PlaneEvaluator(model: loaded.model, data: data, loss: p.loss, centre: loaded.centre, d1: d1, d2: d2) {
                planes[set] = plane
            }
        }
        for index in p.start..<p.end {
            let alpha = p.x[index % nx]
            let beta = p.y.map { $0[index / nx] } ?? 0
            space.setValues(Directions.point(center: loaded.centre, d1, alpha, d2, beta))
            if let batch = p.recomputeBatchNorm {
                Evaluator.recomputeBatchNormStatistics(loaded.model, on: loaded.train, batchSize: batch)
            }
            for set in p.sets {
                let data = set == "test" ? loaded.test : loaded.train
                guard let data else { throw TaskError("surface task \(task): the data has no test set", retryable: false) }
                let m = planes[set]?.evaluate(alpha: alpha, beta: beta) ?? Evaluator.evaluate(loaded.model, on: data, loss: p.loss)
                out.append(m.loss)
                out.append(m.accuracy ?? .nan)
            }
        }
        space.setValues(loaded.centre)
        loaded.model.zeroGradients()
        if p.recomputeBatchNorm != nil {
            // Restore θ*'s own statistics (in the cached model, a shared reference) for the next task.
            try loadCentre(&loaded, centreBytes, SHA256.hash(centreBytes))
        }
        return TaskOutput(output: out.withUnsafeBytes { Array($0) })
    }

    /// Loads a sweep's data after checking the file is the coordinator's (by SHA-256).
    static func loadData(_ data: DataSpec, sha256: String, seed: UInt64) throws -> (Dataset<Float>, Dataset<Float>?) {
        let sha: String
        do { sha = try data.sha256() } catch let e as TerrainError {
            throw TaskError("cannot read the data on this worker: \(e.description)", retryable: false)
        }
        guard sha == sha256 else {
            let path = data.files.map(\.path).joined(separator: ", ")
            throw TaskError("the data file \(path) on this worker differs from the coordinator's (sha256 \(sha.prefix(12))… vs \(sha256.prefix(12))…)", retryable: false)
        }
        return try DataLoader.load(data, baseDirectory: "/", seed: seed, as: Float.self)
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
