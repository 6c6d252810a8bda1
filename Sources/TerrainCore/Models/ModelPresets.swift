/// The presets: the architectures of the landscape papers' code (Li et al. 2018,
/// github.com/tomgoldstein/loss-landscape, `cifar10/models`), built with the attribute
/// names of those PyTorch modules so that their `state_dict`s load by name
/// (docs/checkpoints.md has the module code and a conversion script).
///
/// - `resnet20`/`resnet56`/`resnet110` (ResNet-(6n+2), n = 3/9/18): `conv1` 3×3 C→16 (no
///   bias), `bn1`, ReLU; `layer1`/`layer2`/`layer3`, each n basic blocks of 16/32/64 planes,
///   the first block of `layer2` and `layer3` with stride 2 and a shortcut (1×1 projection
///   `shortcut.0` + BatchNorm `shortcut.1`, or zero padding with `shortcut: zero_pad`);
///   average pooling over the last map (8×8 for 32×32 images); `linear` 64→K.
/// - the `_noshort` twins: the same blocks without shortcut modules and without the addition.
/// - `vgg9`: `features` = [conv 64, BN, ReLU] ×2, max pool 2, [conv 128, BN, ReLU] ×2, max
///   pool, [conv 256, BN, ReLU] ×3, max pool (indices 0…23; convolutions 3×3 with biases);
///   flatten in (C, H, W) order; `fc` = [Linear(256·4·4 → 256), BatchNorm1d, ReLU];
///   `classifier` Linear(256 → K). Defined on 32×32 images.
extension ModelBuilder {
    /// The preset's layer tree, named as its PyTorch module's attributes, for samples of
    /// `shape` (`[C, H, W]`, channels-first as the data), after the `prefix` layers (an
    /// `Unflatten` when `model.input_shape` reshapes flat data).
    static func presetLayers<Scalar: TensorScalar>(
        _ spec: ModelSpec, shape: [Int], outputs: Int, prefix: [Layer<Scalar>]
    ) throws -> Sequential<Scalar> {
        let name = spec.kind.rawValue
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw TerrainError.invalidModel("\(name) takes images [C, H, W]; the samples are \(shape) (set model.input_shape, e.g. [3, 32, 32])")
        }
        var children: [(name: String, layer: Layer<Scalar>)] = prefix.enumerated().map { ("input\($0.offset)", $0.element) }
        if let resnet = spec.kind.cifarResNet {
            children += cifarResNet(channels: shape[0], blocksPerStage: resnet.blocksPerStage, shortcuts: resnet.shortcuts,
                                    shortcut: spec.shortcut ?? .projection, outputs: outputs, width: spec.scaledWidth)
        } else {
            guard spec.kind == .vgg9 else { throw TerrainError.invalidModel("\(name) is not a preset") }
            guard shape[1] == 32 && shape[2] == 32 else {
                throw TerrainError.invalidModel("vgg9 is defined on 32×32 images (its fc layer takes 256·4·4 features, as in Li et al.); the samples are \(shape)")
            }
            children += vgg9(channels: shape[0], outputs: outputs, width: spec.scaledWidth)
        }
        return Sequential(named: children)
    }

    /// ResNet-(6n+2) for CIFAR: stem, three stages of `n` basic blocks, average pooling, head.
    private static func cifarResNet<Scalar: TensorScalar>(
        channels: Int, blocksPerStage n: Int, shortcuts: Bool, shortcut: ModelSpec.Shortcut, outputs: Int,
        width: (Int) -> Int = { $0 }
    ) -> [(name: String, layer: Layer<Scalar>)] {
        let stem = width(16)
        var children: [(name: String, layer: Layer<Scalar>)] = [
            ("conv1", Conv2d(inChannels: channels, outChannels: stem, kernelSize: 3, padding: 1, bias: false, channelsFirstInput: true)),
            ("bn1", BatchNorm(channels: stem)),
            ("relu", ReLU()),
        ]
        var c = stem
        for (stage, planes) in [16, 32, 64].map(width).enumerated() {
            var blocks = [Layer<Scalar>]()
            for block in 0..<n {
                let stride = stage > 0 && block == 0 ? 2 : 1
                blocks.append(basicBlock(in: c, out: planes, stride: stride, kernelSize: 3, spatialDimensions: 2,
                                         batchNorm: true, skip: shortcuts, shortcut: shortcut) as ResidualBlock<Scalar>)
                c = planes
            }
            children.append(("layer\(stage + 1)", Sequential(blocks)))
        }
        children.append(("avgpool", GlobalAvgPool()))
        children.append(("linear", Linear(inFeatures: c, outFeatures: outputs)))
        return children
    }

    /// VGG-9 as in Li et al.: `features`, flatten, `fc`, `classifier`.
    private static func vgg9<Scalar: TensorScalar>(channels: Int, outputs: Int, width: (Int) -> Int = { $0 }) -> [(name: String, layer: Layer<Scalar>)] {
        var features = [Layer<Scalar>]()
        var c = channels
        for item in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0].map({ $0 == 0 ? 0 : width($0) }) {
            if item == 0 {
                features.append(Pool(.max, kernelSize: 2, stride: 2))
                continue
            }
            features.append(Conv2d(inChannels: c, outChannels: item, kernelSize: 3, padding: 1, bias: true,
                                   channelsFirstInput: features.isEmpty))
            features.append(BatchNorm(channels: item))
            features.append(ReLU())
            c = item
        }
        return [
            ("features", Sequential(features)),
            ("flatten", Flatten(channelsLastInput: true)),
            ("fc", Sequential([Linear(inFeatures: c * 4 * 4, outFeatures: width(256)), BatchNorm(channels: width(256)), ReLU()])),
            ("classifier", Linear(inFeatures: width(256), outFeatures: outputs)),
        ]
    }
}

extension ModelSpec.Kind {
    /// The presets, in the order the docs list them.
    public static var presets: [ModelSpec.Kind] { allCases.filter(\.isPreset) }
}
