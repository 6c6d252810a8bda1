import Foundation
import TerrainCore
import Yams

/// A loss-surface sweep (`kind: surface`): `L(θ* + α·d1 + β·d2)` over a grid, sharded into
/// tiles of grid points (docs/spec.md, "kind: surface"). Its tasks: `surface` tiles
/// (``SurfaceKind``), `hessian` probes at the centre (``HessianKind``) and, when θ* is trained
/// in the sweep, one `train` and one `directions` task (``TrainKind``, ``DirectionsKind``).
///
/// ```yaml
/// kind: surface
/// model: {kind: mlp, hidden: [256, 256]}
/// data: {path: ../data/mnist1d.npz}
/// surface:
///   checkpoint: ../out/mlp-mnist1d.safetensors   # θ*
///   x: "-1:1:51"
///   y: "-1:1:51"                                  # omit for a 1-D slice
///   directions: {kind: random, normalization: filter, one_dimensional: ignore, seed: 1}
///   sets: [train, test]
///   tile: 64
/// ```
public struct SurfaceSpec: NetworkSweepKind {
    public static let name = "surface"
    public static let sections = ["model", "data", "loss", "surface", "curvature"]

    /// Where the directions come from.
    public enum DirectionKind: String, Codable, Sendable, CaseIterable {
        /// Gaussian directions, normalized (Li et al. 2018).
        case random
        /// The top two Hessian eigenvectors at the centre (largest |λ| first, by power
        /// iteration with deflation on the training loss): the sharpest plane. Unit vectors
        /// unless a normalization is given.
        case hessian
        /// d1 = θ_B − θ_A with θ_A the checkpoint and θ_B `directions.to` (1-D interpolation).
        case interpolation
        /// The plane through three checkpoints: centre θ_A, d1 = θ_B − θ_A, d2 = θ_C − θ_A
        /// (θ_B = `directions.to`, θ_C = `directions.third`), so (0,0), (1,0) and (0,1) are the
        /// three models (mode connectivity pictures, Garipov et al. 2018).
        case plane
        /// The leading principal directions of a training trajectory around the centre
        /// (`directions.trajectory`: the checkpoints of a run), with the explained variance
        /// recorded in the dataset.
        case pca
    }

    /// How θ* is trained when the spec has `surface.train` instead of `surface.checkpoint`.
    public struct TrainingSection: Codable, Sendable, Equatable {
        public var optimizer: OptimizerSpec
        public var schedule: LearningRateSchedule
        public var batchSize: Int
        public var epochs: Int
        public var seed: UInt64
    }

    /// The network (must match the checkpoint), its data, loss and data seed.
    public var network: NetworkSpec
    /// θ*, absolute path (nil when θ* is trained by the sweep itself, see ``training``).
    public var checkpoint: String?
    /// Train θ* as the sweep's first task instead of reading a checkpoint.
    public var training: TrainingSection? = nil
    /// The α axis.
    public var x: GridAxis
    /// The β axis (nil: 1-D).
    public var y: GridAxis?
    /// Direction source.
    public var directionKind: DirectionKind
    /// Normalization of random directions.
    public var normalization: DirectionNormalization
    /// One-dimensional parameters under random directions.
    public var oneDimensional: OneDimensionalRule
    /// Seed of the random directions.
    public var seed: UInt64
    /// The second checkpoint for interpolation and planes, absolute path.
    public var target: String?
    /// The third checkpoint of a plane, absolute path.
    public var third: String? = nil
    /// The checkpoints of a training trajectory (PCA directions), absolute paths.
    public var trajectory: [String] = []
    /// Which data sets to evaluate: `train`, `test`.
    public var sets: [String]
    /// Grid points per task.
    public var tile: Int
    /// Hessian measures at the centre, if asked for.
    public var curvature: CurvatureSpec? = nil
    /// Re-estimate BatchNorm statistics at every point (batch size), instead of using θ*'s
    /// running statistics; `nil` = running statistics.
    public var recomputeBatchNorm: Int? = nil
    /// With ``recomputeBatchNorm``: estimate the statistics on a fixed, seeded subset of this
    /// many training samples (the same subset at every point); `nil` = the whole training set.
    public var recomputeSamples: Int? = nil
    /// Directions over parameters *and* BatchNorm running statistics (loss-landscape's
    /// `--dir_type states`; ``StateSpace``) instead of parameters only.
    public var states = false
    /// The Hessian's extreme eigenvalues and |λ_min/λ_max| at every point (`surface.convexity`).
    public var convexity: ConvexityProbe? = nil
    /// Hessian directions: the training samples the Hessian is taken over (`directions.samples`;
    /// nil = all).
    public var hessianSamples: Int? = nil

    /// Number of grid points.
    public var points: Int { x.count * (y?.count ?? 1) }

    /// The metric names in output order: `<set>_loss`, `<set>_acc` per set.
    public var metricNames: [String] {
        sets.flatMap { ["\($0)_loss", "\($0)_acc"] } + (convexity == nil ? [] : ConvexityProbe.metricNames)
    }

    /// The checkpoints (centre, target, third, trajectory) and the data.
    public var referencedFiles: [String] {
        [checkpoint, target, third].compactMap { $0 } + trajectory + network.dataFiles
    }
}

extension SweepSpec {
    /// The surface description, for `kind: surface`.
    public var surface: SurfaceSpec? { family as? SurfaceSpec }
}
