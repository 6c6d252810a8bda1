import GRDB

/// One row of the `run_variants` table: what a training run varies beyond the batch-size /
/// learning-rate grid — its model width and label noise (double descent) and its stochastic
/// weight averaging outcome (docs/dataset.md). Only runs that have one of them get a row.
public struct RunVariantRow: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "run_variants"

    public var task: Int64
    /// The width multiplier, the hidden widths or channels as built (JSON list) and the
    /// parameter count.
    public var width: Double?, widths: String?, parameters: Int?
    /// The label-noise fraction and the number of training labels it changed.
    public var labelNoise: Double?, noisyLabels: Int?
    /// SWA: start epoch, rate, schedule, iterates averaged, and the averaged solution's metrics.
    public var swaStartEpoch: Int?, swaLR: Double?, swaSchedule: String?, swaAveraged: Int?
    public var swaTrainLoss: Double?, swaTrainAccuracy: Double?, swaTestLoss: Double?, swaTestAccuracy: Double?
    public var swaValidationLoss: Double?, swaValidationAccuracy: Double?, swaLambdaMax: Double?

    enum CodingKeys: String, CodingKey {
        case task, width, widths, parameters, labelNoise = "label_noise", noisyLabels = "noisy_labels"
        case swaStartEpoch = "swa_start_epoch", swaLR = "swa_lr", swaSchedule = "swa_schedule", swaAveraged = "swa_averaged"
        case swaTrainLoss = "swa_train_loss", swaTrainAccuracy = "swa_train_acc", swaTestLoss = "swa_test_loss"
        case swaTestAccuracy = "swa_test_acc", swaValidationLoss = "swa_val_loss", swaValidationAccuracy = "swa_val_acc"
        case swaLambdaMax = "swa_lambda_max"
    }

    /// An empty row of `task`.
    public init(task: Int64) { self.task = task }

    /// The table's columns after `task`, in order (joined to `runs` by `terrain export`).
    static let columns = ["width", "widths", "parameters", "label_noise", "noisy_labels", "swa_start_epoch", "swa_lr",
                          "swa_schedule", "swa_averaged", "swa_train_loss", "swa_train_acc", "swa_test_loss", "swa_test_acc",
                          "swa_val_loss", "swa_val_acc", "swa_lambda_max"]
}

extension SweepDataset {
    /// Every `run_variants` row, in task order.
    public func runVariants() throws -> [RunVariantRow] {
        try read { db in
            // A dataset written before schema 4 (opened read-only, so not migrated) has none.
            guard try db.tableExists("run_variants") else { return [] }
            return try RunVariantRow.fetchAll(db, sql: "SELECT * FROM run_variants ORDER BY task")
        }
    }
}
