/// A dense, row-major tensor over contiguous storage.
///
/// `Tensor` is a value type: copies share storage until one of them is written (Swift's
/// copy-on-write arrays), so passing tensors around is cheap. The last dimension is the
/// fastest-varying one, as in NumPy and PyTorch, so a `[out, in]` weight has the same
/// memory layout as PyTorch's `nn.Linear.weight`.
public struct Tensor<Scalar: TensorScalar>: Sendable, Equatable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Scalar]

    /// Creates a tensor of the given shape with every element equal to `value`.
    public init(shape: [Int], repeating value: Scalar = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.storage = [Scalar](repeating: value, count: shape.reduce(1, *))
    }

    /// Creates a tensor from row-major elements. Fails (precondition) when the element count
    /// does not match the shape.
    public init(shape: [Int], storage: [Scalar]) {
        precondition(shape.reduce(1, *) == storage.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// Creates a tensor whose elements are written by `initializer`, which must set every
    /// element of the buffer it receives (no zero-filling pass first).
    public init(shape: [Int], unsafeUninitialized initializer: (UnsafeMutableBufferPointer<Scalar>) -> Void) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.storage = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            initializer(buffer)
            initialized = count
        }
    }

    /// Converts the elements of another tensor to this scalar type (rounding to nearest).
    public init<Other: TensorScalar>(_ other: Tensor<Other>) {
        self.shape = other.shape
        self.storage = other.storage.map { Scalar($0) }
    }

    /// The number of elements.
    @inlinable public var count: Int { storage.count }
    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// Changes the shape in place; the element count must stay the same.
    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == storage.count,
                     "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Sets every element to zero, keeping the shape.
    public mutating func zero() {
        storage.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// The element at a multi-dimensional index (slow; for tests and small tensors).
    public subscript(_ index: Int...) -> Scalar {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
        var flat = 0
        for (i, extent) in zip(index, shape) {
            precondition(i >= 0 && i < extent, "index \(index) out of range for shape \(shape)")
            flat = flat * extent + i
        }
        return flat
    }

    /// Rows `start..<end` along the first dimension, copied into a new tensor.
    public func rows(_ range: Range<Int>) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, storage: Array(storage[range.lowerBound * inner ..< range.upperBound * inner]))
    }

    /// The rows at the given indices along the first dimension, gathered into a new tensor.
    public func gatherRows(_ indices: some Collection<Int>) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = indices.count
        var out = [Scalar]()
        out.reserveCapacity(indices.count * inner)
        storage.withUnsafeBufferPointer { src in
            for i in indices {
                out.append(contentsOf: src[i * inner ..< (i + 1) * inner])
            }
        }
        return Tensor(shape: newShape, storage: out)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = storage.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor<\(Scalar.self)>\(shape)[\(head)\(storage.count > 8 ? ", …" : "")]"
    }
}
