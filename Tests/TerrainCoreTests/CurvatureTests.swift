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
        for activation in [ModelSpec.Activation.tanh, .gelu, .relu] {
            let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: [6, 5], activation: activation),
                                                              dataShape: [40], outputs: 10, seed: 21)
            let op = try HessianOperator(model: model, data: data, loss: .crossEntropy)
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
                    XCTAssertEqual(column[i], second, accuracy: 1e-5 * max(1, abs(second)), "\(activation) H[\(i), \(j)]")
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
        let op = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let v = (0..<op.dimension).map { _ in rng.normal() }
        let u = (0..<op.dimension).map { _ in rng.normal() }
        let hv = op.product(v)
        for step in [1e-3, 1e-4] {
            let other = try HessianOperator(model: model, data: data, loss: .crossEntropy, step: step).product(v)
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
