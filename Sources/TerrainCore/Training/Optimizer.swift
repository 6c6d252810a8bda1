import Foundation

/// The base of the update rules: holds the parameters it updates and their per-parameter
/// state, and applies one step from the gradients currently in `Parameter.grad`.
///
/// After every step, masked parameters are re-masked so that pruned weights stay exactly 0.
open class Optimizer<Scalar: TensorScalar> {
    /// The parameters this optimizer updates.
    public let parameters: [Parameter<Scalar>]
    /// Steps taken so far (Adam's bias correction uses it).
    public var stepCount: Int = 0

    /// Creates an optimizer over `parameters`.
    public init(_ parameters: [Parameter<Scalar>]) { self.parameters = parameters }

    /// Applies one update with learning rate `lr` using the current gradients.
    open func step(lr: Double) { fatalError("\(type(of: self)) does not implement step") }

    /// Per-parameter state tensors by name (`"<parameter>.<slot>"`), for checkpoints.
    open var state: [(name: String, tensor: Tensor<Scalar>)] { [] }

    /// Restores state saved by ``state``. Throws when a slot is missing or has the wrong shape.
    open func loadState(_ tensors: [String: Tensor<Scalar>]) throws {}

    /// Zeroes the pruned values of every masked parameter (their gradients were zeroed by
    /// back-propagation).
    public func reapplyMasks() {
        for p in parameters where p.mask != nil { p.maskValue() }
    }
}

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight
/// decay, with PyTorch's `torch.optim.SGD` semantics (dampening 0; the momentum buffer is
/// initialized to the first gradient).
public final class SGD<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// Momentum μ.
    public let momentum: Double
    /// Nesterov variant.
    public let nesterov: Bool
    /// L2 weight decay added to the gradient.
    public let weightDecay: Double
    private var buffers: [[Scalar]]
    private var hasBuffer: [Bool]

    /// Creates the optimizer.
    public init(_ parameters: [Parameter<Scalar>], momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        buffers = parameters.map { _ in [] }
        hasBuffer = parameters.map { _ in false }
        super.init(parameters)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func step(lr: Double) {
        let (mu, wd, eta) = (Scalar(momentum), Scalar(weightDecay), Scalar(lr))
        for (i, p) in parameters.enumerated() {
            if momentum != 0 && !hasBuffer[i] {
                buffers[i] = [Scalar](repeating: 0, count: p.count)
            }
            let first = !hasBuffer[i]
            p.grad.storage.withUnsafeBufferPointer { g in
                p.value.storage.withUnsafeMutableBufferPointer { w in
                    if momentum == 0 {
                        for j in 0..<w.count { w[j] -= eta * (g[j] + wd * w[j]) }
                        return
                    }
                    buffers[i].withUnsafeMutableBufferPointer { b in
                        for j in 0..<w.count {
                            let d = g[j] + wd * w[j]
                            b[j] = first ? d : mu * b[j] + d
                            w[j] -= eta * (nesterov ? d + mu * b[j] : b[j])
                        }
                    }
                }
            }
            if momentum != 0 { hasBuffer[i] = true }
        }
        stepCount += 1
        reapplyMasks()
    }

    public override var state: [(name: String, tensor: Tensor<Scalar>)] {
        zip(parameters, buffers).enumerated().compactMap { i, pair in
            hasBuffer[i] ? ("\(pair.0.name).momentum_buffer", Tensor(shape: pair.0.shape, storage: pair.1)) : nil
        }
    }

    public override func loadState(_ tensors: [String: Tensor<Scalar>]) throws {
        for (i, p) in parameters.enumerated() {
            guard let t = tensors["\(p.name).momentum_buffer"] else { continue }
            guard t.count == p.count else {
                throw TerrainError.invalidCheckpoint("momentum buffer of \(p.name) has shape \(t.shape), parameter has \(p.shape)")
            }
            buffers[i] = t.storage
            hasBuffer[i] = true
        }
    }
}

/// Adam (Kingma & Ba 2015) with bias correction, and AdamW (Loshchilov & Hutter 2019) when
/// `decoupled` is set, with PyTorch's `torch.optim.Adam`/`AdamW` semantics
/// (ε added to the bias-corrected √v̂).
public final class Adam<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// β₁, β₂, ε.
    public let beta1: Double, beta2: Double, eps: Double
    /// Weight decay (L2 for Adam, decoupled for AdamW).
    public let weightDecay: Double
    /// AdamW when true.
    public let decoupled: Bool
    private var m: [[Scalar]]
    private var v: [[Scalar]]

    /// Creates the optimizer.
    public init(_ parameters: [Parameter<Scalar>], beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0, decoupled: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        m = parameters.map { [Scalar](repeating: 0, count: $0.count) }
        v = parameters.map { [Scalar](repeating: 0, count: $0.count) }
        super.init(parameters)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func step(lr: Double) {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
        let (b1, b2) = (Scalar(beta1), Scalar(beta2))
        let stepSize = Scalar(lr / bc1)
        let invSqrtBc2 = Scalar(1 / bc2.squareRoot())
        let e = Scalar(eps), wd = Scalar(weightDecay), decay = Scalar(1 - lr * weightDecay)
        for (i, p) in parameters.enumerated() {
            p.grad.storage.withUnsafeBufferPointer { g in
                p.value.storage.withUnsafeMutableBufferPointer { w in
                    m[i].withUnsafeMutableBufferPointer { mp in
                        v[i].withUnsafeMutableBufferPointer { vp in
                            for j in 0..<w.count {
                                var d = g[j]
                                if decoupled { w[j] *= decay } else { d += wd * w[j] }
                                mp[j] = b1 * mp[j] + (1 - b1) * d
                                vp[j] = b2 * vp[j] + (1 - b2) * d * d
                                w[j] -= stepSize * mp[j] / ((vp[j]).squareRoot() * invSqrtBc2 + e)
                            }
                        }
                    }
                }
            }
        }
        reapplyMasks()
    }

    public override var state: [(name: String, tensor: Tensor<Scalar>)] {
        parameters.enumerated().flatMap { i, p in
            [("\(p.name).exp_avg", Tensor(shape: p.shape, storage: m[i])),
             ("\(p.name).exp_avg_sq", Tensor(shape: p.shape, storage: v[i]))]
        }
    }

    public override func loadState(_ tensors: [String: Tensor<Scalar>]) throws {
        for (i, p) in parameters.enumerated() {
            guard let a = tensors["\(p.name).exp_avg"], let b = tensors["\(p.name).exp_avg_sq"] else {
                throw TerrainError.invalidCheckpoint("the checkpoint has no Adam state for \(p.name)")
            }
            guard a.count == p.count, b.count == p.count else {
                throw TerrainError.invalidCheckpoint("Adam state of \(p.name) does not match its shape \(p.shape)")
            }
            m[i] = a.storage
            v[i] = b.storage
        }
    }
}
