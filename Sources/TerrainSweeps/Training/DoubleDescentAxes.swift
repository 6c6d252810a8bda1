import Foundation
import TerrainCore
import Yams

/// The double-descent axes of a training grid (Nakkiran et al. 2021): model width and label
/// noise, each a list in `grid:`.
///
/// - `width: [0.25, 0.5, 1, 2]` — multipliers of every layer's width (``ModelSpec/width``),
///   for every family and preset (MLP hidden widths, CNN/ResNet channels, the presets' fixed
///   channels), each run's model built at `round(w · units)`;
/// - `hidden: [[8], [16], [32, 32]]` — MLP only: the hidden widths themselves;
/// - `label_noise: [0, 0.1, 0.2]` — fractions of wrong training labels (``LabelNoise``).
///
/// `width` and `hidden` exclude each other; a grid without them trains the spec's model.
public struct DoubleDescentAxes: Sendable, Equatable {
    /// One model of the grid: a width multiplier, or MLP hidden widths.
    public enum ModelVariant: Sendable, Equatable {
        case spec
        case width(Double)
        case hidden([Int])
    }

    /// The models, in grid order (`[.spec]` without a width axis).
    public var models: [ModelVariant] = [.spec]
    /// Label-noise fractions (`nil`: the spec's `data.label_noise`).
    public var labelNoise: [Double]? = nil

    /// The `grid:` keys these axes read.
    static let keys = ["width", "hidden", "label_noise"]
    /// Largest hidden width `grid.hidden` accepts (units per layer).
    static let maximumHidden = 1 << 16

    /// Creates empty axes (the spec's model and data).
    public init() {}

    /// Parses the axes of `grid` for the spec's `model`; errors name the `grid.` field.
    static func parse(_ g: Node, model: ModelSpec, source: String) throws -> DoubleDescentAxes {
        func fail(_ m: String) -> SpecError { SpecError(file: source, message: m) }
        func items(_ key: String) throws -> [Node]? {
            guard let n = g[key] else { return nil }
            guard let list = n.sequence, !list.isEmpty else { throw fail("grid.\(key): expected a non-empty list") }
            return Array(list)
        }
        var axes = DoubleDescentAxes()
        if g["width"] != nil && g["hidden"] != nil {
            throw fail("grid: give one of width (multipliers, every family) and hidden (mlp widths), not both")
        }
        if let list = try items("width") {
            axes.models = try list.map { n in
                guard let w = n.float, w.isFinite, w > 0, w <= ModelSpec.maximumWidth else {
                    throw fail("grid.width: '\(n.string ?? "\(n)")' is not a width multiplier in (0, \(Int(ModelSpec.maximumWidth))]")
                }
                return .width(w)
            }
            if model.width != nil { throw fail("grid.width: the model sets model.width already; give the multipliers in one place") }
        }
        if let list = try items("hidden") {
            guard model.kind == .mlp else {
                throw fail("grid.hidden: the hidden widths of an mlp; a \(model.kind.rawValue) takes grid.width (a multiplier of its channels)")
            }
            axes.models = try list.map { n in
                guard let layers = n.sequence, !layers.isEmpty,
                      case let widths = layers.compactMap(\.int), widths.count == layers.count,
                      widths.allSatisfy({ (1...maximumHidden).contains($0) }) else {
                    throw fail("grid.hidden: each entry must be a list of hidden widths in 1…\(maximumHidden), e.g. [[8], [16], [32]]")
                }
                return .hidden(widths)
            }
        }
        if let list = try items("label_noise") {
            axes.labelNoise = try list.map { n in
                guard let p = n.float, p >= 0, p <= 1 else { throw fail("grid.label_noise: '\(n.string ?? "\(n)")' is not a fraction in [0, 1]") }
                return p
            }
            if Set(axes.labelNoise!).count != axes.labelNoise!.count { throw fail("grid.label_noise: lists a value twice") }
        }
        if axes.models.count != Set(axes.models.map { "\($0)" }).count { throw fail("grid: the width (or hidden) list names a model twice") }
        return axes
    }

    /// The network of every grid point, label noise slowest, then the model.
    func networks(_ base: NetworkParams) -> [NetworkParams] {
        var out = [NetworkParams]()
        for noise in labelNoise.map({ $0.map(Optional.some) }) ?? [base.data.labelNoise] {
            for variant in models {
                var n = base
                n.data.labelNoise = noise
                switch variant {
                case .spec: break
                case .width(let w): n.model.width = w
                case .hidden(let h): n.model.hidden = h
                }
                out.append(n)
            }
        }
        return out
    }
}
