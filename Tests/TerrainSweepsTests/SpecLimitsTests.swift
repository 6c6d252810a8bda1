import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// Specs that overflow or explode (docs/spec.md, "Limits"): every total is computed without
/// trapping arithmetic and checked against a documented limit, and the error names the field
/// and the limit. Each case used to trap (arithmetic overflow) or allocate without bound.
final class SpecLimitsTests: XCTestCase {
    private let data = TestSupport.dataPath("mnist1d.npz")

    private func refusal(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let spec = try SweepSpec.parse(yaml, source: "absurd.yaml")
            _ = try spec.expand()
            XCTFail("accepted", file: file, line: line)
            return ""
        } catch let e as SpecError {
            return e.description
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return ""
        }
    }

    private func network(_ sections: String) -> String {
        """
        model: {kind: mlp, hidden: [8]}
        data: {path: \(data), train_subset: 100, test_subset: 50}
        \(sections)
        """
    }

    func testEpochsThatOverflowTheStepCountAreRefusedNamingTheFieldAndTheLimit() {
        let huge = "4611686018427387904"  // 2^62: × steps per epoch overflowed Int
        for kind in ["training", "lottery"] {
            let extra = kind == "training" ? "grid: {lr: [0.1]}" : "lottery: {levels: 1}"
            let m = refusal("kind: \(kind)\n" + network("training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 10, epochs: \(huge)}\n\(extra)"))
            XCTAssertTrue(m.contains("training.epochs") && m.contains("1000000000 steps per run"), m)
        }
        // Within the epoch bound but not the step bound: 10^9 epochs of 10 steps.
        let m = refusal("kind: training\n" + network("training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 10, epochs: 1000000000}\ngrid: {lr: [0.1]}"))
        XCTAssertTrue(m.contains("training.epochs: 1000000000 epochs of 10 steps") && m.contains("limit of 1000000000 steps"), m)
    }

    func testABatchSizeNearIntMaxDoesNotOverflowTheStepsPerEpoch() {
        XCTAssertEqual(SweepLimits.stepsPerEpoch(samples: 100, batchSize: Int.max), 1)
        XCTAssertEqual(SweepLimits.stepsPerEpoch(samples: 101, batchSize: 10), 11)
        let m = refusal("kind: training\n" + network("training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 9223372036854775807, epochs: 1}\ngrid: {lr: [0.1]}"))
        XCTAssertTrue(m.contains("training.batch_size") && m.contains("limit of 16777216"), m)
    }

    func testAGridOfTenBillionPointsIsRefusedBeforeAnythingIsExpanded() {
        let m = refusal("kind: surface\n" + network(#"surface: {checkpoint: /nonexistent.safetensors, x: "-1:1:100000", y: "-1:1:100000"}"#))
        XCTAssertTrue(m.contains("surface.y: the grid has 100000 × 100000 = 10000000000 points; the limit is 16777216 points"), m)
    }

    func testTooManyTilesOrProbesAreRefusedNamingTheTaskLimit() {
        let tiles = refusal("kind: surface\n" + network(#"surface: {checkpoint: /c.safetensors, x: "-1:1:4000", y: "-1:1:4000", tile: 1}"#))
        XCTAssertTrue(tiles.contains("surface.tile: 16000000 points in tiles of 1 make 16000000 tasks; the limit is 1000000 tasks per sweep"), tiles)
        let probes = refusal("kind: surface\n" + network(#"surface: {checkpoint: /c.safetensors, x: "-1:1:3"}"# + "\ncurvature: {hutchinson: 9223372036854775807}"))
        XCTAssertTrue(probes.contains("curvature.hutchinson") && probes.contains("limit of 1000000"), probes)
    }

    func testATileLargerThanTheGridIsOneTaskWithoutOverflow() throws {
        let s = try SweepSpec.parse("kind: surface\n" + network(#"surface: {checkpoint: /c.safetensors, x: "-1:1:5", tile: 9223372036854775807}"#))
        XCTAssertEqual(s.surface?.tile, Int.max, "accepted: the expansion caps each tile at the grid's end")
    }

    func testGridListsWhoseProductOverflowsAreRefused() {
        let seeds = "[" + (1...4000).map(String.init).joined(separator: ", ") + "]"
        let decays = "[" + (1...4000).map { "\($0)e-7" }.joined(separator: ", ") + "]"
        let m = refusal("kind: training\n" + network("training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 10, epochs: 1}\ngrid: {lr: [0.1, 0.2], seeds: \(seeds), weight_decay: \(decays)}"))
        XCTAssertTrue(m.contains("grid: the lists (1 × 2 × 4000 × 1 × 1 × 4000) make 32000000 tasks; the limit is 1000000"), m)
    }

    func testLotteryTaskCountIsChecked() {
        let seeds = "[" + (0..<20000).map(String.init).joined(separator: ", ") + "]"
        let m = refusal("kind: lottery\n" + network("training: {optimizer: {name: sgd, lr: 0.1}, batch_size: 10, epochs: 1}\nlottery: {levels: 60, seeds: \(seeds), controls: [random_reinit, random_prune]}"))
        XCTAssertTrue(m.contains("lottery: 61 levels × 20000 seeds × 3 branches make 3620000 tasks; the limit is 1000000 tasks per sweep"), m)
    }

    func testProbeAndRuntimeBoundsAreChecked() {
        for (yaml, expected) in [
            ("probe: {tasks: 9223372036854775807}", "probe.tasks must be in 1…1000000"),
            ("probe: {tasks: 3, sleep_ms: 4294968}", "probe.sleep_ms must be in 0…3600000"),
            ("probe: {tasks: 3, chain: 9223372036854775807}", "probe.chain must be in 0…3"),
            ("probe: {tasks: 3}\nruntime: {heartbeat_ms: 9223372036854775807}", "runtime.heartbeat_ms must be in 10…3600000"),
            ("probe: {tasks: 3}\nruntime: {liveness: 9223372036854775807}", "runtime.liveness must be in 2…1000"),
            ("probe: {tasks: 3}\nruntime: {max_attempts: 9223372036854775807}", "runtime.max_attempts must be in 1…1000"),
            ("probe: {tasks: 3}\nruntime: {task_timeout: .inf}", "runtime.task_timeout must be positive seconds"),
            ("probe: {tasks: 3}\nruntime: {commit_interval_ms: 9223372036854775807}", "runtime.commit_interval_ms must be in 0…60000"),
        ] {
            let m = refusal("kind: probe\n" + yaml)
            XCTAssertTrue(m.contains(expected), "\(yaml): \(m)")
        }
    }

    func testTrainingSpecsAreCheckedToo() {
        do {
            _ = try TrainSpec.parse("model: {kind: mlp}\ndata: {path: x.npz}\noptimizer: {name: sgd, lr: 0.1}\ntraining: {batch_size: 10, epochs: 4611686018427387904}\n",
                                    source: "t.yaml")
            XCTFail("accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("training.epochs: 4611686018427387904 is more than the limit of 1000000000 steps per run"), "\(error)")
        }
    }

    func testTileParametersCarryAxisRangesAndOldCoordinateListsStillDecode() throws {
        let s = try SweepSpec.parse("kind: surface\n" + network(#"surface: {checkpoint: /c.safetensors, x: "-1:1:4001", y: "-2:2:4001"}"#))
        let tile = SurfaceKind.Tile(x: .init(s.surface!.x), y: s.surface!.y.map(SurfaceKind.Axis.init), start: 0, end: 64, sets: ["train"],
                                    recomputeBatchNorm: nil)
        let bytes = try SurfaceKind.encode(Networked(NetworkParams(model: ModelSpec(kind: .mlp), data: DataSpec(path: data), dataSHA256: "",
                                                                   dataSeed: 0, loss: .crossEntropy), tile))
        XCTAssertLessThan(bytes.count, 1000, "a tile of a 4001 × 4001 grid no longer carries 8002 coordinates")
        let axis = s.surface!.x
        for i in [0, 1, 2000, 3999, 4000] { XCTAssertEqual(tile.x.coordinate(i).bitPattern, axis.coordinate(i).bitPattern) }
        let old = try JSONDecoder().decode(SurfaceKind.Tile.self, from: Data(#"{"x": [-1, 0, 1], "start": 0, "end": 3, "sets": ["train"]}"#.utf8))
        XCTAssertEqual(old.x, .list([-1, 0, 1]))
        XCTAssertEqual(old.x.coordinate(2), 1)
        XCTAssertNil(old.problem)
        let hostile = try JSONDecoder().decode(SurfaceKind.Tile.self,
                                               from: Data(#"{"x": {"min": 0, "max": 1, "count": -5}, "start": 0, "end": 3, "sets": ["train"]}"#.utf8))
        XCTAssertNotNil(hostile.problem, "a count of -5 from the wire is refused, not handed to GridAxis's precondition")
    }
}
