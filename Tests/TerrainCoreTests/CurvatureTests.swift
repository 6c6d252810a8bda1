import TerrainCore
import XCTest

/// Hessian-vector products and power iteration against closed forms.
final class CurvatureTests: XCTestCase {
    /// Linear regression with MSE: H = (2/n)·AᵀA, A = [X, 1] (numpy fixture).
    private func linearRegression<T: TensorScalar>(_: T.Type) throws -> (Model<T>, Dataset<T>, [String: StoredTensor]) {
        let f = try SafeTensors.read(contentsOf: TestSupport.fixture("reference/linreg.safetensors")).tensors
        let model: Model<T> = try ModelBuilder.build(ModelSpec(kind: .mlp), dataShape: [5], outputs: 1, seed: 0)
        try Checkpoint.apply(f.filter { $0.key.hasPrefix("layers.") }, source: "linreg fixture", to: model)
        let data = Dataset<T>(x: try f["input"]!.tensor(), y: .values(try f["targets"]!.tensor()))
        return (model, data, f)
    }

    func testLinearRegressionLossMatchesReference() throws {
        let (model, data, f) = try linearRegression(Float.self)
        let m = Evaluator.evaluate(model, on: data, loss: .mse)
        XCTAssertEqual(m.loss, try f["expected_loss"]!.values(as: Double.self)[0], accuracy: 1e-5 * m.loss)
    }

    func testHessianVectorProductMatchesClosedFormForLinearRegression() throws {
        let (model, data, f) = try linearRegression(Float.self)
        let hessian: [Double] = try f["hessian"]!.values()
        let h = try HessianOperator(model: model, data: data, loss: .mse)
        var rng = TerrainRNG(seed: 5)
        for _ in 0..<3 {
            let v = (0..<6).map { _ in rng.normal() }
            let hv = h.product(v)
            for i in 0..<6 {
                let exact = (0..<6).reduce(0.0) { $0 + hessian[i * 6 + $1] * v[$1] }
                XCTAssertEqual(hv[i], exact, accuracy: 1e-3 * max(1, abs(exact)), "(Hv)[\(i)]")
            }
        }
    }

    func testTopEigenvaluesMatchClosedFormForLinearRegression() throws {
        let (model, data, f) = try linearRegression(Float.self)
        let eigenvalues: [Double] = try f["eigenvalues"]!.values()
        let h = try HessianOperator(model: model, data: data, loss: .mse)
        let pairs = h.topEigenpairs(k: 3, maxIterations: 500, tolerance: 1e-7, seed: 1)
        XCTAssertEqual(pairs[0].value, try f["lambda_max"]!.values(as: Double.self)[0], accuracy: 1e-3 * eigenvalues[0])
        for i in 0..<3 {
            XCTAssertEqual(pairs[i].value, eigenvalues[i], accuracy: 1e-3 * eigenvalues[i], "λ\(i + 1)")
        }
        // The parameters are restored after the products.
        let again = Evaluator.evaluate(model, on: data, loss: .mse)
        XCTAssertEqual(again.loss, Evaluator.evaluate(try linearRegression(Float.self).0, on: data, loss: .mse).loss)
    }

