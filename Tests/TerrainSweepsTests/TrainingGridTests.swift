import Foundation
import Synchronization
import TerrainCore
import TerrainSweeps
import XCTest

/// Batch-size / learning-rate grids: expansion, curves, divergence, λmax, resume.
final class TrainingGridTests: XCTestCase {
    static func spec(grid: String, training: String = "", curvature: String = "") throws -> SweepSpec {
        try SweepSpec.parse("""
        kind: training
        model: {kind: mlp, hidden: [32]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400, test_subset: 200}
        training:
          optimizer: {name: sgd, momentum: 0.9}
          schedule: {kind: cosine, warmup_steps: 4, scaling: linear, reference_batch_size: 50}
          epochs: 3
          eval_every: 5
          checkpoint_every: 1
          \(training)
        grid: \(grid)
        \(curvature)
        """, source: "grid.yaml")
    }

    func testGridExpandsToOneRunPerCombinationWithScaledRates() throws {
        let spec = try Self.spec(grid: "{batch_size: [25, 100], lr: [0.01, 0.1], seeds: [0, 1, 2], optimizer: [sgd, sam]}")
        let tasks = try spec.expand()
        XCTAssertEqual(tasks.count, 2 * 2 * 3 * 2)
        XCTAssertTrue(tasks.allSatisfy { $0.kind == "run" && $0.dependencies.isEmpty })
        let params = try tasks.map { try JSONDecoder().decode(RunKind.Params.self, from: Data($0.params)) }
        XCTAssertEqual(Set(params.map(\.optimizerLabel)), ["sgd", "sgd+sam"])
        XCTAssertEqual(params.filter { $0.optimizerLabel == "sgd+sam" }.map(\.training.optimizer.samRho), Array(repeating: 0.05, count: 12))
        // Batch size slowest, seed fastest.
        XCTAssertEqual(params.prefix(3).map(\.seed), [0, 1, 2])
        XCTAssertEqual(params.prefix(12).map(\.training.batchSize), Array(repeating: 25, count: 12))
        let p = params[0].training
        XCTAssertEqual(p.schedule.scaledBaseRate(p.optimizer.lr, batchSize: p.batchSize), 0.005, accuracy: 1e-15, "linear scaling from 50 to 25")
    }

    func testRunRecordsCurvesGapLambdaMaxAndStepsToTarget() throws {
        let spec = try Self.spec(grid: "{batch_size: [50], lr: [0.05]}", training: "target_accuracy: 0.2",
                                 curvature: "curvature: {lambda_max: true, every_epochs: 1, samples: 200, iterations: 8}")
        let out = try InProcessSweep.run(spec)
        let r = try RunRecord.decode(out[1]!.output)
        XCTAssertEqual(r.status, "completed")
        XCTAssertEqual(r.totalSteps, 24)
        // Points at 0, every 5 steps, every epoch end (8, 16) and the end (24).
        XCTAssertEqual(r.curve.map(\.step), [0, 5, 8, 10, 15, 16, 20, 24])
        XCTAssertEqual(r.curve.compactMap(\.lambdaMax).count, 4, "λmax at steps 0, 8, 16 and 24")
        XCTAssertEqual(r.lambdaMax, r.curve.last!.lambdaMax)
        XCTAssertGreaterThan(r.lambdaMax!, 0)
        XCTAssertEqual(r.generalizationGap!, r.testLoss! - r.trainLoss!, accuracy: 1e-15)
        XCTAssertEqual(r.accuracyGap!, r.trainAccuracy! - r.testAccuracy!, accuracy: 1e-15)
        let first = try XCTUnwrap(r.curve.first { ($0.testAccuracy ?? 0) >= 0.2 })
        XCTAssertEqual(r.stepsToTarget, first.step)
        let best = r.curve.min { $0.testLoss! < $1.testLoss! }!
        XCTAssertEqual(r.earlyStopStep, best.step)
        XCTAssertLessThan(r.curve.last!.trainLoss, r.curve.first!.trainLoss, "training lowers the loss")
        // Warm-up: the first step ran at 1/4 of the peak rate.
        XCTAssertEqual(r.curve[0].learningRate, 0.05 / 4, accuracy: 1e-15)
        // The final metrics are the evaluation of the trained model, not batch averages.
        XCTAssertEqual(r.trainLoss, r.curve.last!.trainLoss)
    }

    func testADivergingLearningRateIsRecordedAsDivergedNotAnError() throws {
        let spec = try Self.spec(grid: "{batch_size: [50], lr: [0.05, 200]}", training: "diverge_above: 50")
        let out = try InProcessSweep.run(spec)
        let ok = try RunRecord.decode(out[1]!.output), bad = try RunRecord.decode(out[2]!.output)
        XCTAssertEqual(ok.status, "completed")
        XCTAssertEqual(bad.status, "diverged")
        let step = try XCTUnwrap(bad.divergedStep)
        XCTAssertLessThan(step, 24)
        XCTAssertTrue(!bad.divergedLoss!.isFinite || bad.divergedLoss! > 50)
        XCTAssertNil(bad.testAccuracy)
        XCTAssertTrue(bad.curve.allSatisfy { $0.step <= step }, "the curve stops where the run diverged")
    }

