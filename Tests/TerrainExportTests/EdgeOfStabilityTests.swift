import TerrainExport
import XCTest

/// The edge-of-stability threshold, in closed form (Cohen et al. 2021): gradient descent with
/// step η on a quadratic of curvature λ multiplies the error by (1 − ηλ) per step, stable
/// while |1 − ηλ| < 1, i.e. λ < 2/η; heavy-ball momentum β widens this to λ < (2 + 2β)/η.
final class EdgeOfStabilityTests: XCTestCase {
    func testTheThresholdIsTwoOverEtaAndWidensWithMomentum() {
        XCTAssertEqual(EdgeOfStability.threshold(learningRate: 0.1), 20, accuracy: 1e-12)
        XCTAssertEqual(EdgeOfStability.threshold(learningRate: 0.1, momentum: 0.9), 38, accuracy: 1e-12)
        XCTAssertEqual(EdgeOfStability.label(anyMomentum: false), "2/η")
        XCTAssertEqual(EdgeOfStability.label(anyMomentum: true), "(2+2β)/η")
    }

    func testGradientDescentOnAQuadraticDivergesJustAboveTheThreshold() {
        // x ← x − η λ x with momentum: v ← β v − η λ x; x ← x + v.
        func grows(_ lambda: Double, eta: Double, beta: Double) -> Bool {
            var x = 1.0, v = 0.0
            for _ in 0..<2000 {
                v = beta * v - eta * lambda * x
                x += v
            }
            return abs(x) > 1
        }
        for beta in [0.0, 0.5, 0.9] {
            let edge = EdgeOfStability.threshold(learningRate: 0.05, momentum: beta)
            XCTAssertFalse(grows(0.99 * edge, eta: 0.05, beta: beta), "β = \(beta)")
            XCTAssertTrue(grows(1.01 * edge, eta: 0.05, beta: beta), "β = \(beta)")
        }
    }
}
