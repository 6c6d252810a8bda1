import Foundation
import TerrainCore
import XCTest

/// Magnitude pruning levels and the random-pruning control.
final class PruningTests: XCTestCase {
    private func model() throws -> Model<Float> {
        try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [64, 32]), dataShape: [40], outputs: 10, seed: 3)
    }

    private func apply(_ masks: [String: Tensor<Float>], to model: Model<Float>) {
        for p in model.parameters { if let m = masks[p.name] { p.mask = m } }
    }

    private func kept(_ m: Tensor<Float>) -> Int { m.storage.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }

    func testLayerwiseLevelsFollowTheGeometricDensityWithinOneWeightPerLayer() throws {
        let m = try model()
        let plan = Pruning.Plan(fraction: 0.2, scope: .layerwise)
        for level in 1...6 {
            let masks = Pruning.nextMasks(m, plan: plan)
            apply(masks, to: m)
            for p in Pruning.prunable(m, includeOutput: true) {
                // ⌈·⌉ each level: at most one weight per level below the geometric count.
                let expected = Double(p.count) * pow(0.8, Double(level))
                XCTAssertLessThanOrEqual(abs(Double(kept(masks[p.name]!)) - expected), Double(level), "\(p.name) level \(level)")
                XCTAssertTrue(zip(p.value.storage, masks[p.name]!.storage).allSatisfy { $1 != 0 || $0 == 0 }, "pruned weights are zero")
            }
        }
    }

    func testGlobalScopeRemovesTheSmallestMagnitudesAcrossLayers() throws {
        let m = try model()
        let masks = Pruning.nextMasks(m, plan: Pruning.Plan(fraction: 0.5, scope: .global))
        let params = Pruning.prunable(m, includeOutput: true)
        let total = params.reduce(0) { $0 + $1.count }
        XCTAssertEqual(masks.values.reduce(0) { $0 + kept($1) }, total - total / 2)
        var largestPruned = 0.0, smallestKept = Double.infinity
        for p in params {
            for (w, k) in zip(p.value.storage, masks[p.name]!.storage) {
                if k == 0 { largestPruned = max(largestPruned, Double(abs(w))) } else { smallestKept = min(smallestKept, Double(abs(w))) }
            }
        }
        XCTAssertLessThanOrEqual(largestPruned, smallestKept)
        XCTAssertEqual(Pruning.density(masks), 0.5, accuracy: 1.0 / Double(total))
    }

    func testOutputLayerCanBeSkippedOrPrunedAtHalfRateAndBiasesNeverArePruned() throws {
        let m = try model()
        let skip = Pruning.nextMasks(m, plan: Pruning.Plan(fraction: 0.2, scope: .layerwise, pruneOutputLayer: false))
        XCTAssertNil(skip["layers.4.weight"])
        XCTAssertTrue(skip.keys.allSatisfy { $0.hasSuffix(".weight") })
        let half = Pruning.nextMasks(m, plan: Pruning.Plan(fraction: 0.2, scope: .layerwise, outputRateFactor: 0.5))
        XCTAssertEqual(kept(half["layers.4.weight"]!), 320 - 32)   // ⌈0.1 · 320⌉
        XCTAssertEqual(kept(half["layers.0.weight"]!), 2560 - 512)
    }

    func testRandomPruneControlKeepsEveryLayersCountAndIsSeeded() throws {
        let m = try model()
        let masks = Pruning.nextMasks(m, plan: Pruning.Plan(fraction: 0.3, scope: .global))
        let random = Pruning.randomMasks(like: masks, seed: 9)
        for (name, mask) in masks { XCTAssertEqual(kept(random[name]!), kept(mask), name) }
        XCTAssertEqual(random, Pruning.randomMasks(like: masks, seed: 9))
        XCTAssertNotEqual(random["layers.0.weight"], masks["layers.0.weight"])
    }
}