    func testARunResumedFromEachCheckpointEqualsTheUninterruptedRun() throws {
        for optimizer in ["sgd", "adam", "sam"] {
            let spec = try Self.spec(grid: "{batch_size: [50], lr: [0.02], optimizer: [\(optimizer)], momentum: [0.0]}",
                                     curvature: "curvature: {lambda_max: true, samples: 100, iterations: 5}")
            let task = try spec.expand()[0]
            let saved = Mutex<[(Int, [UInt8])]>([])
            let full = try RunKind().run(task: 1, attempt: 1, params: task.params, inputs: [],
                                           context: TaskContext { step, data in saved.withLock { $0.append((step, data)) } })
            let checkpoints = saved.withLock { $0 }
            XCTAssertEqual(checkpoints.map(\.0), [8, 16], optimizer)
            for (step, data) in checkpoints {
                let resumed = try RunKind().run(task: 1, attempt: 2, params: task.params,
                                                  inputs: [TaskInput(task: 1, name: TaskContext.checkpointInput, data: data)])
                XCTAssertEqual(resumed.startStep, step)
                XCTAssertEqual(resumed.output, full.output, "\(optimizer) resumed at step \(step)")
            }
            // An unusable checkpoint (truncated) costs time, not the task: it starts over.
            let broken = try RunKind().run(task: 1, attempt: 2, params: task.params,
                                             inputs: [TaskInput(task: 1, name: TaskContext.checkpointInput, data: Array(checkpoints[0].1.prefix(100)))])
            XCTAssertEqual(broken.startStep, 0)
            XCTAssertEqual(broken.output, full.output)
            // A checkpoint of another task is not this task's: ignored.
            let other = try RunKind().run(task: 1, attempt: 2, params: task.params,
                                            inputs: [TaskInput(task: 9, name: TaskContext.checkpointInput, data: checkpoints[0].1)])
            XCTAssertEqual(other.startStep, 0)
        }
    }

    func testTrainingGridSpecErrorsNameTheField() throws {
        func message(_ grid: String, _ training: String = "") -> String {
            do { _ = try Self.spec(grid: grid, training: training); return "no error" } catch { return "\(error)" }
        }
        for (grid, training, expected) in [
            ("{batch_size: [32, -1], lr: [0.1]}", "", "grid.batch_size"),
            ("{batch_size: [32]}", "", "training.optimizer.lr"),
            ("{batch_size: [32], lr: [0.1, 0.1]}", "", "twice"),
            ("{batch_size: [32], lr: [0.1], optimizer: [adam], momentum: [0.9]}", "", "momentum"),
            ("{batch_size: [32], lr: [0.1], optimizer: [rmsprop]}", "", "grid.optimizer"),
            ("{lr: [0.1]}", "", "training.batch_size"),
            ("{batch_size: [32], lrs: [0.1]}", "", "did you mean 'grid.lr'"),
            ("{batch_size: [32], lr: [0.1]}", "target_accuracy: 60", "training.target_accuracy"),
            ("{batch_size: [32], lr: [0.1], seeds: 3}", "", "grid.seeds: expected a list"),
            ("{batch_size: [32], lr: [0.1, fast]}", "", "'fast'"),
            ("{batch_size: [400], lr: [0.1]}", "", "warmup_steps: 4 steps of warm-up, but the run with batch size 400 trains only 3 steps"),
        ] {
            let m = message(grid, training)
            XCTAssertTrue(m.contains(expected), "\(grid) \(training): \(m)")
        }
        do {
            _ = try SweepSpec.parse("""
                kind: training
                model: {kind: mlp, hidden: [8]}
                data: {path: no-such-data.npz}
                training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 32, epochs: 1}
                grid: {lr: [0.1]}
                """, source: "missing.yaml", baseDirectory: "/tmp")
            XCTFail("a missing data file must be refused")
        } catch {
            XCTAssertTrue("\(error)".contains("data.path: /tmp/no-such-data.npz: no such file"), "\(error)")
        }
    }
}

extension TrainingGridTests {
    func testAHeldOutValidationSetIsRecordedAndDecidesTheEarlyStopStep() throws {
        let spec = try Self.spec(grid: "{batch_size: [50], lr: [0.05]}", training: "validation_samples: 100")
        let r = try RunRecord.decode(try InProcessSweep.run(spec)[1]!.output)
        // 400 − 100 training samples: 6 steps per epoch, 18 in all.
        XCTAssertEqual(r.totalSteps, 18)
        XCTAssertTrue(r.curve.allSatisfy { $0.validationLoss != nil && $0.validationAccuracy != nil })
        let best = r.curve.min { ($0.validationLoss!, $0.step) < ($1.validationLoss!, $1.step) }!
        XCTAssertEqual(r.earlyStopStep, best.step)
        XCTAssertEqual(r.validationLoss, r.curve.last!.validationLoss)
        // The held-out samples are the same for every run: another seed sees the same validation loss at step 0
        // only if its initialization is the same, so compare the sets instead.
        let (train, _) = try DataLoader.load(spec.trainingGrid!.data, baseDirectory: "/", seed: spec.trainingGrid!.dataSeed, as: Float.self)
        let a = train.holdOut(100, seed: 7), b = train.holdOut(100, seed: 7)
        XCTAssertEqual(a.heldOut.x.storage, b.heldOut.x.storage)
        XCTAssertEqual(a.rest.count + a.heldOut.count, train.count)
        func message(_ n: Int) -> String {
            do { _ = try Self.spec(grid: "{batch_size: [50], lr: [0.05]}", training: "validation_samples: \(n)"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(400).contains("training.validation_samples"), message(400))
    }
}
