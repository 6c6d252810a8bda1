/// A network ready to train: its layer tree, its parameters in a fixed order with their
/// PyTorch names, and the shapes it accepts.
///
/// The families (`mlp`, `cnn`, `resnet`) keep their layers under the attribute name
/// `layers` (parameters `layers.0.weight`, … as in a PyTorch module with
/// `self.layers = nn.Sequential(…)`); the presets carry their modules' own attribute names
/// with no prefix (`conv1.weight`, `layer2.0.shortcut.0.weight`, `linear.weight`), see
/// ``namePrefix``.
public final class Model<Scalar: TensorScalar> {
    /// The description this model was built from.
    public let spec: ModelSpec
    /// The layer tree.
    public let layers: Sequential<Scalar>
    /// What parameter and buffer names start with: `"layers"` for the families, `""` (no
    /// prefix) for the presets.
    public let namePrefix: String
    /// The per-sample input shape (flat features are reshaped by the first layer if needed).
    public let inputShape: [Int]
    /// The number of outputs (classes or regression targets).
    public let outputs: Int
    /// All trainable parameters, in a fixed order, with full names.
    public let parameters: [Parameter<Scalar>]

    /// Wraps a layer tree whose children are named under `namePrefix` (`"layers"` by
    /// default; `""` for a tree whose children are the module's own attributes). Fails when
    /// the tree does not accept `inputShape`, does not end in a flat `[outputs]` vector, or
    /// two parameters get the same name.
    public init(spec: ModelSpec, layers: Sequential<Scalar>, inputShape: [Int], namePrefix: String = "layers") throws {
        self.spec = spec
        self.layers = layers
        self.namePrefix = namePrefix
        self.inputShape = inputShape
        let out = try layers.outputShape(for: inputShape)
        guard out.count == 1 else {
            throw TerrainError.invalidModel("the network ends in shape \(out); it must end in a flat vector (add flatten)")
        }
        self.outputs = out[0]
        self.parameters = layers.namedParameters(prefix: namePrefix)
        var seen = Set<String>()
        for p in parameters where !seen.insert(p.name).inserted {
            throw TerrainError.invalidModel("duplicate parameter name \(p.name)")
        }
        for b in layers.namedBuffers(prefix: namePrefix) where !seen.insert(b.name).inserted {
            throw TerrainError.invalidModel("duplicate tensor name \(b.name)")
        }
        Model.fuseBatchNormReLU(in: layers)
        AllocatorTuning.applied
        // Nobody reads the gradient with respect to the data: the leading layers skip it.
        Model.skipInputGradients(of: layers.layers)
    }

    /// Clears ``Layer/inputGradientNeeded`` on the layers before (and including) the first
    /// one with parameters, descending into containers; returns whether it found that layer.
    @discardableResult
    private static func skipInputGradients(of sequence: [Layer<Scalar>]) -> Bool {
        for layer in sequence {
            layer.inputGradientNeeded = false
            if let s = layer as? Sequential<Scalar> {
                if skipInputGradients(of: s.layers) { return true }
                continue
            }
            if !layer.parameters.isEmpty || !layer.children.isEmpty { return true }
        }
        return false
    }

    /// Lets every BatchNorm directly followed by a ReLU (in a layer stack or a residual
    /// block's body) apply it in its own pass, and every convolution directly followed by a
    /// BatchNorm fold that norm (and its ReLU) in for inference passes.
    private static func fuseBatchNormReLU(in root: Layer<Scalar>) {
        for layer in root.allLayers() {
            let sequence: [Layer<Scalar>]
            if let s = layer as? Sequential<Scalar> { sequence = s.layers }
            else if let block = layer as? ResidualBlock<Scalar> { sequence = block.body.map(\.layer) }
            else { continue }
            for (a, b) in zip(sequence, sequence.dropFirst()) {
                if let bn = a as? BatchNorm<Scalar>, let relu = b as? ReLU<Scalar>, !relu.isFused { bn.fuseReLU(relu) }
                if let conv = a as? Conv2d<Scalar>, let bn = b as? BatchNorm<Scalar>, !bn.isFoldedIntoConvolution {
                    conv.foldedNorm = bn
                    bn.isFoldedIntoConvolution = true
                }
            }
        }
    }

    /// Multiply-accumulates of one sample's forward pass (convolutions and linear layers);
    /// FLOPs are twice this, a training step about three times the forward pass.
    public var multiplyAccumulatesPerSample: Int {
        (try? layers.multiplyAccumulates(for: inputShape)) ?? 0
    }

    /// The total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Non-trainable state (BatchNorm running statistics) by full name.
    public var namedBuffers: [(name: String, layer: Layer<Scalar>, local: String, tensor: Tensor<Scalar>)] {
        layers.namedBuffers(prefix: namePrefix)
    }

    /// Runs the network on a batch `[N] + inputShape` (or `[N, features]`), returning `[N, outputs]`.
    public func forward(_ x: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        layers.forward(x, context: context)
    }

    /// Back-propagates ∂L/∂outputs of the latest forward pass, adding into every parameter's
    /// grad; gradients of masked (pruned) entries are zeroed.
    @discardableResult
    public func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        let g = layers.backward(gradOutput)
        for p in parameters where p.mask != nil { p.maskGradient() }
        return g
    }

    /// Sets every parameter gradient to zero.
    public func zeroGradients() {
        for p in parameters { p.grad.zero() }
    }

    /// The parameter with the given full name, if any.
    public func parameter(named name: String) -> Parameter<Scalar>? {
        parameters.first { $0.name == name }
    }

    /// A multi-line description: one line per layer and the parameter count. Presets list
    /// their top-level modules by name (a ResNet-110 has over 300 layers).
    public var summary: String {
        var lines: [String]
        if namePrefix.isEmpty {
            lines = layers.children.map { child in
                let count = child.layer.allLayers().flatMap(\.parameters).reduce(0) { $0 + $1.count }
                return "  \(child.name): \(child.layer.summary)" + (count > 0 ? ", \(count) parameters" : "")
            }
        } else {
            lines = layers.allLayers().dropFirst().map { "  " + $0.summary }
        }
        lines.append("  parameters: \(parameterCount)")
        return lines.joined(separator: "\n")
    }

    /// Copies parameter values and buffers from another model of the same architecture.
    public func load(from other: Model<Scalar>) {
        precondition(other.parameters.count == parameters.count)
        for (a, b) in zip(parameters, other.parameters) {
            a.value = b.value
            a.mask = b.mask
        }
        for (mine, theirs) in zip(namedBuffers, other.namedBuffers) {
            try? mine.layer.setBuffer(mine.local, theirs.tensor)
        }
    }
}
