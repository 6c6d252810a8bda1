import TerrainCore
import XCTest

/// The R-operator block products against the finite-difference oracle, and the estimators
/// built on them (λ_min, eigenvector directions, per-layer spectra) against dense
/// eigendecompositions and closed forms.
final class BlockHessianTests: XCTestCase {
    /// An MLP 40-8-6-10 (ReLU or tanh) on 120 MNIST-1D samples, trained briefly.
    private func mlp<T: TensorScalar>(_: T.Type, activation: ModelSpec.Activation, loss: LossKind = .crossEntropy,
                                      hidden: [Int] = [8, 6], samples: Int = 120) throws -> (Model<T>, Dataset<T>) {
        let (train, _) = try TestSupport.mnist1d()
        let data = train.prefix(samples).converted(to: T.self)
        let model: Model<T> = try ModelBuilder.build(ModelSpec(kind: .mlp, hidden: hidden, activation: activation),
                                                     dataShape: [40], outputs: 10, seed: 17)
        try Trainer(model: model, train: data, config: TrainingConfig(batchSize: 30, epochs: 2, seed: 1,
                                                                      optimizer: OptimizerSpec(name: .adam, lr: 0.01))).run()
        return (model, data)
    }

    private func randomVectors(_ count: Int, dimension: Int, seed: UInt64) -> [[Double]] {
        var rng = TerrainRNG(seed: seed)
        return (0..<count).map { _ in (0..<dimension).map { _ in rng.normal() } }
    }

    private func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        let diff = zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return (diff / max(Kernels.dot(b, b), 1e-300)).squareRoot()
    }

    /// In Float64 the block R-operator equals the central-difference oracle to its O(h²) and
    /// rounding error, for ReLU and tanh networks, cross-entropy and MSE, and a pruned weight.
    func testBlockProductsEqualTheFiniteDifferenceOracle() throws {
        for (activation, loss) in [(ModelSpec.Activation.relu, LossKind.crossEntropy), (.tanh, .crossEntropy), (.tanh, .mse)] {
            let (model, data) = try mlp(Double.self, activation: activation, loss: loss)
            var mask = Tensor<Double>(shape: model.parameters[0].shape, repeating: 1)
            for i in stride(from: 0, to: mask.count, by: 3) { mask.storage[i] = 0 }
            model.parameters[0].mask = mask
            let h = try HessianOperator(model: model, data: data, loss: loss)
            XCTAssertEqual(h.method, "r-operator")
            let vectors = randomVectors(5, dimension: h.dimension, seed: 3)
            for (v, hv) in zip(vectors, h.products(vectors)) {
                let oracle = h.differenceProduct(v)
                XCTAssertLessThan(relativeError(hv, oracle), 1e-6, "\(activation), \(loss)")
                for i in stride(from: 0, to: mask.count, by: 3) { XCTAssertEqual(hv[i], 0, "masked coordinate \(i)") }
            }
        }
    }

    /// A vector's product has the same bits alone or anywhere in a block (passes of up to
    /// ``BlockHessianProduct/blockLimit`` vectors, which the engine uses when it recomputes its
    /// base passes, and beyond), and the same as with the base passes kept (one vector per pass).
    func testBlockSizeDoesNotChangeTheBits() throws {
        let (model, data) = try mlp(Float.self, activation: .relu, samples: 300)
        let blocks = try XCTUnwrap(BlockHessianProduct(model: model, data: data, loss: .crossEntropy, cacheBytes: 0))
        let kept = try XCTUnwrap(BlockHessianProduct(model: model, data: data, loss: .crossEntropy, cacheBytes: 1 << 40))
        XCTAssertEqual(blocks.passWidth, BlockHessianProduct<Float>.blockLimit)
        XCTAssertEqual(kept.passWidth, 1)
        let vectors = randomVectors(6, dimension: blocks.dimension, seed: 9)
        let block = blocks.products(vectors)
        for (i, v) in vectors.enumerated() {
            XCTAssertEqual(blocks.products([v])[0], block[i], "vector \(i) alone")
            XCTAssertEqual(kept.products([v])[0], block[i], "vector \(i), base pass kept")
        }
        XCTAssertEqual(blocks.products(Array(vectors[2..<5])), Array(block[2..<5]))
        XCTAssertEqual(kept.products(vectors), block)
    }

    /// The Float32 R-operator against the Float64 finite-difference path on the same model:
    /// products within 1e-4, Hutchinson samples and λ_max within 1e-4 relative.
    func testFloatProductsAgreeWithTheFloat64Path() throws {
        let (model, data) = try mlp(Float.self, activation: .relu, hidden: [32], samples: 500)
        let fast = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let slow = try HessianOperator(model: model, data: data, loss: .crossEntropy, method: .differences)
        XCTAssertEqual(fast.method, "r-operator")
        XCTAssertEqual(slow.method, "differences")
        for v in randomVectors(3, dimension: fast.dimension, seed: 4) {
            XCTAssertLessThan(relativeError(fast.product(v), slow.product(v)), 1e-4)
        }
        let a = fast.hutchinsonSamples(seed: 1, indices: [0, 1, 2, 3]), b = (0..<4).map { slow.hutchinsonSample(seed: 1, index: UInt64($0)) }
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * abs(y)) }
        let lf = fast.largestEigenvalue(steps: 30, seed: 2), ls = slow.largestEigenvalue(steps: 30, seed: 2)
        XCTAssertEqual(lf, ls, accuracy: 1e-4 * ls)
    }

    /// Layers without an R-operator here (LayerNorm, GELU) keep the finite-difference path.
    func testUnsupportedLayersKeepTheDifferencePath() throws {
        let (train, _) = try TestSupport.mnist1d()
        for spec in [ModelSpec(kind: .mlp, hidden: [4], layerNorm: true), ModelSpec(kind: .mlp, hidden: [4], activation: .gelu)] {
            let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [40], outputs: 10, seed: 1)
            let h = try HessianOperator(model: model, data: train.prefix(20), loss: .crossEntropy)
            XCTAssertEqual(h.method, "differences")
            XCTAssertNil(h.engine)
        }
    }

    /// Lockstep SLQ runs give each run's values bit for bit; block Hutchinson samples equal
    /// the one-at-a-time samples.
    func testLockstepRunsEqualSingleRuns() throws {
        let (model, data) = try mlp(Float.self, activation: .tanh, samples: 200)
        let h = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let runs = h.lanczosRuns(steps: 12, seed: 5, indices: [0, 3, 7])
        for (run, index) in zip(runs, [UInt64(0), 3, 7]) {
            let single = h.lanczos(steps: 12, seed: 5, index: index)
            XCTAssertEqual(run.values, single.values)
            XCTAssertEqual(run.weights, single.weights)
        }
        XCTAssertEqual(h.hutchinsonSamples(seed: 2, indices: [4, 5]), [h.hutchinsonSample(seed: 2, index: 4), h.hutchinsonSample(seed: 2, index: 5)])
    }
}

