import Foundation
import Synchronization
import TerrainCore
import TerrainDataset
import TerrainSweeps
import XCTest

/// Mode connectivity and instability sweeps: their task graphs, spec errors, resuming a
/// bend, and the measured results on the example MLP.
final class ConnectivityTests: XCTestCase {
    static let data = TestSupport.dataPath("mnist1d.npz")

    static func connectivity(_ section: String, extra: String = "", training: Bool = true,
                             model: String = "{kind: mlp, hidden: [32, 16]}") throws -> SweepSpec {
        try SweepSpec.parse("""
        kind: connectivity
        model: \(model)
        data: {path: \(data), train_subset: 400, test_subset: 200}
        \(training ? "training: {optimizer: {name: sgd, lr: 0.1, momentum: 0.9}, batch_size: 50, epochs: 2}" : "")
        curve_training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 50
          epochs: 3
          checkpoint_every: 1
        connectivity: \(section)
        \(extra)
        """, source: "connectivity.yaml")
    }

    /// The example spec with its sections changed by `edits` (text replacements).
    static func example(_ name: String, _ edits: [(String, String)]) throws -> SweepSpec {
        let path = TestSupport.root.appendingPathComponent("examples/\(name)").path
        var text = try String(contentsOfFile: path, encoding: .utf8)
        for (old, new) in edits {
            guard text.contains(old) else { throw TerrainError.invalidArgument("\(name) no longer contains '\(old)'") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        return try SweepSpec.parse(text, source: path, baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    /// The `paths` rows of every `path` task's output, judged as the coordinator judges them.
    static func pathRows(_ spec: SweepSpec, _ outputs: [UInt64: TaskOutput]) throws -> [PathRow] {
        try spec.expand().filter { $0.kind == PathKind.name }.map { t in
            guard case .acceptPath(let rows) = PathKind().judge(outputs[t.id]!, params: t.params, task: t.id) else {
                throw TerrainError.invalidArgument("path task \(t.id) was not accepted")
            }
            return rows.path
        }
    }

    func testConnectivityExpandsIntoEndPointsThenALineAndABendAndPathPerCurve() throws {
        let spec = try Self.connectivity("{pairs: [[0, 1], [1, 2]], curves: [bezier, chain], points: 5}")
        let tasks = try spec.expand()
        XCTAssertEqual(tasks.map(\.kind), ["mode_run", "mode_run", "mode_run"] + Array(repeating: ["path", "bend", "path", "bend", "path"], count: 2).flatMap { $0 })
        XCTAssertEqual(tasks[3].dependencies, [1, 2], "the line needs both end points")
        XCTAssertEqual(tasks[4].dependencies, [1, 2])
        XCTAssertEqual(tasks[5].dependencies, [1, 2, 5], "a curve's path needs its bend")
        XCTAssertEqual(tasks[8].dependencies, [2, 3], "the second pair shares seed 1's end point")
        let bend = try BendKind.decode(tasks[4].params, task: 5)
        XCTAssertEqual(bend.shape, .bezier)
        XCTAssertEqual(try BendKind.decode(tasks[6].params, task: 7).shape, .chain)
        XCTAssertNotEqual(bend.seed, try BendKind.decode(tasks[9].params, task: 10).seed, "each curve draws its own t")
    }

    func testInstabilityExpandsIntoAParentThenTwoChildrenAndALinePerBranchStep() throws {
        let spec = try SweepSpec.parse("""
        kind: instability
        model: {kind: mlp, hidden: [16]}
        data: {path: \(Self.data), train_subset: 400, test_subset: 200}
        training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 50, epochs: 2}
        instability: {branch_steps: [8, 0], seeds: [3, 4]}
        """, source: "instability.yaml")
        let tasks = try spec.expand()
        XCTAssertEqual(tasks.count, 2 + 2 * 2 * 3)
        let parent = try ModeRunKind.decode(tasks[0].params, task: 1)
        XCTAssertEqual(parent.captureSteps, [0, 8])
        XCTAssertEqual(parent.role, "parent")
        let c0 = try ModeRunKind.decode(tasks[2].params, task: 3), c1 = try ModeRunKind.decode(tasks[3].params, task: 4)
        XCTAssertEqual([c0.branchStep, c1.branchStep], [0, 0])
        XCTAssertEqual(c0.parent, 1)
        XCTAssertNotEqual(c0.dataOrder, c1.dataOrder, "the children see different data orders")
        XCTAssertEqual(c0.seed, c1.seed)
        XCTAssertEqual(tasks[4].kind, "path")
        XCTAssertEqual(tasks[4].dependencies, [3, 4])
        XCTAssertEqual(try PathKind.decode(tasks[4].params, task: 5).points, 31)
    }

    func testSpecErrorsNameTheField() throws {
        func message(_ section: String, extra: String = "") -> String {
            do { _ = try Self.connectivity(section, extra: extra); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{pairs: [[0, 0]]}").contains("connectivity.pairs"))
        XCTAssertTrue(message("{}").contains("give pairs"))
        XCTAssertTrue(message("{pairs: [[0, 1]], curves: [line]}").contains("connectivity.curves"))
        XCTAssertTrue(message("{pairs: [[0, 1]], points: 1}").contains("connectivity.points"))
        XCTAssertTrue(message("{pairs: [[0, 1]], batch_norm: {batch_size: 1}}").contains("connectivity.batch_norm.batch_size"))
        XCTAssertTrue(message("{checkpoints: [[/nonexistent/a.safetensors, /nonexistent/b.safetensors]]}").contains("training: applies"))
        let instability = { (section: String) -> String in
            do {
                _ = try SweepSpec.parse("""
                kind: instability
                model: {kind: mlp, hidden: [16]}
                data: {path: \(Self.data), train_subset: 400, test_subset: 200}
                training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 50, epochs: 2}
                instability: \(section)
                """, source: "i.yaml")
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(instability("{branch_steps: [16]}").contains("not before the end of training (16 steps)"))
        XCTAssertTrue(instability("{branch_steps: [1, 1]}").contains("instability.branch_steps"))
        XCTAssertTrue(instability("{seeds: [0]}").contains("instability.branch_steps: required"))
    }

    func testCheckpointPairsAreFixedInputsAndAMisfitCheckpointIsRefusedByField() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("terrain-connectivity-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, seed, hidden) in [("a", 1, [32, 16]), ("b", 2, [32, 16]), ("wrong", 3, [8])] as [(String, UInt64, [Int])] {
            let m: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: hidden), dataShape: [40], outputs: 10, seed: seed)
            try Checkpoint.save(model: m, step: 0, to: "\(dir)/\(name).safetensors")
        }
        let spec = try Self.connectivity("{checkpoints: [[\(dir)/a.safetensors, \(dir)/b.safetensors]], curves: [chain], points: 3}", training: false)
        let tasks = try spec.expand()
        XCTAssertEqual(tasks.map(\.kind), ["path", "bend", "path"])
        XCTAssertEqual(tasks[0].inputs.map(\.name), ["a0", "b0"])
        XCTAssertEqual(tasks[0].dependencies, [])
        XCTAssertEqual(spec.family.referencedFiles.suffix(2), ["\(dir)/a.safetensors", "\(dir)/b.safetensors"])
        let outputs = try InProcessSweep.run(spec)
        let rows = try Self.pathRows(spec, outputs)
        XCTAssertEqual(rows.map(\.shape), ["line", "chain"])
        XCTAssertEqual(rows[0].trainLossA, rows[1].trainLossA, "both paths start at the same checkpoint")
        XCTAssertTrue(try "\(Self.connectivityError("{checkpoints: [[\(dir)/a.safetensors, \(dir)/wrong.safetensors]]}"))".contains("connectivity.checkpoints[0][1]"))
    }

    static func connectivityError(_ section: String) -> String {
        do { _ = try connectivity(section, training: false); return "accepted" } catch { return "\(error)" }
    }

    func testABendResumedFromACheckpointEqualsTheUninterruptedBend() throws {
        let spec = try Self.connectivity("{pairs: [[0, 1]], curves: [bezier], points: 3}")
        let outputs = try InProcessSweep.run(spec)
        let (task, inputs) = try InProcessSweep.inputs(of: 4, in: spec, outputs: outputs)
        XCTAssertEqual(task.kind, "bend")
        let saved = Mutex<[(Int, [UInt8])]>([])
        let full = try BendKind().run(task: 4, attempt: 1, params: task.params, inputs: inputs,
                                      context: TaskContext { step, data in saved.withLock { $0.append((step, data)) } })
        XCTAssertEqual(full, outputs[4])
        let checkpoints = saved.withLock { $0 }
        XCTAssertEqual(checkpoints.map(\.0), [8, 16])
        for (step, data) in checkpoints {
            let resumed = try BendKind().run(task: 4, attempt: 2, params: task.params,
                                             inputs: inputs + [TaskInput(task: 4, name: TaskContext.checkpointInput, data: data)])
            XCTAssertEqual(resumed.startStep, step)
            XCTAssertEqual(resumed.output, full.output, "resumed at step \(step)")
            XCTAssertEqual(resumed.blobs.map(\.data), full.blobs.map(\.data), "the bend is bit-identical")
        }
        guard case .accept(let rows?) = BendKind().judge(full, params: task.params, task: 4) else { return XCTFail("bend refused") }
        XCTAssertEqual(rows.run.branch, "bezier")
        XCTAssertEqual(rows.curve.count, 3, "one point per epoch")
    }

    /// With BatchNorm, every point's statistics are re-estimated at φ(t) from the training
    /// data: at t = 0 the path's train loss is end point A's after re-estimation, not with A's
    /// own running statistics.
    func testBatchNormStatisticsAreReEstimatedAtEveryPoint() throws {
        let spec = try Self.connectivity("{pairs: [[0, 1]], curves: [chain], points: 3}", model: "{kind: mlp, hidden: [32, 16], batch_norm: true}")
        let outputs = try InProcessSweep.run(spec)
        let rows = try Self.pathRows(spec, outputs)
        let c = try XCTUnwrap(spec.family as? ConnectivitySpec)
        let (train, _) = try DataLoader.load(c.data, baseDirectory: "/", seed: c.dataSeed, as: Float.self)
        let model: Model<Float> = try ModelBuilder.build(c.model, dataShape: train.sampleShape, outputs: train.outputs, seed: 0)
        let weights = try XCTUnwrap(outputs[1]?.blobs.first { $0.name == "weights" }?.data)
        try Checkpoint.apply(try SafeTensors.decode(weights, source: "A").tensors, source: "A", to: model)
        let own = Evaluator.evaluate(model, on: train, loss: c.loss).loss
        XCTAssertTrue(Evaluator.recomputeBatchNormStatistics(model, on: train, batchSize: 128))
        let recomputed = Evaluator.evaluate(model, on: train, loss: c.loss).loss
        XCTAssertEqual(rows[0].trainLossA, recomputed, "line, t = 0")
        XCTAssertEqual(rows[1].trainLossA, recomputed, "chain, t = 0")
        XCTAssertNotEqual(recomputed, own, "the end point's own running statistics give another loss")
    }

    /// `instability.lottery`: per seed and k, a lottery chain rewound to k (IMP, main branch)
    /// to the level, then two children from its rewind point under that level's mask: their
    /// pruned weights stay exactly zero, and their line is recorded with its level.
    func testInstabilityOfLotterySubnetworksTrainsChildrenUnderTheLevelsMask() throws {
        let spec = try SweepSpec.parse("""
        kind: instability
        model: {kind: mlp, hidden: [16]}
        data: {path: \(Self.data), train_subset: 400, test_subset: 200}
        training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 50, epochs: 2}
        instability: {branch_steps: [8], seeds: [0], points: 3, lottery: {level: 2, fraction: 0.5}}
        """, source: "instability.yaml")
        let tasks = try spec.expand()
        XCTAssertEqual(tasks.map(\.kind), ["mode_run", "mode_run", "mode_run", "path", "lottery", "lottery", "lottery", "mode_run", "mode_run", "path"])
        XCTAssertEqual(tasks[5].dependencies, [5])
        XCTAssertEqual(tasks[6].dependencies, [6, 5])
        XCTAssertEqual(tasks[7].dependencies, [5, 7])
        XCTAssertEqual(tasks[9].dependencies, [8, 9])
        let outputs = try InProcessSweep.run(spec)
        let mask = try SafeTensors.decode(try XCTUnwrap(outputs[7]?.blobs.first { $0.name == "mask" }?.data), source: "mask").tensors
        for child in [UInt64(8), 9] {
            XCTAssertEqual(outputs[child]?.startStep, 8)
            let weights = try SafeTensors.decode(try XCTUnwrap(outputs[child]?.blobs.first { $0.name == "weights" }?.data), source: "w").tensors
            var pruned = 0
            for (name, m) in mask {
                let w = try XCTUnwrap(weights[name]).values(as: Float.self), keep = try m.values(as: Float.self)
                for (v, k) in zip(w, keep) where k == 0 {
                    XCTAssertEqual(v, 0, "\(name) of child task \(child)")
                    pruned += 1
                }
            }
            XCTAssertGreaterThan(pruned, 0)
        }
        let rows = try Self.pathRows(spec, outputs)
        XCTAssertEqual(rows.map(\.level), [nil, 2])
        XCTAssertEqual(rows[1].pair, "seed 0, k 8, level 2")
    }
}
