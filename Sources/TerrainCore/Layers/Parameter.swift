/// What a parameter is, which decides how geometry and pruning treat it: filter-normalized
/// directions and magnitude pruning act on `weight`s; biases and normalization parameters
/// are one-dimensional and handled by the `ignore`/copy rules.
public enum ParameterRole: String, Sendable, Codable, CaseIterable {
    /// A Linear or Conv weight (prunable, filter-normalizable).
    case weight
    /// An additive bias.
    case bias
    /// A normalization layer's scale or shift (BatchNorm/LayerNorm `weight`/`bias`).
    case norm
    /// A BatchNorm running statistic (`running_mean`, `running_var`): not trained, but part
    /// of a ``StateSpace`` vector.
    case statistic
}

/// One trainable tensor of a model, with its gradient and an optional pruning mask.
///
/// Parameters are reference types shared between the layer that uses them, the optimizer
/// that updates them and the geometry code that views all of them as one flat vector.
public final class Parameter<Scalar: TensorScalar> {
    /// The name relative to its layer (`"weight"`, `"bias"`); the model prefixes it with the
    /// layer path to get the PyTorch-style full name (`"layers.0.weight"`).
    public let localName: String
    /// The full PyTorch-style name, set when the layer is placed in a model.
    public internal(set) var name: String
    /// How the parameter is treated by directions and pruning.
    public let role: ParameterRole
    /// The current value.
    public var value: Tensor<Scalar>
    /// The accumulated gradient of the loss with respect to `value`, same shape.
    public var grad: Tensor<Scalar>
    /// A 0/1 mask of the same shape, applied on every forward pass when set; pruned
    /// entries of `value` are kept at exactly zero.
    public var mask: Tensor<Scalar>? {
        didSet {
            if let mask {
                precondition(mask.shape == value.shape, "mask shape \(mask.shape) ≠ parameter \(name) shape \(value.shape)")
                applyMask()
            }
        }
    }

    /// Creates a parameter holding `value`, with a zero gradient.
    public init(_ localName: String, role: ParameterRole, value: Tensor<Scalar>) {
        self.localName = localName
        self.name = localName
        self.role = role
        self.value = value
        self.grad = Tensor(shape: value.shape)
    }

    /// The tensor's shape.
    public var shape: [Int] { value.shape }
    /// The number of scalars.
    public var count: Int { value.count }

    /// Sets `value` (and `grad`) to +0 where the mask is zero — exactly zero, not the −0 a
    /// multiplication would leave on negative weights. A no-op without a mask.
    public func applyMask() {
        maskValue()
        maskGradient()
    }

    /// Sets `value` to +0 where the mask is zero (after an optimizer step).
    public func maskValue() {
        guard let mask else { return }
        Kernels.zeroWhereMaskIsZero(&value.storage, mask: mask.storage)
    }

    /// Sets `grad` to +0 where the mask is zero (after back-propagation).
    public func maskGradient() {
        guard let mask else { return }
        Kernels.zeroWhereMaskIsZero(&grad.storage, mask: mask.storage)
    }

    /// The value with the mask applied — what the forward pass uses.
    public var effectiveValue: Tensor<Scalar> {
        guard let mask else { return value }
        var v = Tensor<Scalar>(shape: value.shape)
        value.storage.withUnsafeBufferPointer { x in
            mask.storage.withUnsafeBufferPointer { m in
                v.storage.withUnsafeMutableBufferPointer { o in
                    guard let xb = x.baseAddress, let mb = m.baseAddress, let ob = o.baseAddress else { return }
                    Scalar.maskedCopy(xb, mask: mb, into: ob, count: x.count)
                }
            }
        }
        return v
    }
}
