import Foundation
import Synchronization
import TerrainCore
import TerrainSweeps
import XCTest

/// Stochastic weight averaging as a training option: the averaged weights are the mean of
/// the stored iterates bit for bit (numpy computes the mean), its rate schedule, resuming,
/// and its BatchNorm statistics recomputed.
final class SWATests: XCTestCase {
    static func spec(swa: String, model: String = "{kind: mlp, hidden: [16], batch_norm: true}") throws -> SweepSpec {
        try SweepSpec.parse("""
        kind: training
        model: \(model)
        data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 400, test_subset: 200}
        training:
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
          batch_size: 50
          epochs: 4
          eval_every: 4
          checkpoint_every: 1
          swa: \(swa)
        grid: {seeds: [0]}
        curvature: {lambda_max: true, samples: 100, iterations: 5}
        """, source: "swa.yaml")
    }

    /// Runs the single task, collecting its checkpoints (8 steps per epoch).
    private func run(_ spec: SweepSpec) throws -> (output: TaskOutput, checkpoints: [(step: Int, data: [UInt8])], params: [UInt8]) {
        let task = try spec.expand()[0]
        let saved = Mutex<[(step: Int, data: [UInt8])]>([])
        let out = try RunKind().run(task: 1, attempt: 1, params: task.params, inputs: [],
                                    context: TaskContext { step, data in saved.withLock { $0.append((step, data)) } })
        return (out, saved.withLock { $0 }, task.params)
    }

    private func blob(_ out: TaskOutput, _ name: String) throws -> [UInt8] {
        try XCTUnwrap(out.blobs.first { $0.name == name }?.data, "blob \(name)")
    }

