import Foundation
import Synchronization
import TerrainCore
import TerrainSweeps
import XCTest

/// Runs an expanded sweep in this process, in task order, handing each task its
/// dependencies' outputs as the coordinator would.
enum InProcessSweep {
    static func run(_ spec: SweepSpec, context: (UInt64) -> TaskContext = { _ in .none }) throws -> [UInt64: TaskOutput] {
        let tasks = try spec.expand()
        let runners = TaskKinds.byName()
        var outputs = [UInt64: TaskOutput]()
        for t in tasks {
            var inputs = t.inputs.map { TaskInput(task: 0, name: $0.name, data: $0.data) }
            for d in t.dependencies {
                for b in outputs[d]!.blobs { inputs.append(TaskInput(task: d, name: b.name, data: b.data)) }
            }
            outputs[t.id] = try runners[t.kind]!.run(task: t.id, attempt: 1, params: t.params, inputs: inputs, context: context(t.id))
        }
        return outputs
    }

    static func inputs(of id: UInt64, in spec: SweepSpec, outputs: [UInt64: TaskOutput]) throws -> (ExpandedTask, [TaskInput]) {
        let t = try spec.expand().first { $0.id == id }!
        var inputs = [TaskInput]()
        for d in t.dependencies { for b in outputs[d]!.blobs { inputs.append(TaskInput(task: d, name: b.name, data: b.data)) } }
        return (t, inputs)
    }
}

/// Lottery-ticket levels: density schedule, exact zeros, bit-exact rewinding, the controls.
final class LotteryTests: XCTestCase {
    static func spec(levels: Int = 3, scope: String = "global", rewind: Int = 0, extra: String = "", epochs: Int = 2,
                     controls: String = "[random_reinit, random_prune]", seeds: String = "[0]") throws -> SweepSpec {
        try SweepSpec.parse("""
        kind: lottery
        model: {kind: mlp, hidden: [32, 16]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400, test_subset: 200}
        training:
          optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
          batch_size: 50
          epochs: \(epochs)
          eval_every: 4
          checkpoint_every: 1
        lottery:
          levels: \(levels)
          scope: \(scope)
          rewind_step: \(rewind)
          seeds: \(seeds)
          controls: \(controls)
          \(extra)
        """, source: "lottery.yaml")
    }

    private func tensors(_ output: TaskOutput, _ name: String) throws -> [String: [Float]] {
        let blob = try XCTUnwrap(output.blobs.first { $0.name == name }?.data, "no artifact \(name)")
        return try SafeTensors.decode(blob, source: name).tensors.mapValues { try $0.values(as: Float.self) }
    }

    private func record(_ o: TaskOutput) throws -> RunRecord { try RunRecord.decode(o.output) }

    func testDensityAfterEachLevelFollowsTheCeilRuleAndStaysWithinLWeightsOfTheGeometricSchedule() throws {
        for scope in ["global", "layerwise"] {
            let spec = try Self.spec(levels: 4, scope: scope, epochs: 1, controls: "[]")
            let out = try InProcessSweep.run(spec)
            let records = try out.keys.sorted().map { try record(out[$0]!) }.sorted { $0.level! < $1.level! }
            XCTAssertEqual(records.map(\.level), [0, 1, 2, 3, 4])
            let sizes = records[0].prunable!
            // 40·32, 32·16 and the output 16·10 are prunable; biases never are.
            XCTAssertEqual(sizes, ["layers.0.weight": 1280, "layers.2.weight": 512, "layers.4.weight": 160])
            var expectedTotal = sizes.values.reduce(0, +)
            var expectedLayer = sizes
            for r in records {
                let remaining = r.remaining!
                let total = remaining.values.reduce(0, +)
                let level = r.level!
                if scope == "global" {
                    // open_lth: each level removes ⌈0.2 · remaining⌉ of all prunable weights.
                    XCTAssertEqual(total, expectedTotal, "global level \(level)")
                    XCTAssertLessThanOrEqual(abs(Double(total) - pow(0.8, Double(level)) * 1952), Double(max(level, 1)), "level \(level)")
                    expectedTotal -= Int((0.2 * Double(expectedTotal)).rounded(.up))
                } else {
                    for (name, n) in sizes {
                        XCTAssertEqual(remaining[name], expectedLayer[name], "layerwise \(name) level \(level)")
                        XCTAssertLessThanOrEqual(abs(Double(remaining[name]!) - pow(0.8, Double(level)) * Double(n)), Double(max(level, 1)))
                        expectedLayer[name]! -= Int((0.2 * Double(expectedLayer[name]!)).rounded(.up))
                    }
                }
                XCTAssertEqual(r.density!, Double(total) / 1952, accuracy: 1e-12)
                // The mask artifact agrees with the counts.
                let mask = try tensors(out.first { (try? record($0.value))?.level == level }!.value, "mask")
                XCTAssertEqual(mask.mapValues { $0.filter { $0 != 0 }.count }, remaining)
            }
        }
    }