    /// Softmax regression (a Linear layer with cross-entropy) has the closed-form Hessian
    /// H = (1/n)·Σ (diag(p) − p pᵀ) ⊗ x xᵀ over the weight; checked in Float64.
    func testHessianVectorProductMatchesClosedFormForSoftmaxRegression() throws {
        let n = 12, d = 4, k = 3
        let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp), dataShape: [d], outputs: k, seed: 3)
        let x: Tensor<Double> = TestSupport.randomTensor([n, d], seed: 4)
        let labels = (0..<n).map { $0 % k }
        let data = Dataset(x: x, y: .classes(labels), classes: k)
        let w = model.parameters[0].value, b = model.parameters[1].value
        var rng = TerrainRNG(seed: 8)
        let v = (0..<(k * d + k)).map { _ in rng.normal() }
        // Closed form on the extended input [x, 1] so that the bias is the last column.
        var exact = [Double](repeating: 0, count: k * d + k)
        for s in 0..<n {
            let xe = (0..<d).map { x[s, $0] } + [1.0]
            var z = (0..<k).map { c in (0..<d).reduce(b.storage[c]) { $0 + w[c, $1] * xe[$1] } }
            let mx = z.max()!
            z = z.map { Foundation.exp($0 - mx) }
            let sum = z.reduce(0, +)
            let p = z.map { $0 / sum }
            // V as [k, d+1]: weight part then bias column.
            func vAt(_ c: Int, _ j: Int) -> Double { j < d ? v[c * d + j] : v[k * d + c] }
            let u = (0..<k).map { c in (0..<(d + 1)).reduce(0.0) { $0 + vAt(c, $1) * xe[$1] } }
            let pu = zip(p, u).reduce(0.0) { $0 + $1.0 * $1.1 }
            for c in 0..<k {
                let a = p[c] * (u[c] - pu) / Double(n)
                for j in 0..<(d + 1) {
                    if j < d { exact[c * d + j] += a * xe[j] } else { exact[k * d + c] += a }
                }
            }
        }
        let hv = try HessianOperator(model: model, data: data, loss: .crossEntropy).product(v)
        for i in 0..<exact.count {
            XCTAssertEqual(hv[i], exact[i], accuracy: 1e-7 * max(1, abs(exact[i])), "(Hv)[\(i)]")
        }
    }

    /// H·e_j against the second difference of the *loss* (no gradients involved):
    /// H_ij ≈ [L(θ+he_i+he_j) − L(θ+he_i−he_j) − L(θ−he_i+he_j) + L(θ−he_i−he_j)] / 4h², in Float64.
    func testHessianVectorProductMatchesSecondDifferencesOfTheLoss() throws {
        let (train, _) = try TestSupport.mnist1d()
        let data = train.prefix(64).converted(to: Double.self)
        // Both product methods: the R-operator (tanh, ReLU) and the finite differences (all three).
        for (activation, method) in [(ModelSpec.Activation.tanh, HessianOperator<Double>.Method.automatic), (.gelu, .automatic), (.relu, .automatic),
                                     (.tanh, .differences), (.relu, .differences)] {
            let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [6, 5], activation: activation),
                                                              dataShape: [40], outputs: 10, seed: 21)
            let op = try HessianOperator(model: model, data: data, loss: .crossEntropy, method: method)
            let space = ParameterSpace(model)
            let theta = space.values()
            func loss(_ shifts: [(Int, Double)]) -> Double {
                var t = theta
                for (i, d) in shifts { t[i] += d }
                space.setValues(t)
                return Evaluator.evaluate(model, on: data, loss: .crossEntropy).loss
            }
            let h = 1e-4
            for j in [0, 17, 245, space.dimension - 1] {
                var e = [Double](repeating: 0, count: space.dimension)
                e[j] = 1
                let column = op.product(e)
                for i in [0, 3, 17, 240, 247, space.dimension - 3] {
                    let second = (loss([(i, h), (j, h)]) - loss([(i, h), (j, -h)]) - loss([(i, -h), (j, h)]) + loss([(i, -h), (j, -h)])) / (4 * h * h)
                    XCTAssertEqual(column[i], second, accuracy: 1e-5 * max(1, abs(second)), "\(activation) \(op.method) H[\(i), \(j)]")
                }
            }
            space.setValues(theta)
        }
    }

    /// On a ReLU MLP over all of MNIST-1D, along dense directions that move every
    /// pre-activation: the product does not depend on the step (no jumps from units switching
    /// between the two evaluation points — the activation pattern is frozen) and is
    /// symmetric, uᵀ(Hv) = vᵀ(Hu).
    func testHessianVectorProductIsStepIndependentAndSymmetricOnMNIST1D() throws {
        let (train, _) = try TestSupport.mnist1d()
        let data = train
        let model: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [32, 32]), dataShape: [40], outputs: 10, seed: 11)
        var rng = TerrainRNG(seed: 12)
        let op = try HessianOperator(model: model, data: data, loss: .crossEntropy, method: .differences)
        let v = (0..<op.dimension).map { _ in rng.normal() }
        let u = (0..<op.dimension).map { _ in rng.normal() }
        let hv = op.product(v)
        for step in [1e-3, 1e-4] {
            let other = try HessianOperator(model: model, data: data, loss: .crossEntropy, step: step, method: .differences).product(v)
            let diff = zip(hv, other).map { $0 - $1 }
            XCTAssertLessThan(Kernels.dot(diff, diff).squareRoot() / Kernels.dot(hv, hv).squareRoot(), 1e-5, "step \(step)")
        }
        let hu = op.product(u)
        XCTAssertEqual(Kernels.dot(u, hv), Kernels.dot(v, hu), accuracy: 1e-6 * abs(Kernels.dot(u, hv)))
    }
}

import Foundation