    func testTheAveragedWeightsAreTheMeanOfTheStoredIteratesBitForBit() throws {
        guard (try? Self.python(["-c", "import numpy"]).status) == 0 else { throw XCTSkip("python3 with numpy is not available") }
        // Averaged after epochs 2, 3 and 4: the checkpoints of steps 16 and 24 and the final iterate.
        let (out, checkpoints, _) = try run(try Self.spec(swa: "{start_epoch: 1, lr: 0.02}"))
        XCTAssertEqual(checkpoints.map(\.step), [8, 16, 24])
        XCTAssertEqual(out.blobs.map(\.name), ["final", "swa"])
        let r = try RunRecord.decode(out.output)
        let swa = try XCTUnwrap(r.swa)
        XCTAssertEqual(swa.averaged, 3)
        XCTAssertNotNil(swa.lambdaMax)
        XCTAssertNotNil(swa.testAccuracy)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swa-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [("a", checkpoints[1].data), ("b", checkpoints[2].data), ("c", try blob(out, "final")), ("swa", try blob(out, "swa"))]
        for (name, data) in files { try Data(data).write(to: dir.appendingPathComponent("\(name).safetensors")) }
        // numpy reads the safetensors files itself and compares the bits of every parameter.
        let script = """
        import json, struct, sys, numpy as np
        def load(p):
            b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
            out = {}
            for k, v in h.items():
                if k == '__metadata__': continue
                s, e = v['data_offsets']; dt = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}[v['dtype']]
                out[k] = np.frombuffer(b[8+n+s:8+n+e], dtype=dt).reshape(v['shape'])
            return out
        d = sys.argv[1]; its = [load(f'{d}/{x}.safetensors') for x in 'abc']; swa = load(f'{d}/swa.safetensors')
        names = [k for k in swa if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')) and not k.startswith(('optimizer.', 'extra.'))]
        same = all(np.array_equal(np.mean(np.stack([it[k].astype(np.float64) for it in its]), axis=0).astype(np.float32).view(np.uint32), swa[k].view(np.uint32)) for k in names)
        moved = all(not np.array_equal(its[2][k], swa[k]) for k in names if k.endswith('weight'))
        print(json.dumps({'same': bool(same), 'parameters': len(names), 'moved': bool(moved)}))
        """
        let result = try Self.python(["-c", script, dir.path])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("\"same\": true"), result.output)
        XCTAssertTrue(result.output.contains("\"parameters\": 6"), "two Linear layers and one BatchNorm: \(result.output)")
        XCTAssertTrue(result.output.contains("\"moved\": true"), "the average is not the final iterate: \(result.output)")
    }

    func testBatchNormStatisticsAreRecomputedForTheAverage() throws {
        let (out, _, _) = try run(try Self.spec(swa: "{start_epoch: 2, lr: 0.02}"))
        let swa = try SafeTensors.decode(try blob(out, "swa"), source: "swa").tensors
        let final = try SafeTensors.decode(try blob(out, "final"), source: "final").tensors
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [16], batchNorm: true), dataShape: [40], outputs: 10, seed: 0)
        try Checkpoint.apply(swa, source: "swa", to: model)
        let network = try Self.spec(swa: "{start_epoch: 2, lr: 0.02}").trainingGrid!.network
        let (train, _) = try DataLoader.load(network.data, baseDirectory: "/", seed: network.dataSeed, as: Float.self)
        Evaluator.recomputeBatchNormStatistics(model, on: train, batchSize: 50)
        let recomputed = Checkpoint.tensors(model: model)
        let mean = try XCTUnwrap(swa.keys.first { $0.hasSuffix("running_mean") })
        XCTAssertEqual(swa[mean], recomputed[mean], "the stored statistics are those of the averaged weights")
        XCTAssertNotEqual(swa[mean], final[mean], "not the final iterate's")
    }

    func testTheCyclicRateFallsFromMaxToLowOverEachCycleAndResumingGivesTheSameBits() throws {
        let spec = try Self.spec(swa: "{start_epoch: 2, lr: 0.01, schedule: cyclic, max_lr: 0.05, cycle_epochs: 1}", model: "{kind: mlp, hidden: [16]}")
        let (out, checkpoints, params) = try run(spec)
        let r = try RunRecord.decode(out.output)
        XCTAssertEqual(r.swa?.averaged, 2)
        XCTAssertEqual(r.swa?.schedule, "cyclic")
        // A curve point at step s shows the rate of step s − 1; the cycle is 8 steps from step 16:
        // step 16 + i runs at (1 − t)·0.05 + t·0.01, t = (i mod 8 + 1)/8.
        for p in r.curve where p.step > 16 {
            let i = p.step - 1 - 16, t = Double(i % 8 + 1) / 8
            XCTAssertEqual(p.learningRate, (1 - t) * 0.05 + t * 0.01, accuracy: 1e-15, "step \(p.step)")
        }
        XCTAssertEqual(r.curve.first { $0.step == 24 }?.learningRate ?? 0, 0.01, accuracy: 1e-15, "each cycle ends at the low rate")
        for (step, data) in checkpoints {
            let resumed = try RunKind().run(task: 1, attempt: 2, params: params,
                                            inputs: [TaskInput(task: 1, name: TaskContext.checkpointInput, data: data)])
            XCTAssertEqual(resumed.startStep, step)
            XCTAssertEqual(resumed.output, out.output, "resumed at step \(step)")
            XCTAssertEqual(resumed.blobs.map(\.data), out.blobs.map(\.data), "the same final and SWA weights after resuming at step \(step)")
        }
    }

    func testSWASpecErrorsNameTheField() throws {
        for (swa, expected) in [
            ("{lr: 0.01}", "training.swa.start_epoch: required"),
            ("{start_epoch: 4, lr: 0.01}", "need start_epoch + cycle_epochs ≤ epochs"),
            ("{start_epoch: 1, lr: 0.01, cycle_epochs: 4}", "need start_epoch + cycle_epochs ≤ epochs"),
            ("{start_epoch: 1, lr: -1}", "training.swa.lr"),
            ("{start_epoch: 1, lr: 0.01, schedule: linear}", "constant or cyclic"),
            ("{start_epoch: 1, lr: 0.01, max_lr: 0.1}", "swa.max_lr is for schedule: cyclic"),
            ("{start_epoch: 1, lr: 0.01, start: 2}", "training.swa"),
        ] {
            do { _ = try Self.spec(swa: swa); XCTFail("\(swa) accepted") } catch {
                XCTAssertTrue("\(error)".contains(expected), "\(swa): \(error)")
            }
        }
    }

    func testALotterySpecRefusesSWA() throws {
        do {
            _ = try SweepSpec.parse("""
                kind: lottery
                model: {kind: mlp, hidden: [8]}
                data: {path: \(TestSupport.dataPath("mnist1d.npz")), train_subset: 100}
                training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 50, epochs: 2, swa: {start_epoch: 1, lr: 0.01}}
                lottery: {levels: 1}
                """, source: "l.yaml")
            XCTFail("a lottery with SWA must be refused")
        } catch {
            XCTAssertTrue("\(error)".contains("training.swa: stochastic weight averaging is an option of kind: training"), "\(error)")
        }
    }

    /// Runs `python3` with `arguments`: exit status, standard output and standard error.
    static func python(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