    func testPrunedWeightsAreExactlyZeroAfterTrainingInEveryBranch() throws {
        let spec = try Self.spec(levels: 2)
        let out = try InProcessSweep.run(spec)
        XCTAssertEqual(out.count, 7)
        for (id, o) in out {
            let r = try record(o)
            guard r.level! > 0 else { continue }
            let masks = try tensors(o, "mask"), weights = try tensors(o, "weights")
            var pruned = 0, survivorsNonZero = 0
            for (name, m) in masks {
                let w = try XCTUnwrap(weights[name])
                for i in m.indices {
                    if m[i] == 0 {
                        XCTAssertEqual(w[i].bitPattern, Float(0).bitPattern, "task \(id) \(r.branch!) \(name)[\(i)] was pruned but is \(w[i])")
                        pruned += 1
                    } else if w[i] != 0 {
                        survivorsNonZero += 1
                    }
                }
            }
            XCTAssertGreaterThan(pruned, 0)
            XCTAssertGreaterThan(survivorsNonZero, pruned, "training moved the survivors")
        }
    }

    func testRewoundSurvivorsEqualTheDenseRunsStepKWeightsBitForBit() throws {
        let k = 5
        let spec = try Self.spec(levels: 1, rewind: k, controls: "[random_prune]")
        let out = try InProcessSweep.run(spec)
        // Reference: train the dense network for exactly k steps with the same seeds, outside the sweep.
        let p = spec.lottery!
        let (train, _) = try DataLoader.load(p.data, baseDirectory: "/", seed: p.dataSeed, as: Float.self)
        let dense: Model<Float> = try ModelBuilder.build(p.model, dataShape: train.sampleShape, outputs: train.outputs, seed: TerrainRNG.derive(0, "init"))
        let trainer = try Trainer(model: dense, train: train, config: TrainingConfig(batchSize: 50, epochs: 2, seed: TerrainRNG.derive(0, "data"),
                                                                                   optimizer: p.training.optimizer, loss: .crossEntropy))
        for _ in 0..<k { trainer.trainStep() }
        let rewind = try tensors(out[1]!, "rewind")
        for q in dense.parameters {
            XCTAssertEqual(rewind[q.name]!.map(\.bitPattern), q.value.storage.map(\.bitPattern), "rewind point of \(q.name)")
        }
        // Level 1 main and random_prune start from those weights under their masks, at step k.
        for id: UInt64 in [2, 3] {
            let (task, inputs) = try InProcessSweep.inputs(of: id, in: spec, outputs: out)
            let params = try JSONDecoder().decode(LotteryKind.Params.self, from: Data(task.params))
            let (model, start) = try LotteryKind.initialState(task: id, params: params, inputs: inputs, train: train)
            XCTAssertEqual(start, k)
            for q in model.parameters {
                let reference = rewind[q.name]!
                for i in reference.indices {
                    let expected = (q.mask?.storage[i] ?? 1) == 0 ? Float(0) : reference[i]
                    XCTAssertEqual(q.value.storage[i].bitPattern, expected.bitPattern, "\(params.branch) \(q.name)[\(i)]")
                }
            }
            XCTAssertNotNil(model.parameter(named: "layers.0.weight")!.mask)
            XCTAssertNil(model.parameter(named: "layers.0.bias")!.mask, "biases are never pruned")
        }
    }

    func testControlsUseTheMainMaskOrItsPerLayerCountsAndRandomMasksNest() throws {
        let spec = try Self.spec(levels: 2)
        let out = try InProcessSweep.run(spec)
        var byKey = [String: TaskOutput]()
        for o in out.values { let r = try record(o); byKey["\(r.branch!)/\(r.level!)"] = o }
        for level in 1...2 {
            let main = try tensors(byKey["main/\(level)"]!, "mask")
            let reinit = try tensors(byKey["random_reinit/\(level)"]!, "mask")
            let random = try tensors(byKey["random_prune/\(level)"]!, "mask")
            XCTAssertEqual(reinit, main, "random_reinit keeps the main chain's mask")
            XCTAssertEqual(random.mapValues { $0.filter { $0 != 0 }.count }, main.mapValues { $0.filter { $0 != 0 }.count })
            XCTAssertNotEqual(random, main)
            if level == 2 {
                let earlier = try tensors(byKey["random_prune/1"]!, "mask")
                for (name, m) in random { for i in m.indices where m[i] != 0 { XCTAssertEqual(earlier[name]![i], 1, "random masks nest") } }
            }
        }
        // A fresh initialization: random_reinit's trained weights differ from main's.
        XCTAssertNotEqual(try tensors(byKey["random_reinit/1"]!, "weights"), try tensors(byKey["main/1"]!, "weights"))
    }

