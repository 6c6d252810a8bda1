import Foundation
import TerrainCoordinator
import TerrainDataset
import TerrainTestSupport
import XCTest

extension ChaosTests {
    /// A surface sweep with the curvature extensions of issue 14 — θ* trained in the sweep,
    /// the top-2 Hessian eigenvectors as its directions, λ_max, λ_min and |λ_min/λ_max| at every
    /// grid point (`surface.convexity`), SLQ runs and per-layer spectra — under the same chaos:
    /// every task stored once, bit-identical to an undisturbed run.
    func testChaosWithTheDefaultSpecLosesNoConvexityPoint() throws {
        let yaml = """
        name: chaos-convexity
        kind: surface
        model: {kind: mlp, hidden: [64, 64]}
        data: {path: \(Self.data), train_subset: 1000, test_subset: 200}
        surface:
          train: {optimizer: {name: sgd, lr: 0.05, momentum: 0.9}, batch_size: 50, epochs: 6, seed: 3}
          x: "-0.5:0.5:7"
          y: "-0.5:0.5:7"
          directions: {kind: hessian, samples: 200, seed: 2}
          convexity: {steps: 40, samples: 1000, seed: 1}
          sets: [train]
          tile: 7
        curvature:
          lanczos: {runs: 2, steps: 20}
          layers: {steps: 10, probes: 4}
          samples: 500
        """
        let tasks = 2 + 7 + 3
        let reference = try undisturbed(yaml, workers: 2)
        let h = try ProcessHarness(name: "chaos")
        harnesses.append(h)
        let record = try chaos(h, yaml, tasks: tasks, workers: 3, killEvery: 0.3 ... 0.9, seed: 7)
        try assertNothingLost(h, tasks: tasks, reference: reference, record)
    }
}
