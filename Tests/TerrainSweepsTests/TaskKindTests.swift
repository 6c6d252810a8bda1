import Foundation
import TerrainCore
import TerrainDataset
import TerrainSweeps
import XCTest

/// The task-kind registry and what every kind shares: parameter decoding, composed network
/// parameters, tabulation of run records.
final class TaskKindTests: XCTestCase {
    func testEveryKindHasOneNameAndEverySweepKindExpandsIntoRegisteredKinds() throws {
        let names = TaskKinds.all().map(\.name)
        XCTAssertEqual(names, ["probe", "surface", "hessian", "train", "directions", "lottery", "run", "mode_run", "bend", "path"])
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(SweepKinds.names, ["probe", "surface", "lottery", "training", "connectivity", "instability"])
        let probe = try SweepSpec.parse("kind: probe\nprobe: {tasks: 4, chain: 2}\n")
        XCTAssertTrue(try probe.expand().allSatisfy { TaskKinds.byName()[$0.kind] != nil })
        let lottery = try LotteryTests.spec(levels: 1)
        XCTAssertEqual(Set(try lottery.expand().map(\.kind)), [LotteryKind.name])
    }

    func testUnreadableParametersFailTheTaskForGoodNamingIt() {
        XCTAssertThrowsError(try ProbeKind().run(task: 3, attempt: 1, params: Array("{\"index\": \"x\"}".utf8), inputs: [])) { e in
            let error = e as? TaskError
            XCTAssertEqual(error?.retryable, false)
            XCTAssertTrue(error?.message.hasPrefix("probe task 3: unreadable parameters") ?? false, "\(e)")
        }
    }

