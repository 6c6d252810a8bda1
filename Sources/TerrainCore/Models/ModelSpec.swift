/// A model description, the `model:` section of a spec (see docs/spec.md).
///
/// Three families: `mlp` (fully connected), `cnn` (a stack of strided convolutions and a
/// linear head, as MNIST-1D's CNN) and `resnet` (a small ResNet with basic blocks, with or
/// without skip connections and BatchNorm); and the named presets of the landscape papers'
/// code (``Kind/isPreset``): the CIFAR ResNets `resnet20`/`56`/`110` with and without
/// shortcuts and `vgg9`, whose parameters carry the PyTorch modules' own names
/// (docs/checkpoints.md).
public struct ModelSpec: Codable, Sendable, Equatable {
    /// The model family or preset.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case mlp, cnn, resnet
        case resnet20, resnet56, resnet110
        case resnet20NoShort = "resnet20_noshort", resnet56NoShort = "resnet56_noshort", resnet110NoShort = "resnet110_noshort"
        case vgg9

        /// Whether this is a fixed architecture of the landscape papers (named parameters,
        /// no `layers.` prefix) rather than a configurable family.
        public var isPreset: Bool { !(self == .mlp || self == .cnn || self == .resnet) }

        /// For the CIFAR ResNet presets: basic blocks per stage (`n` of ResNet-(6n+2)) and
        /// whether the blocks have shortcuts; nil for the other kinds.
        public var cifarResNet: (blocksPerStage: Int, shortcuts: Bool)? {
            switch self {
            case .resnet20: return (3, true)
            case .resnet56: return (9, true)
            case .resnet110: return (18, true)
            case .resnet20NoShort: return (3, false)
            case .resnet56NoShort: return (9, false)
            case .resnet110NoShort: return (18, false)
            case .mlp, .cnn, .resnet, .vgg9: return nil
            }
        }
    }
    /// The shortcut of a residual block whose shape changes (stride 2 or more channels).
    public enum Shortcut: String, Codable, Sendable, CaseIterable {
        /// A 1×1 convolution (stride s, no bias) and a BatchNorm, `shortcut.0`/`shortcut.1`
        /// (He et al.'s option B; Li et al.'s code).
        case projection
        /// Every s-th pixel, channels padded with zeros, no parameters (option A; ``ZeroPadShortcut``).
        case zeroPad = "zero_pad"
    }
    /// Hidden-unit nonlinearities.
    public enum Activation: String, Codable, Sendable, CaseIterable { case relu, tanh, gelu }

    /// The family.
    public var kind: Kind
    /// MLP hidden widths, input to output (e.g. `[256, 256]` for 40-256-256-10).
    public var hidden: [Int]
    /// CNN/ResNet channels per stage.
    public var channels: [Int]
    /// The per-sample input shape the network sees; `nil` means the data's own shape
    /// (flat features). Convolutional nets need `[C, L]` or `[C, H, W]`, e.g. `[1, 40]`.
    public var inputShape: [Int]?
    /// Convolution kernel size.
    public var kernelSize: Int?
    /// CNN convolution stride.
    public var stride: Int
    /// Hidden nonlinearity.
    public var activation: Activation
    /// BatchNorm after each hidden Linear/Conv (`resnet` default `true`, others `false`).
    public var batchNorm: Bool?
    /// LayerNorm after each hidden Linear (MLP only).
    public var layerNorm: Bool
    /// ResNet skip connections.
    public var skip: Bool
    /// ResNet basic blocks per stage.
    public var blocksPerStage: Int
    /// Dropout probability after each hidden activation (MLP only).
    public var dropout: Double
    /// Weight initialization.
    public var initializer: Initializer
    /// The shortcut of shape-changing residual blocks (`resnet` and the ResNet presets with
    /// shortcuts); nil means ``Shortcut/projection``. Omitted from the encoding when nil, so
    /// specs written before it existed encode (and hash) as before.
    public var shortcut: Shortcut?
    /// A width multiplier for every family (``widened()``): MLP hidden widths, CNN/ResNet
    /// channels and the presets' fixed channels (16/32/64, VGG's 64/128/256 and its 256-unit
    /// `fc`) are multiplied by it and rounded to the nearest integer (at least 1). `nil`
    /// (the default) is 1 and is omitted from the encoding, so older specs hash as before.
    public var width: Double? = nil

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, hidden, channels, inputShape = "input_shape", kernelSize = "kernel_size", stride, activation
        case batchNorm = "batch_norm", layerNorm = "layer_norm", skip, blocksPerStage = "blocks_per_stage"
        case dropout, initializer = "init", shortcut, width
    }

    /// The keys a `model:` mapping may contain.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Creates a spec; unspecified options take the documented defaults.
    public init(kind: Kind, hidden: [Int] = [], channels: [Int] = [], inputShape: [Int]? = nil,
                kernelSize: Int? = nil, stride: Int = 2, activation: Activation = .relu,
                batchNorm: Bool? = nil, layerNorm: Bool = false, skip: Bool = true, blocksPerStage: Int = 1,
                dropout: Double = 0, initializer: Initializer = .pytorch, shortcut: Shortcut? = nil) {
        self.kind = kind
        self.hidden = hidden
        self.channels = channels
        self.inputShape = inputShape
        self.kernelSize = kernelSize
        self.stride = stride
        self.activation = activation
        self.batchNorm = batchNorm
        self.layerNorm = layerNorm
        self.skip = skip
        self.blocksPerStage = blocksPerStage
        self.dropout = dropout
        self.initializer = initializer
        self.shortcut = shortcut
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            kind: try c.decode(Kind.self, forKey: .kind),
            hidden: try c.decodeIfPresent([Int].self, forKey: .hidden) ?? [],
            channels: try c.decodeIfPresent([Int].self, forKey: .channels) ?? [],
            inputShape: try c.decodeIfPresent([Int].self, forKey: .inputShape),
            kernelSize: try c.decodeIfPresent(Int.self, forKey: .kernelSize),
            stride: try c.decodeIfPresent(Int.self, forKey: .stride) ?? 2,
            activation: try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .relu,
            batchNorm: try c.decodeIfPresent(Bool.self, forKey: .batchNorm),
            layerNorm: try c.decodeIfPresent(Bool.self, forKey: .layerNorm) ?? false,
            skip: try c.decodeIfPresent(Bool.self, forKey: .skip) ?? true,
            blocksPerStage: try c.decodeIfPresent(Int.self, forKey: .blocksPerStage) ?? 1,
            dropout: try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0,
            initializer: try c.decodeIfPresent(Initializer.self, forKey: .initializer) ?? .pytorch,
            shortcut: try c.decodeIfPresent(Shortcut.self, forKey: .shortcut))
        width = try c.decodeIfPresent(Double.self, forKey: .width)
    }

    /// The example MLP of the README: 40-256-256-10 with ReLU.
    public static let exampleMLP = ModelSpec(kind: .mlp, hidden: [256, 256])
    /// The example CNN for MNIST-1D: three 1-D convolutions (32 channels, kernel 5,
    /// stride 2) and a linear head.
    public static let exampleCNN = ModelSpec(kind: .cnn, channels: [32, 32, 32], inputShape: [1, 40], kernelSize: 5)

    /// Checks the options for consistency without building anything.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw TerrainError.invalidModel(m) }
        try validateWidth()
        if kind.isPreset { return try validatePreset() }
        if shortcut != nil && kind != .resnet { try fail("model.shortcut is for resnet and the ResNet presets with shortcuts") }
        if shortcut != nil && !skip { try fail("model.shortcut has no effect with skip: false (the blocks have no shortcuts)") }
        if shortcut == .zeroPad && zip(channels, channels.dropFirst()).contains(where: { $1 < $0 }) {
            try fail("model.shortcut: zero_pad pads channels with zeros, so model.channels must not decrease, got \(channels)")
        }
        switch kind {
        case .mlp:
            if hidden.contains(where: { $0 <= 0 }) { try fail("model.hidden widths must be positive, got \(hidden)") }
            if !channels.isEmpty { try fail("model.channels is for cnn/resnet; an mlp takes model.hidden") }
        case .cnn, .resnet:
            if channels.isEmpty || channels.contains(where: { $0 <= 0 }) {
                try fail("model.channels must list positive channel counts for a \(kind.rawValue), got \(channels)")
            }
            guard let s = inputShape, s.count == 2 || s.count == 3 else {
                try fail("model.input_shape must be [C, L] or [C, H, W] for a \(kind.rawValue) (e.g. [1, 40] for MNIST-1D)")
            }
            _ = s
        default:
            break   // presets: validatePreset()
        }
        if let k = kernelSize, k <= 0 { try fail("model.kernel_size must be positive, got \(k)") }
        if stride <= 0 { try fail("model.stride must be positive, got \(stride)") }
        if blocksPerStage <= 0 { try fail("model.blocks_per_stage must be positive, got \(blocksPerStage)") }
        if !(0..<1).contains(dropout) { try fail("model.dropout must be in [0, 1), got \(dropout)") }
        if layerNorm && kind != .mlp { try fail("model.layer_norm is available for mlp only") }
        if layerNorm && (batchNorm ?? false) { try fail("choose one of model.layer_norm and model.batch_norm") }
    }

    /// A preset fixes its architecture: only `input_shape`, `init` and (for ResNets with
    /// shortcuts) `shortcut` may be set; any other option is an error naming it.
    private func validatePreset() throws {
        let name = kind.rawValue
        func fixed(_ key: String, _ what: String) throws -> Never {
            let family = kind == .vgg9 ? "" : " (kind: resnet lets you choose)"
            throw TerrainError.invalidModel("model.\(key): the \(name) preset fixes its \(what)\(family)")
        }
        if !hidden.isEmpty { try fixed("hidden", "layers") }
        if !channels.isEmpty { try fixed("channels", "channels (\(kind == .vgg9 ? "64/128/256" : "16/32/64"))") }
        if kernelSize != nil { try fixed("kernel_size", "kernel size (3)") }
        if stride != 2 { try fixed("stride", "strides") }
        if activation != .relu { try fixed("activation", "activation (ReLU)") }
        if batchNorm != nil { try fixed("batch_norm", "BatchNorm layers") }
        if layerNorm { try fixed("layer_norm", "normalization (BatchNorm)") }
        if blocksPerStage != 1 { try fixed("blocks_per_stage", "depth") }
        if dropout != 0 { try fixed("dropout", "layers (no dropout)") }
        if !skip {
            let twin = kind.cifarResNet?.shortcuts == true ? " (use kind: \(name)_noshort)" : ""
            throw TerrainError.invalidModel("model.skip: the \(name) preset fixes its skip connections\(twin)")
        }
        if shortcut != nil && kind.cifarResNet?.shortcuts != true {
            throw TerrainError.invalidModel("model.shortcut: the \(name) preset has no shortcut connections to choose")
        }
        if let s = inputShape, s.count != 3 || s.contains(where: { $0 <= 0 }) {
            throw TerrainError.invalidModel("model.input_shape must be [C, H, W] for \(name), got \(s)")
        }
    }
}