extension BlockHessianTests {
    /// The dense Hessian (P products, symmetrized) of a Float64 operator.
    private func dense(_ h: HessianOperator<Double>) -> [[Double]] {
        let p = h.dimension
        let columns = h.products((0..<p).map { j in (0..<p).map { $0 == j ? 1.0 : 0.0 } })
        return (0..<p).map { i in (0..<p).map { j in 0.5 * (columns[j][i] + columns[i][j]) } }
    }

    /// λ_min and the mass below zero of a known indefinite quadratic `½xᵀAx`, `A = Q·diag(λ)·Qᵀ`
    /// with λ = −3, −1, −0.25, 0.5, …: a full Lanczos run finds λ_min = −3 and puts weight
    /// `(qₖᵀv)²/‖v‖²` on each eigenvalue, so the mass below zero is the start vector's share on
    /// the negative eigenvectors.
    func testSmallestEigenvalueAndNegativeMassOfAnIndefiniteQuadratic() {
        let n = 10
        let lambdas = [-3, -1, -0.25, 0.5, 1, 1.5, 2, 3, 4, 6.0]
        var rng = TerrainRNG(seed: 12)
        let random = (0..<n).map { _ in (0..<n).map { _ in rng.normal() } }
        let symmetric = (0..<n).map { i in (0..<n).map { j in random[i][j] + random[j][i] } }
        let q = SymmetricEigen.jacobi(symmetric).vectors  // orthonormal
        let a = (0..<n).map { i in (0..<n).map { j in (0..<n).reduce(0.0) { $0 + q[$1][i] * lambdas[$1] * q[$1][j] } } }
        let start = (0..<n).map { Double($0 % 3 == 0 ? -1 : 1) }
        var run = LanczosRun(start: start, steps: n)
        while let v = run.pending { run.feed((0..<n).map { i in (0..<n).reduce(0.0) { $0 + a[i][$1] * v[$1] } }) }
        let ritz = run.ritz
        XCTAssertEqual(ritz.values.min()!, -3, accuracy: 1e-9)
        XCTAssertEqual(ritz.values.max()!, 6, accuracy: 1e-9)
        let expected = (0..<3).reduce(0.0) { sum, k in
            let c = Kernels.dot(q[k], start)
            return sum + c * c / Double(n)
        }
        XCTAssertEqual(SpectralDensity.negativeMass(runs: [ritz]), expected, accuracy: 1e-9)
        // −0.25 lies within 5 % of the spectral radius 6: with that threshold it counts as zero.
        let beyond = (0..<2).reduce(0.0) { sum, k in
            let c = Kernels.dot(q[k], start)
            return sum + c * c / Double(n)
        }
        XCTAssertEqual(SpectralDensity.negativeMass(runs: [ritz], relativeThreshold: 0.05), beyond, accuracy: 1e-9)
    }