    func testNetworkParametersComposeIntoOneFlatJSONObject() throws {
        let network = NetworkParams(model: ModelSpec(kind: .mlp, hidden: [4]), data: DataSpec(path: "/d.npz"), dataSHA256: "ab",
                                    dataSeed: 7, loss: .mse)
        let tile = SurfaceKind.Tile(x: [0, 1], y: nil, start: 0, end: 2, sets: ["train"], recomputeBatchNorm: nil)
        let bytes = try SurfaceKind.encode(Networked(network, tile))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["model", "data", "dataSHA256", "dataSeed", "loss", "x", "start", "end", "sets"])
        XCTAssertEqual(Array(String(decoding: bytes, as: UTF8.self).prefix(8)), Array("{\"data\":"), "keys sorted across both parts")
        let back = try SurfaceKind.decode(bytes, task: 1)
        XCTAssertEqual(back, Networked(network, tile))
        XCTAssertEqual(back.dataSeed, 7)
        XCTAssertEqual(back.end, 2)
    }

    private func record(curve: [CurvePoint]) -> RunRecord {
        var r = RunRecord(kind: "run", seed: 3, batchSize: 32, learningRate: 0.1, effectiveLearningRate: 0.05, optimizer: "sgd",
                          momentum: 0.9, weightDecay: 0, status: "completed", totalSteps: 10, curve: curve)
        r.testAccuracy = 0.5
        return r
    }

    func testRunAndLotteryOutputsBecomeRowsAndBadOnesAreRefusedWithAReason() throws {
        let point = CurvePoint(step: 5, epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5, learningRate: 0.1)
        let good = try record(curve: [point]).encoded()
        let run = try XCTUnwrap(try TrainingGridTests.spec(grid: "{batch_size: [32], lr: [0.1], seeds: [3]}").expand().first).params
        guard case .accept(let rows?) = RunKind().judge(TaskOutput(output: good), params: run, task: 9) else {
            return XCTFail("a valid record is tabulated")
        }
        XCTAssertEqual(rows.run.task, 9)
        XCTAssertEqual(rows.run.replicateSeed, 3)
        XCTAssertEqual(rows.curve.map(\.step), [5])
        let unordered = try record(curve: [point, point]).encoded()
        XCTAssertEqual(RunKind().judge(TaskOutput(output: unordered), params: run, task: 9).rejection?.contains("curve steps are not increasing"), true)
        let other = try XCTUnwrap(try TrainingGridTests.spec(grid: "{batch_size: [32], lr: [0.1], seeds: [4]}").expand().first).params
        XCTAssertEqual(RunKind().judge(TaskOutput(output: good), params: other, task: 9).rejection?.contains("the task is seed 4"), true,
                       "a record of another grid point is not this task's result")
        let level0 = try XCTUnwrap(try LotteryTests.spec(levels: 1).expand().first).params
        let blobs = ["mask", "weights", "rewind"].map { (name: $0, data: [UInt8](repeating: 1, count: 8)) }
        XCTAssertEqual(LotteryKind().judge(TaskOutput(output: Array("{}".utf8), blobs: blobs), params: level0, task: 1).rejection?
            .hasPrefix("the lottery result is not a run record"), true)
        XCTAssertEqual(LotteryKind().judge(TaskOutput(output: good, blobs: Array(blobs.prefix(2))), params: level0, task: 1).rejection?
            .contains("expected [mask, weights, rewind]"), true)
    }

    /// docs/protocol.md, "Results are judged by their kind": a surface tile's output is exactly
    /// points × sets × (loss, accuracy) little-endian Float64 values, losses not negative
    /// (non-finite where the network diverged), accuracies in [0, 1], no blobs. The 8-byte
    /// output a hostile peer once stored (after which export and render failed for the whole
    /// dataset) is refused.
    func testASurfaceTileResultIsJudgedByItsShapeAndValues() throws {
        let network = NetworkParams(model: ModelSpec(kind: .mlp, hidden: [4]), data: DataSpec(path: "/d.npz"), dataSHA256: "ab",
                                    dataSeed: 7, loss: .crossEntropy)
        let tile = SurfaceKind.Tile(x: [0, 1, 2, 3], y: nil, start: 1, end: 4, sets: ["train", "test"], recomputeBatchNorm: nil)
        let params = try SurfaceKind.encode(Networked(network, tile))
        func output(_ v: [Double]) -> TaskOutput {
            TaskOutput(output: v.flatMap { d in withUnsafeBytes(of: d.bitPattern.littleEndian) { Array($0) } })
        }
        let good = [Double](repeating: 0, count: 12).enumerated().map { $0.offset % 2 == 0 ? 0.5 : 0.75 }
        XCTAssertEqual(SurfaceKind().judge(output(good), params: params, task: 3), .accept(nil))
        var diverged = good
        diverged[0] = .infinity
        diverged[2] = .nan
        XCTAssertEqual(SurfaceKind().judge(output(diverged), params: params, task: 3), .accept(nil), "a diverged point is what the network computes")
        XCTAssertEqual(SurfaceKind().judge(TaskOutput(output: [UInt8](repeating: 0, count: 8)), params: params, task: 3).rejection,
                       "the output has 8 bytes; 3 points × 2 sets × 2 values need 96")
        var negative = good
        negative[4] = -1
        XCTAssertEqual(SurfaceKind().judge(output(negative), params: params, task: 3).rejection, "point 2: train_loss is -1.0")
        var accuracy = good
        accuracy[7] = 1.5
        XCTAssertEqual(SurfaceKind().judge(output(accuracy), params: params, task: 3).rejection?.hasPrefix("point 2: test"), true)
        XCTAssertNotNil(SurfaceKind().judge(TaskOutput(output: output(good).output, blobs: [("x", [1])]), params: params, task: 3).rejection)
        // Hessian probes, directions and the trained centre have their own shapes.
        let checkpoint = NSTemporaryDirectory() + "judge-\(getpid()).safetensors"
        defer { unlink(checkpoint) }
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [4]), dataShape: [40], outputs: 10, seed: 1)
        try Checkpoint.save(model: model, step: 0, to: checkpoint)
        let yaml = "kind: surface\nmodel: {kind: mlp, hidden: [4]}\ndata: {path: \(TestSupport.dataPath("mnist1d.npz"))}\nsurface: {checkpoint: \(checkpoint), x: \"-1:1:3\", y: \"-1:1:3\"}\n"
        let directions = try DirectionsKind.encode(try XCTUnwrap(try SweepSpec.parse(yaml).surface).directionsParams)
        let d = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(DirectionsKind().judge(TaskOutput(output: [], blobs: [("d1", d), ("d2", d)]), params: directions, task: 1), .accept(nil))
        XCTAssertNotNil(DirectionsKind().judge(TaskOutput(output: [], blobs: [("d1", d), ("d2", Array(d.prefix(8)))]), params: directions, task: 1).rejection)
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Array($0) } + [UInt8](repeating: 0, count: 12)
        XCTAssertEqual(DirectionsKind().judge(TaskOutput(output: [], blobs: [("d1", nan), ("d2", d)]), params: directions, task: 1).rejection,
                       "direction 'd1' has non-finite entries")
    }

    func testASectionOfAnotherKindIsRefusedNamingItsOwners() {
        XCTAssertThrowsError(try SweepSpec.parse("kind: probe\nprobe: {tasks: 1}\ngrid: {lr: [0.1]}\n")) { e in
            XCTAssertTrue("\(e)".contains("'grid:' belongs to kind: training, not kind: probe"), "\(e)")
        }
        XCTAssertThrowsError(try SweepSpec.parse("kind: probe\nprobe: {tasks: 1}\ntraining: {}\n")) { e in
            XCTAssertTrue("\(e)".contains("'training:' belongs to kind: lottery or training"), "\(e)")
        }
        XCTAssertThrowsError(try SweepSpec.parse("kind: nope\n")) { e in
            XCTAssertTrue("\(e)".contains("unknown sweep kind 'nope' (known: probe, surface, lottery, training, connectivity, instability)"), "\(e)")
        }
    }
}

extension Judgement {
    var rejection: String? { if case .reject(let r) = self { return r } else { return nil } }
}
