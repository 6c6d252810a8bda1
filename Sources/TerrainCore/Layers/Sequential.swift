/// Layers applied one after another. Children are named `"0"`, `"1"`, … as in PyTorch's
/// `nn.Sequential` (so parameters get names like `layers.0.weight`), or by the names given
/// to ``init(named:)``, as the attributes of a PyTorch module whose `forward` calls them in
/// order (`conv1`, `bn1`, `layer1`, …, `linear`).
public final class Sequential<Scalar: TensorScalar>: Layer<Scalar> {
    /// The layers in order.
    public private(set) var layers: [Layer<Scalar>]
    /// The children's attribute names, one per layer.
    public let names: [String]

    /// A container numbering its children `"0"`, `"1"`, … (PyTorch's `nn.Sequential`).
    public init(_ layers: [Layer<Scalar>]) {
        self.layers = layers
        self.names = layers.indices.map(String.init)
    }

    /// A container with named children, applied in the order given. Names must be distinct
    /// and non-empty and contain no `.` (they become parts of parameter names).
    public init(named children: [(name: String, layer: Layer<Scalar>)]) {
        precondition(Set(children.map(\.name)).count == children.count, "duplicate child names in \(children.map(\.name))")
        precondition(children.allSatisfy { !$0.name.isEmpty && !$0.name.contains(".") }, "invalid child names \(children.map(\.name))")
        self.layers = children.map(\.layer)
        self.names = children.map(\.name)
    }

    public override var children: [(name: String, layer: Layer<Scalar>)] {
        Array(zip(names, layers))
    }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for (name, layer) in zip(names, layers) {
            do { shape = try layer.outputShape(for: shape) } catch let e as TerrainError {
                throw TerrainError.invalidModel("layer \(name) (\(layer.summary)): \(e.description)")
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

    public override var summary: String {
        let kinds = Set(layers.map(\.summary))
        if layers.count > 1, kinds.count == 1 { return "Sequential(\(layers.count) × \(kinds.first!))" }
        return "Sequential(\(layers.count) layers)"
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
