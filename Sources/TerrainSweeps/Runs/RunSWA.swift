import Foundation
import TerrainCore

/// Stochastic weight averaging in a run (``SWASpec``): the SWA rate, the running average
/// (kept among the checkpoint's extra tensors, so a resumed run averages the same iterates)
/// and, at the end, the averaged solution's evaluation and the two saved weight sets.
extension RunEngine {
    static let swaSumPrefix = "swa.sum."
    static let swaCountKey = "swa.count"

    /// Replaces the schedule's rate from SWA's start on (called once, when the run is set up).
    func installSWARate() {
        guard let swa = spec.swa else { return }
        let peak = spec.schedule.scaledBaseRate(spec.optimizer.lr, batchSize: spec.batchSize)
        trainer.learningRateOverride = swa.rateOverride(perEpoch: trainer.batches.stepsPerEpoch, peak: peak)
    }

    /// The average so far, read from the extra tensors (empty before the first iterate).
    func weightAverage() throws -> WeightAverage {
        let shapes = model.parameters.map(\.value.shape)
        guard let countTensor = extras[Self.swaCountKey] else { return WeightAverage(shapes: shapes) }
        let count = try countTensor.integers().first ?? -1
        let sums: [Tensor<Double>] = try (0..<shapes.count).map { i in
            guard let t = extras[Self.swaSumPrefix + String(i)] else {
                throw TerrainError.invalidCheckpoint("the checkpoint's weight average lacks the sum of parameter \(i)")
            }
            return try t.tensor(as: Double.self)
        }
        return try WeightAverage(sums: sums, count: count, shapes: shapes)
    }

    /// Adds the iterate after `step` steps to the average when SWA averages there.
    func averageIfDue(_ step: Int) throws {
        guard let swa = spec.swa, swa.averages(afterStep: step, perEpoch: trainer.batches.stepsPerEpoch) else { return }
        var average = try weightAverage()
        average.add(model.parameters)
        for (i, s) in average.sums.enumerated() { extras[Self.swaSumPrefix + String(i)] = StoredTensor(s) }
        extras[Self.swaCountKey] = StoredTensor(int64: [Int64(average.count)], shape: [1])
    }

    /// At the end of a completed run with SWA: evaluates θ̄ (BatchNorm statistics recomputed
    /// over the training set in batches of the run's batch size) and returns its outcome with
    /// the `final` (θ_SGD) and `swa` (θ̄) weights as safetensors, model tensors only. The
    /// model is left holding θ_SGD. `nil` without SWA.
    func finishSWA(task: UInt64) throws -> (outcome: SWAOutcome, blobs: [(name: String, data: [UInt8])])? {
        guard let swa = spec.swa else { return nil }
        let average = try weightAverage()
        guard average.count > 0 else {
            throw TaskError("run task \(task): SWA averaged no iterate (start_epoch \(swa.startEpoch), cycle_epochs \(swa.cycleEpochs))", retryable: false)
        }
        let final = Checkpoint.tensors(model: model)
        average.assign(to: model.parameters)
        Evaluator.recomputeBatchNormStatistics(model, on: trainer.train, batchSize: spec.batchSize)
        let tr = Evaluator.evaluate(model, on: evalTrain, loss: loss)
        let te = test.map { Evaluator.evaluate(model, on: $0, loss: loss) }
        let va = validation.map { Evaluator.evaluate(model, on: $0, loss: loss) }
        let lambda = (curvature?.atEnd ?? false) ? try lambdaMax() : nil
        let averaged = Checkpoint.tensors(model: model)
        try Checkpoint.apply(final, source: "run task \(task)'s final weights", to: model)
        let outcome = SWAOutcome(startEpoch: swa.startEpoch, lr: swa.lr, schedule: swa.schedule.rawValue, averaged: average.count,
                                 trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te?.loss, testAccuracy: te?.accuracy,
                                 validationLoss: va?.loss, validationAccuracy: va?.accuracy, lambdaMax: lambda)
        let steps = String(trainer.step)
        return (outcome, [
            ("final", SafeTensors.encode(final, metadata: ["format": "pt", "terrain.step": steps, "terrain.weights": "final iterate (SGD)"])),
            ("swa", SafeTensors.encode(averaged, metadata: ["format": "pt", "terrain.step": steps,
                                                            "terrain.weights": "SWA average of \(average.count) iterates, BatchNorm statistics recomputed"])),
        ])
    }
}
