/// Layers applied one after another; children are named `"0"`, `"1"`, … as in PyTorch's
/// `nn.Sequential`, so parameters get names like `layers.0.weight`.
public final class Sequential<Scalar: TensorScalar>: Layer<Scalar> {
    /// The layers in order.
    public private(set) var layers: [Layer<Scalar>]

    /// Creates the container.
    public init(_ layers: [Layer<Scalar>]) { self.layers = layers }

    public override var children: [(name: String, layer: Layer<Scalar>)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for (i, layer) in layers.enumerated() {
            do { shape = try layer.outputShape(for: shape) } catch let e as TerrainError {
                throw TerrainError.invalidModel("layer \(i) (\(layer.summary)): \(e.description)")
            }
        }
        return shape
    }

    public override func multiplyAccumulates(for inputShape: [Int]) throws -> Int {
        var shape = inputShape, total = 0
        for layer in layers {
            total += try layer.multiplyAccumulates(for: shape)
            shape = try layer.outputShape(for: shape)
        }
        return total
    }

    public override func forward(_ input: Tensor<Scalar>, context: ForwardContext) -> Tensor<Scalar> {
        var x = input
        for layer in layers { x = layer.forward(x, context: context) }
        return x
    }

    public override func backward(_ gradOutput: Tensor<Scalar>) -> Tensor<Scalar> {
        var g = gradOutput
        for layer in layers.reversed() { g = layer.backward(g) }
        return g
    }
}
