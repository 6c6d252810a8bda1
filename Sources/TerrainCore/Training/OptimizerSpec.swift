/// The `optimizer:` section of a spec: which update rule, its hyper-parameters, and
/// optionally SAM around it. See docs/spec.md.
public struct OptimizerSpec: Codable, Sendable, Equatable {
    /// The base update rule.
    public enum Name: String, Codable, Sendable, CaseIterable { case sgd, adam, adamw }

    /// The base update rule.
    public var name: Name
    /// The base learning rate (before schedule and batch-size scaling).
    public var lr: Double
    /// SGD momentum μ (0 = plain SGD).
    public var momentum: Double
    /// Nesterov momentum (SGD only; needs momentum > 0).
    public var nesterov: Bool
    /// Weight decay: added to the gradient as `wd·θ` for SGD and Adam (L2), decoupled
    /// `θ ← θ − lr·wd·θ` for AdamW.
    public var weightDecay: Double
    /// Adam's β₁.
    public var beta1: Double
    /// Adam's β₂.
    public var beta2: Double
    /// Adam's ε.
    public var eps: Double
    /// SAM's neighbourhood radius ρ (Foret et al. 2021); `nil` disables SAM.
    public var samRho: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, lr, momentum, nesterov, weightDecay = "weight_decay", beta1, beta2, eps, samRho = "sam_rho"
    }

    /// The keys an `optimizer:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a spec; unspecified options take PyTorch's defaults.
    public init(name: Name, lr: Double, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0,
                beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, samRho: Double? = nil) {
        self.name = name
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.samRho = samRho
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(Name.self, forKey: .name),
            lr: try c.decode(Double.self, forKey: .lr),
            momentum: try c.decodeIfPresent(Double.self, forKey: .momentum) ?? 0,
            nesterov: try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? false,
            weightDecay: try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0,
            beta1: try c.decodeIfPresent(Double.self, forKey: .beta1) ?? 0.9,
            beta2: try c.decodeIfPresent(Double.self, forKey: .beta2) ?? 0.999,
            eps: try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-8,
            samRho: try c.decodeIfPresent(Double.self, forKey: .samRho))
    }

    /// Checks ranges; throws ``TerrainError/invalidArgument(_:)`` naming the field.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw TerrainError.invalidArgument(m) }
        if !(lr > 0) || !lr.isFinite { try fail("optimizer.lr must be a positive number, got \(lr)") }
        if momentum < 0 || momentum >= 1 { try fail("optimizer.momentum must be in [0, 1), got \(momentum)") }
        if nesterov && (name != .sgd || momentum == 0) { try fail("optimizer.nesterov needs name: sgd and momentum > 0") }
        if weightDecay < 0 { try fail("optimizer.weight_decay must be ≥ 0, got \(weightDecay)") }
        if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) { try fail("optimizer.beta1/beta2 must be in [0, 1)") }
        if !(eps > 0) { try fail("optimizer.eps must be positive, got \(eps)") }
        if let rho = samRho, !(rho > 0) { try fail("optimizer.sam_rho must be positive, got \(rho)") }
        if name != .sgd && momentum != 0 { try fail("optimizer.momentum is an SGD option; Adam uses beta1") }
    }

    /// Creates the optimizer this spec describes, for `parameters`.
    public func make<Scalar: TensorScalar>(for parameters: [Parameter<Scalar>]) -> Optimizer<Scalar> {
        switch name {
        case .sgd:
            return SGD(parameters, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam, .adamw:
            return Adam(parameters, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay,
                        decoupled: name == .adamw)
        }
    }
}
