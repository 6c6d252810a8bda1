import Foundation
import TerrainCore
import TerrainDataset

/// The `path` task kind: evaluates the train and test loss and accuracy at `points` evenly
/// spaced t ∈ [0, 1] along a line, Bezier curve or chain between two trained networks
/// (``PathShape``), re-estimating BatchNorm statistics at every t when the model has
/// BatchNorm layers (Garipov et al. 2018 do the same: the end points' statistics do not hold
/// between them). The coordinator tabulates the values into the `paths` table (with barrier
/// heights, ``PathBarrier``) and `path_points`.
public struct PathKind: TaskKind {
    public static let name = "path"

    /// One path to evaluate.
    public struct Path: Codable, Sendable, Equatable {
        public var shape: PathShape
        /// Points, t = i/(points−1).
        public var points: Int
        public var a: PathSource
        public var b: PathSource
        /// The control point (Bezier, chain).
        public var bend: PathSource?
        /// The pair's label in the `paths` table.
        public var pair: String
        public var seed: UInt64?
        public var seedB: UInt64?
        public var branchStep: Int?
        /// The lottery level of the children's mask (instability of subnetworks).
        public var level: Int? = nil
        /// BatchNorm statistics: batch size, and training samples (nil: all) they are estimated on.
        public var batchNormBatch: Int
        public var batchNormSamples: Int?
        /// Training samples the train metrics are measured on (nil: all).
        public var evalSamples: Int?
    }

    /// The parameters of one `path` task.
    public typealias Params = Networked<Path>

    /// The task's output: metrics per point (accuracy NaN for `mse`), JSON.
    public struct Values: Codable, Sendable, Equatable {
        public var t: [Double]
        public var trainLoss: [Double], trainAccuracy: [Double], testLoss: [Double], testAccuracy: [Double]

        enum CodingKeys: String, CodingKey {
            case t, trainLoss = "train_loss", trainAccuracy = "train_acc", testLoss = "test_loss", testAccuracy = "test_acc"
        }
    }

    /// Creates the kind.
    public init() {}

    public static func problem(in p: Params) -> String? {
        guard (2...10_001).contains(p.points) else { return "points \(p.points) (2…10001)" }
        guard p.shape.hasBend == (p.bend != nil) else { return "a \(p.shape.rawValue) path \(p.bend == nil ? "needs" : "has no") bend" }
        guard (1...SweepLimits.batchSize).contains(p.batchNormBatch), (p.batchNormSamples ?? 2) >= 2, (p.evalSamples ?? 1) >= 1 else {
            return "batch_norm batch \(p.batchNormBatch), samples \(p.batchNormSamples ?? 0), eval samples \(p.evalSamples ?? 0)"
        }
        return nil
    }

    public func judge(_ result: TaskOutput, params p: Params, task: UInt64) -> Judgement {
        if let problem = Self.blobProblem(result, expected: []) { return .reject(problem) }
        guard let v = try? JSONDecoder.runState.decode(Values.self, from: Data(result.output)) else {
            return .reject("the path result does not decode")
        }
        let n = p.points
        guard v.t == PathShape.evenlySpaced(n), [v.trainLoss, v.trainAccuracy, v.testLoss, v.testAccuracy].allSatisfy({ $0.count == n }) else {
            return .reject("the path result does not hold \(n) points at t = i/\(n - 1)")
        }
        let classes = p.loss == .crossEntropy
        for (name, values) in [("train_loss", v.trainLoss), ("test_loss", v.testLoss)] where values.contains(where: { !($0.isNaN || $0 >= 0) }) {
            return .reject("\(name) holds a negative value")
        }
        for (name, values) in [("train_acc", v.trainAccuracy), ("test_acc", v.testAccuracy)]
        where values.contains(where: { classes ? !($0 >= 0 && $0 <= 1) : !$0.isNaN }) {
            return .reject("\(name) holds a value outside [0, 1]")
        }
        return .acceptPath(Self.rows(v, params: p, task: task))
    }

    /// The `paths` row (with barriers) and `path_points` rows of a result.
    public static func rows(_ v: Values, params p: Params, task: UInt64) -> PathRows {
        var row = PathRow(task: Int64(task), shape: p.shape.rawValue, pair: p.pair, seed: p.seed, seedB: p.seedB,
                          branchStep: p.branchStep, points: p.points)
        row.level = p.level
        let error = { (acc: [Double]) in acc.map { 1 - $0 } }
        row.trainBarrier = PathBarrier.height(v.trainLoss)
        row.testBarrier = PathBarrier.height(v.testLoss)
        row.trainErrorBarrier = PathBarrier.height(error(v.trainAccuracy))
        row.testErrorBarrier = PathBarrier.height(error(v.testAccuracy))
        row.trainLossMax = v.trainLoss.allSatisfy(\.isFinite) ? v.trainLoss.max() : nil
        row.testLossMax = v.testLoss.allSatisfy(\.isFinite) ? v.testLoss.max() : nil
        row.trainLossA = v.trainLoss.first
        row.trainLossB = v.trainLoss.last
        row.testLossA = v.testLoss.first
        row.testLossB = v.testLoss.last
        let points = v.t.indices.map { i in
            PathPointRow(task: Int64(task), index: i, t: v.t[i], trainLoss: v.trainLoss[i], trainAccuracy: v.trainAccuracy[i],
                         testLoss: v.testLoss[i], testAccuracy: v.testAccuracy[i])
        }
        return PathRows(path: row, points: points)
    }

    public func run(_ run: TaskRun<Params>, context: TaskContext) throws -> TaskOutput {
        let p = run.params
        let (fullTrain, test) = try p.network.loadData()
        guard let test else { throw run.failure("the data has no test set") }
        do {
            let model: Model<Float> = try ModelBuilder.build(p.model, dataShape: fullTrain.sampleShape, outputs: fullTrain.outputs, seed: 0)
            let a = try p.a.values(in: run, model: model), b = try p.b.values(in: run, model: model)
            let bend = try p.bend.map { try $0.values(in: run, model: model) }
            let train = p.evalSamples.map { $0 < fullTrain.count ? fullTrain.subset($0, seed: TerrainRNG.derive(p.dataSeed, "eval-subset")) : fullTrain } ?? fullTrain
            let statistics = p.batchNormSamples.map {
                $0 < fullTrain.count ? fullTrain.subset($0, seed: TerrainRNG.derive(p.dataSeed, "batch-norm")) : fullTrain
            } ?? fullTrain
            let space = ParameterSpace(model)
            var v = Values(t: PathShape.evenlySpaced(p.points), trainLoss: [], trainAccuracy: [], testLoss: [], testAccuracy: [])
            for t in v.t {
                space.setValues(p.shape.point(t, a: a, bend: bend, b: b))
                Evaluator.recomputeBatchNormStatistics(model, on: statistics, batchSize: p.batchNormBatch)
                let tr = Evaluator.evaluate(model, on: train, loss: p.loss), te = Evaluator.evaluate(model, on: test, loss: p.loss)
                v.trainLoss.append(tr.loss)
                v.trainAccuracy.append(tr.accuracy ?? .nan)
                v.testLoss.append(te.loss)
                v.testAccuracy.append(te.accuracy ?? .nan)
            }
            return TaskOutput(output: [UInt8](try JSONEncoder.runState.encode(v)))
        } catch let e as TerrainError {
            throw run.failure(e.description)
        }
    }
}