extension CurvatureTests {
    /// Keskar's ε-sharpness on linear regression (a convex quadratic, so the box maximum is
    /// at a vertex): the ascent finds the best of all 64 vertices.
    func testKeskarSharpnessFindsTheBoxMaximumOfAQuadratic() throws {
        let f = try SafeTensors.read(contentsOf: TestSupport.fixture("reference/linreg.safetensors")).tensors
        let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp), dataShape: [5], outputs: 1, seed: 0)
        try Checkpoint.apply(f.filter { $0.key.hasPrefix("layers.") }, source: "linreg fixture", to: model)
        let data = Dataset<Double>(x: try f["input"]!.tensor(), y: .values(try f["targets"]!.tensor()))
        for epsilon in [1e-3, 5e-2] {
            let r = Sharpness.keskar(model: model, data: data, loss: .mse, epsilon: epsilon, steps: 10)
            let space = ParameterSpace(model)
            let theta = space.values()
            var best = -Double.infinity
            for corner in 0..<64 {
                space.setValues((0..<6).map { i in theta[i] + (corner >> i & 1 == 1 ? 1 : -1) * epsilon * (abs(theta[i]) + 1) })
                best = max(best, Evaluator.evaluate(model, on: data, loss: .mse).loss)
            }
            space.setValues(theta)
            XCTAssertEqual(r.maxLoss, best, accuracy: 1e-9 * best, "ε = \(epsilon)")
            XCTAssertEqual(r.sharpness, 100 * (best - r.loss) / (1 + r.loss), accuracy: 1e-9)
            XCTAssertEqual(Evaluator.evaluate(model, on: data, loss: .mse).loss, r.loss, "parameters restored")
        }
    }
}

extension CurvatureTests {
    /// A tanh MLP 40-5-10 on 200 MNIST-1D samples (P = 265), trained briefly, in Float64.
    private func smallMLP() throws -> HessianOperator<Double> {
        let (train, _) = try TestSupport.mnist1d()
        let data = train.prefix(200).converted(to: Double.self)
        let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [5], activation: .tanh),
                                                          dataShape: [40], outputs: 10, seed: 31)
        try Trainer(model: model, train: data, config: TrainingConfig(batchSize: 50, epochs: 3, seed: 2,
                                                                      optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
        return try HessianOperator(model: model, data: data, loss: .crossEntropy)
    }

    /// The full Hessian matrix (P products with unit vectors, symmetrized) and its
    /// eigenvalues by Jacobi, sorted by decreasing magnitude: the reference for power iteration.
    private func fullSpectrumByMagnitude(_ h: HessianOperator<Double>) -> [Double] {
        let p = h.dimension
        var columns = [[Double]]()
        var e = [Double](repeating: 0, count: p)
        for j in 0..<p {
            e[j] = 1
            columns.append(h.product(e))
            e[j] = 0
        }
        let matrix = (0..<p).map { i in (0..<p).map { j in 0.5 * (columns[j][i] + columns[i][j]) } }
        return SymmetricEigen.jacobi(matrix).values.sorted { abs($0) > abs($1) }
    }

    /// Power iteration with the defaults `terrain evaluate --eigenvalues` and the sweeps share
    /// (`PowerIteration`) finds the three eigenvalues of largest magnitude to 1e-4 relative,
    /// and each pair's residual is ‖Hv − λv‖ and bounds its distance to the spectrum.
    func testTopEigenpairsWithTheSharedDefaultsMatchTheFullSpectrum() throws {
        let h = try smallMLP()
        let exact = fullSpectrumByMagnitude(h)
        let pairs = h.topEigenpairs(k: 3, seed: 4)
        XCTAssertEqual(PowerIteration.defaultTolerance, 1e-5)
        for (i, pair) in pairs.enumerated() {
            XCTAssertTrue(pair.converged, "λ\(i + 1) after \(pair.iterations) iterations")
            XCTAssertEqual(pair.value, exact[i], accuracy: 1e-4 * abs(exact[i]), "λ\(i + 1): \(pair.value) vs \(exact[i])")
            let hv = h.product(pair.vector)
            let difference = zip(hv, pair.vector).map { (hvi: Double, vi: Double) -> Double in hvi - pair.value * vi }
            let residual = Kernels.dot(difference, difference).squareRoot()
            XCTAssertEqual(pair.residual, residual, accuracy: 1e-9 * abs(pair.value), "λ\(i + 1)'s residual")
            XCTAssertEqual(Kernels.dot(pair.vector, pair.vector), 1, accuracy: 1e-12)
            let distance = exact.map { abs($0 - pair.value) }.min()!
            XCTAssertLessThanOrEqual(distance, pair.residual * (1 + 1e-9), "some eigenvalue lies within the residual of λ\(i + 1)")
        }
    }
}

