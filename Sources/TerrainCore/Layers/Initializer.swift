/// Weight initialization schemes, with the constants PyTorch uses (`torch.nn.init`).
///
/// `fanIn` is `in_features` for a Linear layer and `in_channels × kernel size` for a
/// convolution; `fanOut` is `out_features` or `out_channels × kernel size`.
public enum Initializer: String, Sendable, Codable, CaseIterable {
    /// PyTorch's default for `nn.Linear`/`nn.Conv*`: `kaiming_uniform_(a=√5)`, i.e.
    /// U(−1/√fanIn, 1/√fanIn) for weights, and the same bound for biases.
    case pytorch
    /// He uniform for ReLU: U(−b, b) with b = √3·√2/√fanIn; biases zero.
    case kaimingUniform = "kaiming_uniform"
    /// He normal for ReLU: N(0, 2/fanIn); biases zero.
    case kaimingNormal = "kaiming_normal"
    /// Glorot uniform: U(−b, b) with b = √(6/(fanIn+fanOut)); biases zero.
    case xavierUniform = "xavier_uniform"
    /// Glorot normal: N(0, 2/(fanIn+fanOut)); biases zero.
    case xavierNormal = "xavier_normal"

    /// Fills a weight tensor of `count` scalars.
    public func weights<T: TensorScalar>(count: Int, fanIn: Int, fanOut: Int, rng: inout TerrainRNG) -> [T] {
        let fi = Double(max(fanIn, 1)), fo = Double(max(fanOut, 1))
        switch self {
        case .pytorch:
            let bound = 1.0 / fi.squareRoot()
            return rng.uniforms(count, low: -bound, high: bound)
        case .kaimingUniform:
            let bound = 3.0.squareRoot() * 2.0.squareRoot() / fi.squareRoot()
            return rng.uniforms(count, low: -bound, high: bound)
        case .kaimingNormal:
            return rng.normals(count, std: 2.0.squareRoot() / fi.squareRoot())
        case .xavierUniform:
            let bound = (6.0 / (fi + fo)).squareRoot()
            return rng.uniforms(count, low: -bound, high: bound)
        case .xavierNormal:
            return rng.normals(count, std: (2.0 / (fi + fo)).squareRoot())
        }
    }

    /// Fills a bias vector of `count` scalars.
    public func biases<T: TensorScalar>(count: Int, fanIn: Int, rng: inout TerrainRNG) -> [T] {
        switch self {
        case .pytorch:
            let bound = 1.0 / Double(max(fanIn, 1)).squareRoot()
            return rng.uniforms(count, low: -bound, high: bound)
        default:
            return [T](repeating: 0, count: count)
        }
    }
}