    func testALevelResumedFromACheckpointEqualsTheUninterruptedLevel() throws {
        // Rewind at step 3, checkpoints at every epoch end (8 steps per epoch): level 0 must
        // carry its rewind point through the checkpoint.
        let spec = try Self.spec(levels: 1, rewind: 3, epochs: 3, controls: "[]")
        let task = try spec.expand()[0]
        let saved = Mutex<[(Int, [UInt8])]>([])
        let runner = LotteryKind()
        let full = try runner.run(task: 1, attempt: 1, params: task.params, inputs: [],
                                  context: TaskContext { step, data in saved.withLock { $0.append((step, data)) } })
        let checkpoints = saved.withLock { $0 }
        XCTAssertEqual(checkpoints.map(\.0), [8, 16])
        XCTAssertEqual(full.startStep, 0)
        for (step, data) in checkpoints {
            let resumed = try runner.run(task: 1, attempt: 2, params: task.params, inputs: [TaskInput(task: 1, name: TaskContext.checkpointInput, data: data)])
            XCTAssertEqual(resumed.startStep, step)
            XCTAssertEqual(resumed.output, full.output, "resumed at step \(step)")
            XCTAssertEqual(resumed.blobs.map(\.name), full.blobs.map(\.name))
            XCTAssertEqual(resumed.blobs.map(\.data), full.blobs.map(\.data), "weights, mask and rewind point are bit-identical")
        }
    }

    func testLotterySpecErrorsNameTheField() throws {
        func message(_ lottery: String) -> String {
            do {
                _ = try SweepSpec.parse("""
                kind: lottery
                model: {kind: mlp, hidden: [8]}
                data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 100}
                training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 50, epochs: 1}
                lottery: \(lottery)
                """, source: "l.yaml")
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{fraction: 0.2}").contains("lottery.levels"), message("{fraction: 0.2}"))
        XCTAssertTrue(message("{levels: 2, fraction: 1.5}").contains("lottery.fraction"))
        XCTAssertTrue(message("{levels: 2, output_rate: 0.5}").contains("layerwise"))
        XCTAssertTrue(message("{levels: 2, controls: [random_reint]}").contains("lottery.controls"))
        XCTAssertTrue(message("{levels: 2, rewind_step: 2}").contains("rewind_step"), "2 steps of training end before step 2")
        XCTAssertTrue(message("{levels: 2, sedes: [0]}").contains("seeds"), "unknown keys suggest the nearest")
        XCTAssertTrue(message("{levels: 2, scope: local}").contains("global, layerwise"))
        XCTAssertTrue(message("{levels: 0}").contains("got 0"), message("{levels: 0}"))
        XCTAssertTrue(message("{levels: 2, seeds: 3}").contains("lottery.seeds: expected a list"))
    }
}

extension LotteryTests {
    func testALevelAfterADivergedLevelFailsWithAClearErrorInsteadOfPruningNaNs() throws {
        let spec = try SweepSpec.parse("""
        kind: lottery
        model: {kind: mlp, hidden: [16]}
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 200, test_subset: 100}
        training: {optimizer: {name: sgd, lr: 1.0e+25}, batch_size: 50, epochs: 2, diverge_above: 1.0e+30}
        lottery: {levels: 1}
        """, source: "diverging.yaml")
        let tasks = try spec.expand()
        let level0 = try LotteryKind().run(task: 1, attempt: 1, params: tasks[0].params, inputs: [])
        let r = try RunRecord.decode(level0.output)
        XCTAssertEqual(r.status, "diverged")
        var inputs = [TaskInput]()
        for b in level0.blobs { inputs.append(TaskInput(task: 1, name: b.name, data: b.data)) }
        XCTAssertThrowsError(try LotteryKind().run(task: 2, attempt: 1, params: tasks[1].params, inputs: inputs)) { e in
            let error = e as? TaskError
            XCTAssertEqual(error?.retryable, false)
            XCTAssertTrue(error?.message.contains("diverged") ?? false, "\(e)")
        }
    }
}