extension CurvatureTests {
    private static let ritzRuns: [(values: [Double], weights: [Double])] = [
        (values: [-0.3, 0.5, 2.0, 9.0], weights: [0.4, 0.3, 0.2, 0.1]),
        (values: [-0.1, 1.0, 8.5], weights: [0.5, 0.25, 0.25]),
    ]

    /// The density is a probability density — the mean over runs of Σ τ·N(t; θ, σ²), as
    /// PyHessian's `gaussian` writes it, integrating to 1 — for every broadening, with
    /// σ = range/100 by default and PyHessian's σ² = 1e-5·max(1, range) on request.
    func testSpectralDensityIsAProbabilityDensityWithTheChosenSigma() throws {
        let broadenings: [SpectralDensity.Broadening] = [.standard, .absolute(0.05), .pyhessian, .rangeFraction(0.2)]
        for b in broadenings {
            let d = try XCTUnwrap(SpectralDensity.estimate(runs: Self.ritzRuns, broadening: b))
            XCTAssertEqual(d.integral, 1, accuracy: 1e-4, "\(b)")
            XCTAssertGreaterThanOrEqual(d.grid.count, 400)
            let variance = d.sigma * d.sigma
            for i in stride(from: 0, to: d.grid.count, by: 37) {
                let t = d.grid[i]
                // PyHessian's gaussian(x, x0, var) = exp(-(x - x0)² / (2 var)) / sqrt(2π var).
                func gaussian(_ x: Double, _ x0: Double) -> Double {
                    let d: Double = x - x0
                    return Foundation.exp(-d * d / (2 * variance)) / (2 * Double.pi * variance).squareRoot()
                }
                var expected = 0.0
                for r in Self.ritzRuns {
                    for (v, w) in zip(r.values, r.weights) { expected += w * gaussian(t, v) / Double(Self.ritzRuns.count) }
                }
                XCTAssertEqual(d.density[i], expected, accuracy: 1e-12 * max(1, expected), "\(b) at t = \(t)")
            }
        }
        XCTAssertEqual(SpectralDensity.estimate(runs: Self.ritzRuns)?.sigma ?? 0, 9.3 / 100, accuracy: 1e-15)
        // PyHessian: λ̄max = (9 + 8.5)/2 + 0.01, λ̄min = (−0.3 − 0.1)/2 − 0.01.
        let py = try XCTUnwrap(SpectralDensity.estimate(runs: Self.ritzRuns, broadening: .pyhessian))
        XCTAssertEqual(py.sigma * py.sigma, 1e-5 * (8.76 + 0.21), accuracy: 1e-15)
        let narrow = try XCTUnwrap(SpectralDensity.estimate(runs: [(values: [0.1, 0.3], weights: [0.5, 0.5])], broadening: .pyhessian))
        XCTAssertEqual(narrow.sigma * narrow.sigma, 1e-5, accuracy: 1e-18, "a range below 1 counts as 1")
        XCTAssertEqual(narrow.integral, 1, accuracy: 1e-4)
        XCTAssertNil(SpectralDensity.estimate(runs: []))
        // A σ far below the grid's resolution is accepted without trapping; the grid stops at 100 000 points.
        for tiny in [1e-300, 0, -1, .nan] {
            let d = try XCTUnwrap(SpectralDensity.estimate(runs: Self.ritzRuns, broadening: .absolute(tiny)))
            XCTAssertEqual(d.grid.count, 100_000)
            XCTAssertEqual(d.sigma, 1e-12 * 9.3, "σ = \(tiny) is raised to 1e-12·range")
            XCTAssertFalse(d.density.contains { !$0.isFinite }, "σ = \(tiny)")
        }
    }

    func testSpectralDensityBroadeningParsesWhatRenderAccepts() throws {
        XCTAssertEqual(try SpectralDensity.Broadening(parsing: "range/100"), .standard)
        XCTAssertEqual(try SpectralDensity.Broadening(parsing: "range/20"), .rangeFraction(0.05))
        XCTAssertEqual(try SpectralDensity.Broadening(parsing: "PyHessian"), .pyhessian)
        XCTAssertEqual(try SpectralDensity.Broadening(parsing: "0.02"), .absolute(0.02))
        XCTAssertEqual(SpectralDensity.Broadening.standard.description, "range/100")
        for bad in ["0", "-1", "nan", "range/0", "range/x", "wide"] {
            XCTAssertThrowsError(try SpectralDensity.Broadening(parsing: bad), bad) { e in
                XCTAssertTrue("\(e)".contains("'\(bad)'"), "\(e)")
            }
        }
    }
}
