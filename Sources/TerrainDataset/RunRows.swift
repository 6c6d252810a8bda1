import GRDB

/// One row of the `runs` table: a training run of a batch-size sweep or one level of one
/// branch of a lottery chain (docs/dataset.md). Column names are the coding keys.
public struct RunRow: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "runs"

    public var task: Int64
    public var kind: String
    /// The replicate seed's bit pattern (SQLite integers are signed).
    public var seed: Int64
    public var branch: String?, level: Int?, rewindStep: Int?
    public var batchSize: Int, learningRate: Double, effectiveLearningRate: Double
    public var optimizer: String, momentum: Double, weightDecay: Double
    public var status: String
    public var divergedStep: Int?, divergedLoss: Double?
    public var totalSteps: Int
    public var density: Double?
    public var trainLoss: Double?, trainAccuracy: Double?, testLoss: Double?, testAccuracy: Double?
    public var generalizationGap: Double?, accuracyGap: Double?, lambdaMax: Double?
    public var stepsToTarget: Int?, earlyStopStep: Int?, earlyStopTestAccuracy: Double?
    public var validationLoss: Double?, validationAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case task, kind, seed, branch, level, rewindStep = "rewind_step", batchSize = "batch_size", learningRate = "lr"
        case effectiveLearningRate = "effective_lr", optimizer, momentum, weightDecay = "weight_decay", status
        case divergedStep = "diverged_step", divergedLoss = "diverged_loss", totalSteps = "total_steps", density
        case trainLoss = "train_loss", trainAccuracy = "train_acc", testLoss = "test_loss", testAccuracy = "test_acc"
        case generalizationGap = "generalization_gap", accuracyGap = "accuracy_gap", lambdaMax = "lambda_max"
        case stepsToTarget = "steps_to_target", earlyStopStep = "early_stop_step", earlyStopTestAccuracy = "early_stop_test_acc"
        case validationLoss = "val_loss", validationAccuracy = "val_acc"
    }

    /// Creates a row with its labels and outcome; the metrics start empty.
    public init(task: Int64, kind: String, seed: UInt64, batchSize: Int, learningRate: Double, effectiveLearningRate: Double,
                optimizer: String, momentum: Double, weightDecay: Double, status: String, totalSteps: Int) {
        self.task = task
        self.kind = kind
        self.seed = Int64(bitPattern: seed)
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.effectiveLearningRate = effectiveLearningRate
        self.optimizer = optimizer
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.status = status
        self.totalSteps = totalSteps
    }

    /// The seed as the spec gave it.
    public var replicateSeed: UInt64 { UInt64(bitPattern: seed) }
}

/// One row of the `curve_points` table: metrics of a run after `step` optimizer steps.
public struct CurvePointRow: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "curve_points"

    public var task: Int64
    public var step: Int
    public var epoch: Double
    public var trainLoss: Double?, trainAccuracy: Double?, testLoss: Double?, testAccuracy: Double?
    public var learningRate: Double?, lambdaMax: Double?
    public var validationLoss: Double?, validationAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case task, step, epoch, trainLoss = "train_loss", trainAccuracy = "train_acc", testLoss = "test_loss"
        case testAccuracy = "test_acc", learningRate = "lr", lambdaMax = "lambda_max"
        case validationLoss = "val_loss", validationAccuracy = "val_acc"
    }

    /// Creates a point.
    public init(task: Int64, step: Int, epoch: Double, trainLoss: Double?, trainAccuracy: Double?, testLoss: Double?,
                testAccuracy: Double?, learningRate: Double?, lambdaMax: Double?, validationLoss: Double?, validationAccuracy: Double?) {
        self.task = task
        self.step = step
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.learningRate = learningRate
        self.lambdaMax = lambdaMax
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
    }
}

/// What one tabulated result adds: its `runs` row and its curve.
public struct RunRows: Sendable, Equatable {
    public var run: RunRow
    public var curve: [CurvePointRow]
    /// Its `run_variants` row (width, label noise, SWA), when it has one.
    public var variant: RunVariantRow?

    /// Creates the rows of one result.
    public init(run: RunRow, curve: [CurvePointRow], variant: RunVariantRow? = nil) {
        self.run = run
        self.curve = curve
        self.variant = variant
    }

    /// Writes the rows under `task`, replacing earlier ones. A NaN is stored as NULL (as
    /// SQLite stores any bound NaN); infinities are stored as such.
    func insert(task: UInt64, _ db: Database) throws {
        var run = self.run
        run.task = Int64(task)
        try run.insert(db, onConflict: .replace)
        try db.execute(sql: "DELETE FROM curve_points WHERE task = ?", arguments: [Int64(task)])
        for var point in curve {
            point.task = Int64(task)
            try point.insert(db, onConflict: .replace)
        }
        if var variant {
            variant.task = Int64(task)
            try variant.insert(db, onConflict: .replace)
        }
    }
}

extension SweepDataset {
    /// Every `runs` row, in task order.
    public func runs() throws -> [RunRow] {
        try read { try RunRow.fetchAll($0, sql: "SELECT * FROM runs ORDER BY task") }
    }

    /// Every `curve_points` row, by task then step.
    public func curvePoints() throws -> [CurvePointRow] {
        try read { try CurvePointRow.fetchAll($0, sql: "SELECT * FROM curve_points ORDER BY task, step") }
    }

    /// The columns of an exported table in table order, each typed by its declared SQL type
    /// (TEXT, REAL, INTEGER), rows in task (then step) order.
    public func columns(of table: ExportedTable) throws -> [(name: String, values: DatasetColumnValues)] {
        try read { db in
            var declared = [String: String]()
            for r in try Row.fetchAll(db, sql: "PRAGMA table_info(\(table.rawValue))") { declared[r["name"]] = (r["type"] as String).uppercased() }
            var sql = "SELECT * FROM \(table.rawValue) ORDER BY \(table.order)"
            // Runs with a width, label noise or SWA carry their run_variants columns (a sweep
            // without any exports the runs table as before).
            if table == .runs, try db.tableExists("run_variants"), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run_variants") ?? 0 > 0 {
                for r in try Row.fetchAll(db, sql: "PRAGMA table_info(run_variants)") { declared[r["name"]] = (r["type"] as String).uppercased() }
                let extra = RunVariantRow.columns.map { "run_variants.\($0)" }.joined(separator: ", ")
                sql = "SELECT runs.*, \(extra) FROM runs LEFT JOIN run_variants USING(task) ORDER BY runs.task"
            }
            let statement = try db.makeStatement(sql: sql)
            let names = statement.columnNames
            let rows = try Row.fetchAll(statement)
            return names.enumerated().map { i, name in
                let cells = rows.map { $0[i] as DatabaseValue }
                switch declared[name] {
                case "TEXT": return (name, .texts(cells.map { String.fromDatabaseValue($0) }))
                case "REAL": return (name, .reals(cells.map { Double.fromDatabaseValue($0) }))
                default: return (name, .integers(cells.map { Int64.fromDatabaseValue($0) }))
                }
            }
        }
    }
}
