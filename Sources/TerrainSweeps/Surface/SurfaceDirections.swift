import Foundation
import TerrainCore

extension SurfaceSpec {
    /// Everything the coordinator computes once when it creates the sweep.
    public struct Materialized {
        /// θ* flat.
        public var centre: [Float]
        /// The directions (d2 nil for 1-D).
        public var d1: [Float], d2: [Float]?
        /// The parameter layout.
        public var layout: [ParameterSlot]
        /// SHA-256 (hex) of the data file.
        public var dataSHA256: String
        /// PCA directions: the explained-variance ratio of each component.
        public var explainedVarianceRatio: [Double]?
    }

    /// What the `directions` task (or the coordinator) needs to compute the directions.
    public struct DirectionsParams: Codable, Sendable, Equatable {
        public var model: ModelSpec
        public var data: DataSpec
        public var dataSeed: UInt64
        public var kind: DirectionKind
        public var normalization: DirectionNormalization
        public var oneDimensional: OneDimensionalRule
        public var seed: UInt64
        public var target: String?
        public var third: String?
        public var trajectory: [String]
        public var twoDimensional: Bool
        /// Directions over the ``StateSpace`` (parameters and BatchNorm statistics); nil in
        /// parameters stored before the option existed, meaning false.
        public var states: Bool?
        /// Hessian directions: the loss, and the training samples the Hessian is taken over
        /// (nil = all); absent for the other kinds.
        public var loss: LossKind? = nil
        public var samples: Int? = nil

        /// The flat space the directions live in, for `model`.
        public func space(of model: Model<Float>) -> any FlatModelSpace<Float> {
            states == true ? StateSpace(model) : ParameterSpace(model)
        }
    }

    /// The parameters of the directions computation.
    public var directionsParams: DirectionsParams {
        var p = DirectionsParams(model: model, data: data, dataSeed: dataSeed, kind: directionKind, normalization: normalization,
                                 oneDimensional: oneDimensional, seed: seed, target: target, third: third, trajectory: trajectory,
                                 twoDimensional: y != nil, states: states)
        if directionKind == .hessian {
            p.loss = network.loss
            p.samples = hessianSamples
        }
        return p
    }

    /// The directions around `centre` (flat, in `layout`), loading any other checkpoints the
    /// direction kind needs for a model of samples shaped `dataShape` with `outputs` outputs.
    /// `model` (at the centre, with its BatchNorm statistics) and `train` are needed by
    /// Hessian directions.
    public static func directions(_ p: DirectionsParams, centre: [Float], layout: [ParameterSlot], dataShape: [Int], outputs: Int,
                                  model: Model<Float>? = nil, train: Dataset<Float>? = nil) throws
        -> (d1: [Float], d2: [Float]?, explainedVarianceRatio: [Double]?)
    {
        switch p.kind {
        case .hessian:
            guard let model, let train else { throw TerrainError.invalidArgument("Hessian directions need the model and its training data") }
            let d = try hessianDirections(p, model: model, train: train, centre: centre, layout: layout)
            return (d[0], p.twoDimensional ? d[1] : nil, nil)
        case .random:
            let d1 = Directions.random(layout: layout, center: centre, mask: nil, seed: TerrainRNG.derive(p.seed, 1),
                                       normalization: p.normalization, oneDimensional: p.oneDimensional)
            let d2 = p.twoDimensional ? Directions.random(layout: layout, center: centre, mask: nil, seed: TerrainRNG.derive(p.seed, 2),
                                                          normalization: p.normalization, oneDimensional: p.oneDimensional) : nil
            return (d1, d2, nil)
        case .interpolation, .plane, .pca:
            func load(_ path: String) throws -> [Float] {
                let other: Model<Float> = try ModelBuilder.build(p.model, dataShape: dataShape, outputs: outputs, seed: 0)
                try Checkpoint.load(path, into: other)
                return p.space(of: other).values()
            }
            if p.kind == .pca {
                let pca = try Directions.principalComponents(center: centre, trajectory: try p.trajectory.map(load), count: p.twoDimensional ? 2 : 1)
                return (pca.directions[0], p.twoDimensional ? pca.directions[1] : nil, pca.explainedVarianceRatio)
            }
            let d1 = Directions.difference(from: centre, to: try load(p.target!))
            let d2 = p.kind == .plane ? Directions.difference(from: centre, to: try load(p.third!)) : nil
            return (d1, d2, nil)
        }
    }

    /// Loads the data and checkpoint(s), checks they fit the model, and computes the
    /// directions. Needs `checkpoint` (a sweep that trains θ* computes them in a task).
    public func materialize(source: String) throws -> Materialized {
        do {
            guard let checkpoint else { throw TerrainError.invalidArgument("θ* is trained by the sweep; no checkpoint to read") }
            let (train, _): (Dataset<Float>, Dataset<Float>?)
            do { (train, _) = try DataLoader.load(data, baseDirectory: "/", seed: dataSeed, as: Float.self) } catch let e as TerrainError {
                throw TerrainError.invalidData("data: \(e.description)")
            }
            let m: Model<Float> = try ModelBuilder.build(model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
            do { try Checkpoint.load(checkpoint, into: m) } catch let e as TerrainError {
                throw TerrainError.invalidCheckpoint("surface.checkpoint: \(e.description)")
            }
            let space = directionsParams.space(of: m)
            let centre = space.values()
            let d = try Self.directions(directionsParams, centre: centre, layout: space.layout, dataShape: train.sampleShape, outputs: train.outputs,
                                        model: m, train: train)
            return Materialized(centre: centre, d1: d.d1, d2: d.d2, layout: space.layout, dataSHA256: try network.dataSHA256(),
                                explainedVarianceRatio: d.explainedVarianceRatio)
        } catch let e as TerrainError {
            throw SpecError(file: source, message: e.description)
        }
    }
}

extension SurfaceSpec {
    /// The top-2 (top-1 for a 1-D surface) Hessian eigenvectors at the centre, largest |λ|
    /// first (power iteration with deflation, ``PowerIteration``'s defaults, seed
    /// `directions.seed`), each with the sign that makes its largest-magnitude entry positive,
    /// then normalized per parameter as `normalization` says (`none`: unit vectors).
    static func hessianDirections(_ p: DirectionsParams, model: Model<Float>, train: Dataset<Float>, centre: [Float],
                                  layout: [ParameterSlot]) throws -> [[Float]] {
        let data = p.samples.map { train.subset(min($0, train.count), seed: TerrainRNG.derive(p.seed, "hessian-directions")) } ?? train
        let h = try HessianOperator(model: model, data: data, loss: p.loss ?? .crossEntropy)
        return h.topEigenpairs(k: p.twoDimensional ? 2 : 1, seed: p.seed).map { pair in
            let peak = pair.vector.indices.max { abs(pair.vector[$0]) < abs(pair.vector[$1]) || (abs(pair.vector[$0]) == abs(pair.vector[$1]) && $0 > $1) }
            let sign: Double = peak.map { pair.vector[$0] < 0 ? -1 : 1 } ?? 1
            var d = pair.vector.map { Float(sign * $0) }
            for slot in layout { Directions.normalize(&d, center: centre, slot: slot, p.normalization) }
            return d
        }
    }
}