    /// On a tanh network (indefinite Hessian), Lanczos's λ_min with as many steps as
    /// parameters equals the dense eigendecomposition's smallest eigenvalue.
    func testSmallestEigenvalueOfANetworkMatchesTheDenseSpectrum() throws {
        let (model, data) = try mlp(Double.self, activation: .tanh, hidden: [3], samples: 100)
        let h = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let values = SymmetricEigen.jacobi(dense(h)).values
        XCTAssertLessThan(values.first!, 0, "the tanh network's Hessian is indefinite")
        XCTAssertEqual(h.smallestEigenvalue(steps: h.dimension, seed: 1), values.first!, accuracy: 1e-6 * abs(values.last!))
    }

    /// The top-2 eigenvectors power iteration returns (the Hessian directions) are orthonormal
    /// and match the dense eigendecomposition's eigenvectors of largest |λ| up to sign.
    func testEigenvectorDirectionsAreOrthonormalAndMatchTheDenseEigenvectors() throws {
        let (model, data) = try mlp(Double.self, activation: .tanh, hidden: [3], samples: 100)
        let h = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let (values, vectors) = SymmetricEigen.jacobi(dense(h))
        let order = values.indices.sorted { abs(values[$0]) > abs(values[$1]) }
        let pairs = h.topEigenpairs(k: 2, maxIterations: 2000, tolerance: 1e-12, seed: 3)
        XCTAssertEqual(Kernels.dot(pairs[0].vector, pairs[0].vector), 1, accuracy: 1e-12)
        XCTAssertEqual(Kernels.dot(pairs[1].vector, pairs[1].vector), 1, accuracy: 1e-12)
        XCTAssertEqual(Kernels.dot(pairs[0].vector, pairs[1].vector), 0, accuracy: 1e-9)
        for k in 0..<2 {
            XCTAssertEqual(pairs[k].value, values[order[k]], accuracy: 1e-6 * abs(values[order[0]]))
            XCTAssertGreaterThan(abs(Kernels.dot(pairs[k].vector, vectors[order[k]])), 0.999, "eigenvector \(k + 1)")
        }
    }

    /// Per-layer spectra: each group's λ_max and λ_min (Lanczos with as many steps as the
    /// group has parameters) are the extreme eigenvalues of the dense diagonal block `H_gg`,
    /// the groups' Hutchinson traces add up to the whole Hutchinson trace, and each lies
    /// within four standard errors of the exact `tr(H_gg)`.
    func testPerLayerSpectraMatchTheDenseDiagonalBlocks() throws {
        let (model, data) = try mlp(Double.self, activation: .tanh, hidden: [3], samples: 100)
        let h = try HessianOperator(model: model, data: data, loss: .crossEntropy)
        let full = dense(h)
        let groups = h.parameterGroups
        XCTAssertEqual(groups.map(\.name), ["layers.0", "layers.2"])
        let spectra = h.layerSpectra(steps: h.dimension, probes: 64, seed: 4)
        for (g, s) in zip(groups, spectra) {
            let block = g.range.map { i in g.range.map { j in full[i][j] } }
            let values = SymmetricEigen.jacobi(block).values
            XCTAssertEqual(s.parameters, g.range.count)
            XCTAssertEqual(s.lambdaMax, values.last!, accuracy: 1e-6 * abs(values.last!), g.name)
            XCTAssertEqual(s.lambdaMin, values.first!, accuracy: 1e-6 * abs(values.last!), g.name)
            let exact = g.range.reduce(0.0) { $0 + full[$1][$1] }
            XCTAssertEqual(s.trace, exact, accuracy: 4 * s.traceStandardError, g.name)
        }
        let whole = (0..<64).map { h.hutchinsonSample(seed: TerrainRNG.derive(4, "layer-trace"), index: UInt64($0)) }
        XCTAssertEqual(spectra.reduce(0) { $0 + $1.trace }, whole.reduce(0, +) / 64, accuracy: 1e-9 * abs(whole.reduce(0, +)))
    }

    /// A block-diagonal case with a closed form: linear regression (one Linear layer, MSE),
    /// whose single parameter group's block is the whole Hessian (2/n)·AᵀA; its λ_max is the
    /// fixture's (numpy) largest eigenvalue.
    func testPerLayerLambdaMaxOfABlockDiagonalCase() throws {
        let f = try SafeTensors.read(contentsOf: TestSupport.fixture("reference/linreg.safetensors")).tensors
        let model: Model<Double> = try ModelBuilder.build(ModelSpec(kind: .mlp), dataShape: [5], outputs: 1, seed: 0)
        try Checkpoint.apply(f.filter { $0.key.hasPrefix("layers.") }, source: "linreg fixture", to: model)
        let data = Dataset<Double>(x: try f["input"]!.tensor(), y: .values(try f["targets"]!.tensor()))
        let h = try HessianOperator(model: model, data: data, loss: .mse)
        let spectra = h.layerSpectra(steps: 6, probes: 8, seed: 0)
        XCTAssertEqual(spectra.map(\.name), ["layers.0"])
        let eigenvalues: [Double] = try f["eigenvalues"]!.values()
        XCTAssertEqual(spectra[0].lambdaMax, eigenvalues.max()!, accuracy: 1e-9 * eigenvalues.max()!)
        XCTAssertEqual(spectra[0].lambdaMin, eigenvalues.min()!, accuracy: 1e-9 * eigenvalues.max()!)
    }
}
