/// How a random direction is rescaled to the model's parameters (Li et al. 2018).
public enum DirectionNormalization: String, Sendable, Codable, CaseIterable {
    /// Every filter of every multi-dimensional parameter (a row along dimension 0: an output
    /// neuron of a Linear layer, an output channel of a convolution) is scaled so that
    /// ‖d_i‖ = ‖θ*_i‖ — the paper's filter normalization.
    case filter
    /// Every parameter tensor is scaled so that ‖d‖ = ‖θ*‖ for that tensor.
    case layer
    /// Elementwise: d ← d ⊙ θ*.
    case weight
    /// The raw Gaussian direction.
    case none
}

/// What directions do on one-dimensional parameters (biases, normalization scales/shifts).
public enum OneDimensionalRule: String, Sendable, Codable, CaseIterable {
    /// The direction is zero there: biases and norm parameters stay at θ* across the plane.
    case ignore
    /// The direction copies θ* there (as loss-landscape does without `--xignore biasbn`).
    case copy
}

/// Directions in parameter space for surfaces and interpolation.
public enum Directions {
    /// A filter-normalized (or otherwise normalized) Gaussian direction around `center`.
    ///
    /// Each parameter's Gaussian entries come from Terrain's RNG keyed by `seed` and the
    /// parameter's name, so the direction is the same on every machine, in every worker and
    /// whatever the parameter order. Entries of masked (pruned) weights are zero.
    ///
    /// - Parameters:
    ///   - layout: the parameter layout (names, roles, shapes) of the model.
    ///   - center: θ* as one flat vector in that layout.
    ///   - mask: optional 0/1 mask in the same layout.
    /// - Returns: the direction, flat, in the same layout.
    public static func random(layout: [ParameterSlot], center: [Float], mask: [Float]? = nil, seed: UInt64,
                              normalization: DirectionNormalization, oneDimensional: OneDimensionalRule) -> [Float] {
        var d = [Float](repeating: 0, count: center.count)
        for slot in layout {
            let range = slot.range
            if slot.shape.count <= 1 {
                if oneDimensional == .copy { for i in range { d[i] = center[i] } }
                continue
            }
            var rng = TerrainRNG(seed: TerrainRNG.derive(seed, "direction:" + slot.name))
            for i in range { d[i] = Float(rng.normal()) }
            if let mask { for i in range { d[i] *= mask[i] } }
            normalize(&d, center: center, slot: slot, normalization)
        }
        return d
    }

    /// Rescales the entries of `slot` in `d` by the chosen rule (see ``DirectionNormalization``).
    public static func normalize(_ d: inout [Float], center: [Float], slot: ParameterSlot, _ normalization: DirectionNormalization) {
        let range = slot.range
        switch normalization {
        case .none:
            break
        case .weight:
            for i in range { d[i] *= center[i] }
        case .layer:
            scale(&d, center, range)
        case .filter:
            let filters = slot.shape[0]
            let width = slot.count / max(filters, 1)
            for f in 0..<filters {
                let start = slot.offset + f * width
                scale(&d, center, start ..< start + width)
            }
        }
    }

    /// d[r] ← d[r] · ‖θ*[r]‖ / ‖d[r]‖ (norms in Double; ε = 1e-10 as loss-landscape).
    private static func scale(_ d: inout [Float], _ center: [Float], _ r: Range<Int>) {
        var dn = 0.0, cn = 0.0
        for i in r {
            dn += Double(d[i]) * Double(d[i])
            cn += Double(center[i]) * Double(center[i])
        }
        let factor = cn.squareRoot() / (dn.squareRoot() + 1e-10)
        for i in r { d[i] = Float(Double(d[i]) * factor) }
    }

    /// The difference θ_B − θ_A of two parameter vectors (interpolation, planes through
    /// checkpoints).
    public static func difference(from a: [Float], to b: [Float]) -> [Float] {
        precondition(a.count == b.count, "parameter vectors differ in length: \(a.count) vs \(b.count)")
        return zip(b, a).map { Float(Double($0) - Double($1)) }
    }

    /// θ* + α·d1 + β·d2, computed in Double per entry and rounded once to Float, so that the
    /// point depends only on (θ*, d1, d2, α, β) — never on tiling or evaluation order.
    public static func point(center: [Float], _ d1: [Float], _ alpha: Double, _ d2: [Float]?, _ beta: Double) -> [Float] {
        var out = [Float](repeating: 0, count: center.count)
        center.withUnsafeBufferPointer { c in
            d1.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    if let d2 {
                        d2.withUnsafeBufferPointer { y in
                            for i in 0..<o.count { o[i] = Float(Double(c[i]) + alpha * Double(x[i]) + beta * Double(y[i])) }
                        }
                    } else {
                        for i in 0..<o.count { o[i] = Float(Double(c[i]) + alpha * Double(x[i])) }
                    }
                }
            }
        }
        return out
    }
}

extension Directions {
    /// The two leading principal directions of a training trajectory around `center`
    /// (Li et al. 2018, §7): the rows `θ_i − θ*` are mean-centred (as scikit-learn's PCA,
    /// which loss-landscape uses, does) and their top right-singular vectors computed via the
    /// N×N Gram matrix. Returns unit directions and the explained-variance ratios of the
    /// components. Throws when fewer than 2 checkpoints are given.
    public static func principalComponents(center: [Float], trajectory: [[Float]], count: Int = 2) throws
        -> (directions: [[Float]], explainedVarianceRatio: [Double])
    {
        guard trajectory.count >= 2 else {
            throw TerrainError.invalidArgument("PCA directions need at least 2 trajectory checkpoints, got \(trajectory.count)")
        }
        let n = trajectory.count, p = center.count
        var rows = trajectory.map { t in (0..<p).map { Double(t[$0]) - Double(center[$0]) } }
        var mean = [Double](repeating: 0, count: p)
        for r in rows { for i in 0..<p { mean[i] += r[i] / Double(n) } }
        for k in 0..<n { for i in 0..<p { rows[k][i] -= mean[i] } }
        var gram = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for a in 0..<n { for b in a..<n { let d = Kernels.dot(rows[a], rows[b]); gram[a][b] = d; gram[b][a] = d } }
        let (values, vectors) = SymmetricEigen.jacobi(gram)
        let total = values.reduce(0) { $0 + max($1, 0) }
        var directions = [[Float]](), ratios = [Double]()
        for k in 0..<min(count, n) {
            let j = n - 1 - k
            var v = [Double](repeating: 0, count: p)
            for r in 0..<n { for i in 0..<p { v[i] += vectors[j][r] * rows[r][i] } }
            let norm = Kernels.dot(v, v).squareRoot()
            directions.append(v.map { Float(norm > 0 ? $0 / norm : 0) })
            ratios.append(total > 0 ? max(values[j], 0) / total : 0)
        }
        return (directions, ratios)
    }
}
