/// The parameters of one module (a layer): consecutive parameters sharing a name prefix
/// (`layers.0.weight` and `layers.0.bias` form the group `layers.0`).
public struct ParameterGroup: Sendable, Equatable {
    /// The module's name (the parameter names without their last component).
    public var name: String
    /// The group's flat range in parameter space.
    public var range: Range<Int>

    /// The groups of a layout, in parameter order. A parameter without a dot in its name is a
    /// group of its own.
    public static func groups(of layout: [ParameterSlot]) -> [ParameterGroup] {
        var out = [ParameterGroup]()
        for slot in layout {
            let name = slot.name.split(separator: ".").dropLast().joined(separator: ".")
            let key = name.isEmpty ? slot.name : name
            if let last = out.last, last.name == key, last.range.upperBound == slot.offset {
                out[out.count - 1].range = last.range.lowerBound..<slot.range.upperBound
            } else {
                out.append(ParameterGroup(name: key, range: slot.range))
            }
        }
        return out
    }
}

/// The curvature of one parameter group's diagonal Hessian block `H_gg` (PyHessian users'
/// "per-layer spectra").
public struct LayerSpectrum: Sendable, Equatable, Codable {
    /// The group's name (see ``ParameterGroup``).
    public var name: String
    /// Its free (unmasked) parameters.
    public var parameters: Int
    /// The largest and smallest eigenvalues of `H_gg` (extreme Ritz values of a Lanczos run
    /// restricted to the group).
    public var lambdaMax: Double, lambdaMin: Double
    /// Hutchinson's estimate of `tr(H_gg)` and its standard error.
    public var trace: Double, traceStandardError: Double

    /// Creates a record.
    public init(name: String, parameters: Int, lambdaMax: Double, lambdaMin: Double, trace: Double, traceStandardError: Double) {
        self.name = name
        self.parameters = parameters
        self.lambdaMax = lambdaMax
        self.lambdaMin = lambdaMin
        self.trace = trace
        self.traceStandardError = traceStandardError
    }
}

extension HessianOperator {
    /// The parameter groups (modules) of the operator's layout.
    public var parameterGroups: [ParameterGroup] { ParameterGroup.groups(of: layout) }

    /// Per-group spectra: for each group `g`, λ_max and λ_min of the diagonal block `H_gg` by
    /// a Lanczos run of `steps` steps from a Rademacher vector on the group's free
    /// coordinates (all groups in lockstep, one block product per step), and `tr(H_gg)` by
    /// `probes` Hutchinson probes over the whole space: with a Rademacher `v`,
    /// `E[Σ_{i∈g} vᵢ(Hv)ᵢ] = tr(H_gg)` (cross-group terms vanish in expectation), so one
    /// product per probe serves every group, and the groups' traces sum to the whole
    /// Hutchinson trace probe by probe.
    public func layerSpectra(steps: Int, probes: Int, seed: UInt64) -> [LayerSpectrum] {
        let groups = parameterGroups
        let mask = maskValues
        func restricted(_ v: [Double], _ g: ParameterGroup) -> [Double] {
            var out = [Double](repeating: 0, count: v.count)
            for i in g.range { out[i] = v[i] * mask[i] }
            return out
        }
        var runs = groups.enumerated().map { index, g in
            LanczosRun(start: restricted(rademacher(seed: TerrainRNG.derive(seed, "layer-spectra"), index: UInt64(index)), g), steps: steps)
        }
        LanczosRun.runAll(&runs) { vectors in
            let gs = vectors.map { v in groups.first { g in g.range.contains { v[$0] != 0 } } }
            return zip(products(vectors), gs).map { w, g in g.map { restricted(w, $0) } ?? w }
        }
        let traceSeed = TerrainRNG.derive(seed, "layer-trace")
        let indices = (0..<max(probes, 0)).map(UInt64.init)
        let vectors = indices.map { rademacher(seed: traceSeed, index: $0) }
        let hv = products(vectors)
        return groups.enumerated().map { index, g in
            let samples = zip(vectors, hv).map { v, w in g.range.reduce(0.0) { $0 + v[$1] * w[$1] } }
            let n = Double(samples.count)
            let mean = samples.isEmpty ? 0 : samples.reduce(0, +) / n
            let variance = samples.count > 1 ? samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : Double.nan
            let ritz = runs[index].ritz.values
            return LayerSpectrum(name: g.name, parameters: g.range.reduce(0) { $0 + (mask[$1] != 0 ? 1 : 0) },
                                 lambdaMax: ritz.max() ?? 0, lambdaMin: ritz.min() ?? 0,
                                 trace: mean, traceStandardError: (variance / n).squareRoot())
        }
    }
}
