/// The R-operator's view of one piece of a network (``BlockHessianProduct``): a base pass at θ
/// (forward, then backward from the loss) and a tangent pass for a block of K directions
/// (R-forward, then R-backward), each piece with explicit formulas.
///
/// **Layouts.** Base tensors hold the chunk's `n` samples in the network's own layout. Tangent
/// tensors hold the block's K copies one after the other (*k-major*): `[K·n, …]`, so a layer
/// that is linear in its input processes the whole block as one batch of `K·n` samples. A
/// tangent that is identically zero (before the first parameter) is `nil`.
///
/// **State.** A node keeps what its backward passes need for one chunk at a time, keyed by
/// the chunk's index so that the engine can keep the base passes of every chunk when they fit
/// in memory (``forget(chunk:)`` drops one). Nodes are not thread-safe.
class TangentNode<Scalar: TensorScalar> {
    /// Base forward pass of chunk `chunk`: the output for input `x`.
    func forward(_ x: Tensor<Scalar>, chunk: Int) -> Tensor<Scalar> { fatalError("\(type(of: self)).forward") }

    /// Base backward pass: given ∂L/∂output of chunk `chunk`, keeps what the tangent pass needs
    /// and returns ∂L/∂input, or nil when `needInput` is false.
    func backward(_ e: Tensor<Scalar>, chunk: Int, needInput: Bool) -> Tensor<Scalar>? { fatalError("\(type(of: self)).backward") }

    /// R-forward: `R{output}` for the block from `R{input}` (nil: zero) and the directions.
    func tangentForward(_ rx: Tensor<Scalar>?, chunk: Int, block: TangentBlock<Scalar>) -> Tensor<Scalar>? {
        fatalError("\(type(of: self)).tangentForward")
    }

    /// R-backward: given `R{∂L/∂output}` for the block, adds `R{∂L/∂θ}` of this node's
    /// parameters into `out[k]` and returns `R{∂L/∂input}` (nil when `needInput` is false).
    func tangentBackward(_ re: Tensor<Scalar>, chunk: Int, block: TangentBlock<Scalar>, needInput: Bool,
                         into out: inout [[Double]]) -> Tensor<Scalar>? {
        fatalError("\(type(of: self)).tangentBackward")
    }

    /// Drops the base state of `chunk`.
    func forget(chunk: Int) {}

    /// Whether this node (or one inside it) has parameters.
    var hasParameters: Bool { false }
}

/// The directions of one block: for every parameter (in the model's order) its K direction
/// copies one after the other, in the network's scalar type, and where each parameter's
/// entries live in a flat vector.
struct TangentBlock<Scalar: TensorScalar> {
    /// K, the number of directions.
    let k: Int
    /// `values[p]`: parameter p's K copies, k-major.
    let values: [[Scalar]]
    /// `offsets[p]`: where parameter p starts in a flat vector.
    let offsets: [Int]

    /// The block of `vectors` (flat, parameter-space order) for parameters of `counts` entries.
    init(_ vectors: [[Double]], counts: [Int]) {
        k = vectors.count
        var offsets = [Int](), offset = 0
        for c in counts { offsets.append(offset); offset += c }
        self.offsets = offsets
        values = zip(counts, offsets).map { count, start in
            var v = [Scalar](repeating: 0, count: vectors.count * count)
            for (j, vector) in vectors.enumerated() {
                for i in 0..<count { v[j * count + i] = Scalar(vector[start + i]) }
            }
            return v
        }
    }

    /// Direction j of parameter p.
    func direction(_ p: Int, _ j: Int) -> [Scalar] {
        let count = values[p].count / max(k, 1)
        return Array(values[p][j * count ..< (j + 1) * count])
    }

    /// Adds `values` (parameter p's entries for direction j) into `out[j]` in `Double`.
    func add(_ values: [Scalar], parameter p: Int, direction j: Int, into out: inout [[Double]]) {
        let start = offsets[p]
        out[j].withUnsafeMutableBufferPointer { o in
            for i in 0..<values.count { o[start + i] += Double(values[i]) }
        }
    }
}

/// Helpers on k-major block tensors.
enum Blocks {
    /// `shape` with its first (batch) dimension multiplied by `k`.
    static func stacked(_ shape: [Int], _ k: Int) -> [Int] { [shape[0] * k] + shape.dropFirst() }

    /// `t` times `factor` elementwise, `factor` repeated along `t` (as long as one part of a
    /// block, or one pixel's channels).
    static func scaled<S: TensorScalar>(_ t: Tensor<S>, by factor: [S]) -> Tensor<S> {
        let m = factor.count
        return Tensor(shape: t.shape) { o in
            t.storage.withUnsafeBufferPointer { x in
                factor.withUnsafeBufferPointer { f in
                    var start = 0
                    while start < o.count {
                        for i in 0..<m { o[start + i] = x[start + i] * f[i] }
                        start += m
                    }
                }
            }
        }
    }

    /// `a + b` elementwise (same shapes).
    static func sum<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S> {
        precondition(a.count == b.count, "sum of \(a.shape) and \(b.shape)")
        return Tensor(shape: a.shape) { o in
            a.storage.withUnsafeBufferPointer { x in
                b.storage.withUnsafeBufferPointer { y in
                    Elementwise.add(x.baseAddress!, y.baseAddress!, into: o.baseAddress!, count: o.count)
                }
            }
        }
    }
}

extension Blocks {
    /// ``Kernels/gemm`` on arrays with element offsets.
    @inline(__always)
    static func gemm<S: TensorScalar>(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: [S], _ ao: Int, _ lda: Int,
                                      _ b: [S], _ bo: Int, _ ldb: Int, _ c: inout [S], _ co: Int, _ ldc: Int, _ acc: Bool) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    Kernels.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: ap.baseAddress! + ao, lda: lda,
                                 b: bp.baseAddress! + bo, ldb: ldb, c: cp.baseAddress! + co, ldc: ldc, accumulate: acc)
                }
            }
        }
    }
}
