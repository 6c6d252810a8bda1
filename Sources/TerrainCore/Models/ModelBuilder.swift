/// Builds models from a ``ModelSpec`` and initializes them deterministically.
public enum ModelBuilder {
    /// Builds the network for samples of `dataShape` (e.g. `[40]`) and `outputs` classes,
    /// initialized from `seed`. Every parameter is drawn from its own stream, keyed by the
    /// seed and the parameter's name, so initialization does not depend on layer order.
    ///
    /// Throws ``TerrainError/invalidModel(_:)`` when the spec is inconsistent or the
    /// data's shape does not fit it.
    public static func build<Scalar: TensorScalar>(
        _ spec: ModelSpec, dataShape: [Int], outputs: Int, seed: UInt64, as: Scalar.Type = Scalar.self
    ) throws -> Model<Scalar> {
        try spec.validate()
        let spec = spec.widened()
        guard outputs > 0 else { throw TerrainError.invalidModel("the model needs at least one output") }
        var layers = [Layer<Scalar>]()
        let features = dataShape.reduce(1, *)
        var shape = dataShape
        if let wanted = spec.inputShape, wanted != dataShape {
            guard wanted.reduce(1, *) == features else {
                throw TerrainError.invalidModel("model.input_shape \(wanted) has \(wanted.reduce(1, *)) elements but the data has \(features) features")
            }
            layers.append(Unflatten(wanted))
            shape = wanted
        }
        func activation() -> Layer<Scalar> {
            switch spec.activation {
            case .relu: return ReLU()
            case .tanh: return Tanh()
            case .gelu: return GELU()
            }
        }
        switch spec.kind {
        case .mlp:
            if shape.count > 1 { layers.append(Flatten()) }
            var width = features
            for h in spec.hidden {
                layers.append(Linear(inFeatures: width, outFeatures: h))
                if spec.batchNorm ?? false { layers.append(BatchNorm(channels: h)) }
                if spec.layerNorm { layers.append(LayerNorm(normalizedShape: [h])) }
                layers.append(activation())
                if spec.dropout > 0 { layers.append(Dropout(p: spec.dropout)) }
                width = h
            }
            layers.append(Linear(inFeatures: width, outFeatures: outputs))
        case .cnn:
            let dims = shape.count - 1
            let k = spec.kernelSize ?? 5
            var c = shape[0]
            for (i, ch) in spec.channels.enumerated() {
                layers.append(Conv2d(inChannels: c, outChannels: ch, kernelSize: k, stride: spec.stride,
                                     padding: k / 2, spatialDimensions: dims, channelsFirstInput: i == 0))
                if spec.batchNorm ?? false { layers.append(BatchNorm(channels: ch)) }
                layers.append(activation())
                c = ch
            }
            layers.append(Flatten(channelsLastInput: true))
            let flat = try Sequential(layers).outputShape(for: dataShape).reduce(1, *)
            layers.append(Linear(inFeatures: flat, outFeatures: outputs))
        case .resnet:
            let dims = shape.count - 1
            let k = spec.kernelSize ?? 3
            let bn = spec.batchNorm ?? true
            var c = spec.channels[0]
            layers.append(Conv2d(inChannels: shape[0], outChannels: c, kernelSize: k, padding: k / 2,
                                 spatialDimensions: dims, bias: !bn, channelsFirstInput: true))
            if bn { layers.append(BatchNorm(channels: c)) }
            layers.append(ReLU())
            for (stage, ch) in spec.channels.enumerated() {
                for block in 0..<spec.blocksPerStage {
                    let stride = (stage > 0 && block == 0) ? 2 : 1
                    layers.append(basicBlock(in: c, out: ch, stride: stride, kernelSize: k, spatialDimensions: dims,
                                             batchNorm: bn, skip: spec.skip, shortcut: spec.shortcut ?? .projection))
                    c = ch
                }
            }
            layers.append(GlobalAvgPool())
            layers.append(Linear(inFeatures: c, outFeatures: outputs))
        default:
            let model = try Model(spec: spec, layers: try presetLayers(spec, shape: shape, outputs: outputs, prefix: layers),
                                  inputShape: dataShape, namePrefix: "")
            initialize(model, initializer: spec.initializer, seed: seed)
            return model
        }
        let stack = Sequential(layers)
        let model = try Model(spec: spec, layers: stack, inputShape: dataShape)
        initialize(model, initializer: spec.initializer, seed: seed)
        return model
    }

