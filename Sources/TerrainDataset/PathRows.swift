import GRDB

/// One row of the `paths` table: a path between two trained networks evaluated at evenly
/// spaced t, with its barrier heights (docs/dataset.md, "Mode connectivity"). Written by the
/// `path` tasks of `connectivity` and `instability` sweeps. Column names are the coding keys.
public struct PathRow: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "paths"

    public var task: Int64
    /// `line`, `bezier` or `chain`.
    public var shape: String
    /// The pair's label: `seeds 0-1`, `checkpoints 1`, or `seed 0, k 100`.
    public var pair: String
    /// The replicate seed (instability) or the first end point's seed (connectivity); its bit pattern.
    public var seed: Int64?
    /// The second end point's seed (connectivity sweeps from seeds).
    public var seedB: Int64?
    /// The step the two children branched at (instability sweeps).
    public var branchStep: Int?
    /// Instability of lottery subnetworks: the pruning level of the children's mask; NULL for dense networks.
    public var level: Int? = nil
    /// Points evaluated (t = i/(points−1)).
    public var points: Int
    /// max_t L(t) − ½(L(0) + L(1)) of the loss and of the error (1 − accuracy), per set.
    public var trainBarrier: Double?, testBarrier: Double?, trainErrorBarrier: Double?, testErrorBarrier: Double?
    /// The highest loss on the path, per set.
    public var trainLossMax: Double?, testLossMax: Double?
    /// The end points' losses.
    public var trainLossA: Double?, trainLossB: Double?, testLossA: Double?, testLossB: Double?

    enum CodingKeys: String, CodingKey {
        case task, shape, pair, seed, seedB = "seed_b", branchStep = "branch_step", level, points
        case trainBarrier = "train_barrier", testBarrier = "test_barrier", trainErrorBarrier = "train_error_barrier"
        case testErrorBarrier = "test_error_barrier", trainLossMax = "train_loss_max", testLossMax = "test_loss_max"
        case trainLossA = "train_loss_a", trainLossB = "train_loss_b", testLossA = "test_loss_a", testLossB = "test_loss_b"
    }

    /// Creates a row with its labels; the barriers start empty.
    public init(task: Int64, shape: String, pair: String, seed: UInt64?, seedB: UInt64?, branchStep: Int?, points: Int) {
        self.task = task
        self.shape = shape
        self.pair = pair
        self.seed = seed.map { Int64(bitPattern: $0) }
        self.seedB = seedB.map { Int64(bitPattern: $0) }
        self.branchStep = branchStep
        self.points = points
    }
}

/// One row of the `path_points` table: the metrics of a path at one t.
public struct PathPointRow: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "path_points"

    public var task: Int64
    /// The point's index on the path, 0…points−1.
    public var index: Int
    /// t = index/(points−1).
    public var t: Double
    public var trainLoss: Double?, trainAccuracy: Double?, testLoss: Double?, testAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case task, index = "idx", t, trainLoss = "train_loss", trainAccuracy = "train_acc", testLoss = "test_loss", testAccuracy = "test_acc"
    }

    /// Creates a point.
    public init(task: Int64, index: Int, t: Double, trainLoss: Double?, trainAccuracy: Double?, testLoss: Double?, testAccuracy: Double?) {
        self.task = task
        self.index = index
        self.t = t
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
    }
}

/// What one evaluated path adds: its `paths` row and its points.
public struct PathRows: Sendable, Equatable {
    public var path: PathRow
    public var points: [PathPointRow]

    /// Creates the rows of one result.
    public init(path: PathRow, points: [PathPointRow]) {
        self.path = path
        self.points = points
    }

    /// Writes the rows under `task`, replacing earlier ones (a NaN is stored as NULL).
    func insert(task: UInt64, _ db: Database) throws {
        var path = self.path
        path.task = Int64(task)
        try path.insert(db, onConflict: .replace)
        try db.execute(sql: "DELETE FROM path_points WHERE task = ?", arguments: [Int64(task)])
        for var point in points {
            point.task = Int64(task)
            try point.insert(db, onConflict: .replace)
        }
    }
}

extension SweepDataset {
    /// Every `paths` row, in task order.
    public func paths() throws -> [PathRow] {
        try read { try PathRow.fetchAll($0, sql: "SELECT * FROM paths ORDER BY task") }
    }

    /// Every `path_points` row, by task then index.
    public func pathPoints() throws -> [PathPointRow] {
        try read { try PathPointRow.fetchAll($0, sql: "SELECT * FROM path_points ORDER BY task, idx") }
    }
}
