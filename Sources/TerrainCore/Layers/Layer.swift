/// What a forward pass is for: training (batch statistics, dropout active) or evaluation
/// (running statistics, dropout off), plus the key that makes dropout deterministic.
public struct ForwardContext: Sendable {
    /// `true` in training mode.
    public var training: Bool
    /// The seed and step that key dropout's random masks: the same (seed, step) gives the
    /// same masks on every worker.
    public var seed: UInt64
    /// The optimizer step (or any counter) this pass belongs to.
    public var step: UInt64
    /// What piecewise-linear units (ReLU, max pooling) do with their on/off pattern.
    public var activations: ActivationPattern = .live
    /// A pass that only re-estimates BatchNorm statistics: BatchNorm behaves as in training
    /// (batch statistics, running statistics updated as a cumulative average), dropout stays off.
    public var statisticsOnly = false
    /// Whether layers keep what `backward` needs. `false` for pure inference, so that a
    /// forward pass holds no activation beyond the one it is computing (peak memory of
    /// evaluation independent of depth); `backward` must not follow such a pass.
    public var retainsForBackward = true

    /// The BatchNorm re-estimation pass (see ``statisticsOnly``).
    public static let batchNormStatistics: ForwardContext = {
        var c = ForwardContext(training: true, seed: 0, step: 0)
        c.statisticsOnly = true
        c.retainsForBackward = false
        return c
    }()

    /// Evaluation mode.
    public static let eval = ForwardContext(training: false, seed: 0, step: 0)
    /// Whether this is a pure inference pass: evaluation mode, live activations, nothing
    /// kept for backward. Only then may a BatchNorm be folded into the convolution before it.
    public var isInference: Bool { !training && !retainsForBackward && activations == .live && !statisticsOnly }

    /// Evaluation mode for inference only: nothing is kept for a backward pass.
    public static let inference: ForwardContext = {
        var c = ForwardContext.eval
        c.retainsForBackward = false
        return c
    }()
    /// Training mode keyed by `seed` and `step`.
    public static func train(seed: UInt64 = 0, step: UInt64 = 0) -> ForwardContext {
        ForwardContext(training: true, seed: seed, step: step)
    }

    /// Evaluation mode with the given activation-pattern handling.
    public static func eval(_ activations: ActivationPattern) -> ForwardContext {
        var c = ForwardContext.eval
        c.activations = activations
        return c
    }
}

/// How ReLUs and max-pooling choose their active units. Curvature needs the Hessian of the
/// network *within* the linear piece θ lies in (the almost-everywhere Hessian that the
/// R-operator and double backprop compute): finite differences of gradients taken with the
/// pattern recorded at θ and then frozen give exactly that, instead of picking up jumps where
/// a unit switches between the two evaluation points.
public enum ActivationPattern: Sendable, Equatable {
    /// Each unit decides from its own input (normal operation).
    case live
    /// Decide from the input and remember the pattern.
    case record
    /// Reuse the remembered pattern (same batch, nearby parameters).
    case frozen
}

/// The base of every layer: a small type with an explicit forward and backward pass.
///
/// `forward` computes the output and remembers what `backward` needs; `backward` receives
/// ∂L/∂output, **adds** ∂L/∂parameter into each parameter's `grad` and returns ∂L/∂input.
/// A layer keeps the state of its latest forward pass only, so calls must alternate
/// forward, backward (as in llm.c). Layers are not thread-safe: one model per thread.
open class Layer<Scalar: TensorScalar> {
    /// Creates a layer.
    public init() {}

    /// Whether `backward` must return ∂L/∂input. A model clears it on its first layer,
    /// whose input gradient nobody reads; such a layer's `backward` returns an empty tensor.
    public var inputGradientNeeded = true

    /// Computes the layer's output for `input`.
    open func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        fatalError("\(type(of: self)) does not implement forward")
    }

    /// Given ∂L/∂output of the latest forward pass, accumulates parameter gradients and
    /// returns ∂L/∂input.
    open func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        fatalError("\(type(of: self)) does not implement backward")
    }

    /// This layer's own parameters (not its children's).
    open var parameters: [Parameter<Scalar>] { [] }

    /// Non-trainable state saved in checkpoints (BatchNorm running statistics), by local name.
    open var buffers: [(name: String, tensor: Tensor<Scalar>)] { [] }

    /// Replaces a buffer by local name (used when loading a checkpoint).
    open func setBuffer(_ name: String, _ tensor: Tensor<Scalar>) throws {
        throw TerrainError.invalidCheckpoint("layer \(type(of: self)) has no buffer \(name)")
    }

    /// Sub-layers with their PyTorch attribute names (e.g. `"0"`, `"conv1"`).
    open var children: [(name: String, layer: Layer<Scalar>)] { [] }

    /// The output shape (without the batch dimension) for an input shape (without the batch
    /// dimension), or an error when the input is incompatible.
    open func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    /// A one-line description for model summaries.
    open var summary: String { "\(type(of: self))" }

    /// Multiply-accumulates of one forward pass for one sample of `inputShape` (without the
    /// batch dimension): the products of convolutions and linear layers, nothing else.
    /// A training step costs about three times this (forward, input and weight gradients).
    open func multiplyAccumulates(for inputShape: [Int]) throws -> Int { 0 }
}

extension Layer {
    /// Every parameter of this layer and its descendants, depth-first in attribute order,
    /// with full names prefixed by `prefix`.
    public func namedParameters(prefix: String = "") -> [Parameter<Scalar>] {
        var result = [Parameter<Scalar>]()
        for p in parameters {
            p.name = prefix.isEmpty ? p.localName : "\(prefix).\(p.localName)"
            result.append(p)
        }
        for (name, child) in children {
            result += child.namedParameters(prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
        }
        return result
    }

    /// Every buffer of this layer and its descendants with full names.
    public func namedBuffers(prefix: String = "") -> [(name: String, layer: Layer<Scalar>, local: String, tensor: Tensor<Scalar>)] {
        var result = [(name: String, layer: Layer<Scalar>, local: String, tensor: Tensor<Scalar>)]()
        for b in buffers {
            result.append((prefix.isEmpty ? b.name : "\(prefix).\(b.name)", self, b.name, b.tensor))
        }
        for (name, child) in children {
            result += child.namedBuffers(prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
        }
        return result
    }

    /// Every layer in this subtree, depth-first, this one first.
    public func allLayers() -> [Layer<Scalar>] {
        [self] + children.flatMap { $0.layer.allLayers() }
    }
}