    /// (Re)initializes every parameter of `model` from `seed`: weights and biases of Linear
    /// and Conv layers by `initializer`, normalization scales to 1 and shifts to 0. Dropout
    /// layers get distinct stream ids.
    public static func initialize<Scalar: TensorScalar>(_ model: Model<Scalar>, initializer: Initializer, seed: UInt64) {
        _ = model.layers.namedParameters(prefix: model.namePrefix)
        for (index, layer) in model.layers.allLayers().enumerated() {
            if let linear = layer as? Linear<Scalar> {
                fill(linear.weight, linear.bias, fanIn: linear.inFeatures, fanOut: linear.outFeatures, initializer, seed)
            } else if let conv = layer as? Conv2d<Scalar> {
                fill(conv.weight, conv.bias, fanIn: conv.fanIn, fanOut: conv.fanOut, initializer, seed)
            } else if let bn = layer as? BatchNorm<Scalar> {
                bn.weight.value = Tensor(shape: bn.weight.shape, repeating: 1)
                bn.bias.value = Tensor(shape: bn.bias.shape)
                bn.runningMean = Tensor(shape: bn.runningMean.shape)
                bn.runningVar = Tensor(shape: bn.runningVar.shape, repeating: 1)
                bn.batchesTracked = 0
            } else if let ln = layer as? LayerNorm<Scalar> {
                ln.weight.value = Tensor(shape: ln.weight.shape, repeating: 1)
                ln.bias.value = Tensor(shape: ln.bias.shape)
            } else if let dropout = layer as? Dropout<Scalar> {
                dropout.streamID = UInt64(index)
            }
        }
    }

    /// A basic block `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))` with PyTorch's
    /// attribute names (`conv1`, `bn1`, `conv2`, `bn2`, `shortcut`). The shortcut exists when
    /// `skip` is set and the shape changes (stride ≠ 1 or in ≠ out): a 1×1 convolution and a
    /// BatchNorm (`shortcut.0`, `shortcut.1`) or the parameter-free zero padding. Without
    /// BatchNorm, convolutions get biases.
    static func basicBlock<Scalar: TensorScalar>(
        in c: Int, out ch: Int, stride: Int, kernelSize k: Int, spatialDimensions dims: Int,
        batchNorm bn: Bool, skip: Bool, shortcut kind: ModelSpec.Shortcut
    ) -> ResidualBlock<Scalar> {
        var body: [(name: String, layer: Layer<Scalar>)] = [
            ("conv1", Conv2d(inChannels: c, outChannels: ch, kernelSize: k, stride: stride,
                             padding: k / 2, spatialDimensions: dims, bias: !bn)),
        ]
        if bn { body.append(("bn1", BatchNorm(channels: ch))) }
        body.append(("relu", ReLU()))
        body.append(("conv2", Conv2d(inChannels: ch, outChannels: ch, kernelSize: k, padding: k / 2,
                                     spatialDimensions: dims, bias: !bn)))
        if bn { body.append(("bn2", BatchNorm(channels: ch))) }
        var shortcut: Layer<Scalar>? = nil
        if skip && (stride != 1 || c != ch) {
            switch kind {
            case .projection:
                var s: [Layer<Scalar>] = [Conv2d(inChannels: c, outChannels: ch, kernelSize: 1, stride: stride,
                                                 spatialDimensions: dims, bias: !bn)]
                if bn { s.append(BatchNorm(channels: ch)) }
                shortcut = Sequential(s)
            case .zeroPad:
                shortcut = ZeroPadShortcut(inChannels: c, outChannels: ch, stride: stride)
            }
        }
        return ResidualBlock(body: body, shortcut: shortcut, useSkip: skip)
    }

    private static func fill<Scalar: TensorScalar>(
        _ weight: Parameter<Scalar>, _ bias: Parameter<Scalar>?, fanIn: Int, fanOut: Int,
        _ initializer: Initializer, _ seed: UInt64
    ) {
        var rng = TerrainRNG(seed: TerrainRNG.derive(seed, weight.name))
        weight.value.storage = initializer.weights(count: weight.count, fanIn: fanIn, fanOut: fanOut, rng: &rng)
        weight.applyMask()
        if let bias {
            var brng = TerrainRNG(seed: TerrainRNG.derive(seed, bias.name))
            bias.value.storage = initializer.biases(count: bias.count, fanIn: fanIn, rng: &brng)
        }
    }
}

extension Model {
    /// A copy of this model in another precision (e.g. `Double` for curvature), with the same
    /// parameter values, masks and buffers. The copy is rebuilt from ``spec``, so this works
    /// for models made by ``ModelBuilder``; hand-assembled layer stacks whose layout differs
    /// from their spec fail with ``TerrainError/invalidModel(_:)``.
    public func converted<Other: TensorScalar>(to: Other.Type) throws -> Model<Other> {
        let copy: Model<Other> = try ModelBuilder.build(spec, dataShape: inputShape, outputs: outputs, seed: 0)
        guard copy.parameters.map(\.name) == parameters.map(\.name),
              copy.parameters.map(\.shape) == parameters.map(\.shape) else {
            throw TerrainError.invalidModel("this model's layers do not match its spec, so it cannot be converted to \(Other.self)")
        }
        for (a, b) in zip(copy.parameters, parameters) {
            a.value = Tensor(b.value)
            a.mask = b.mask.map { Tensor($0) }
        }
        for (mine, theirs) in zip(copy.namedBuffers, namedBuffers) {
            try mine.layer.setBuffer(mine.local, Tensor(theirs.tensor))
        }
        return copy
    }
}
