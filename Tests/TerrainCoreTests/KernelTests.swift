import CBLAS
import TerrainCore
import XCTest

/// The fast kernels against their oracles. ``GEMM`` and the convolution kernels promise a
/// fixed summation order (one fused multiply-add chain per element, in a stated order), so
/// they must equal the naive loops of ``GEMM/reference(transA:transB:m:n:k:a:lda:b:ldb:c:ldc:accumulate:)``
/// and ``ConvReference`` *exactly*, whatever the blocking, tiles and edges; and, as a check
/// from an independent implementation, agree with OpenBLAS to rounding.
final class KernelTests: XCTestCase {
    private func random<T: TensorScalar>(_ count: Int, seed: UInt64) -> [T] {
        var rng = TerrainRNG(seed: seed)
        return rng.normals(count, std: 1)
    }

    private func checkGEMM<T: TensorScalar>(_: T.Type, m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                                             accumulate: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
        let a: [T] = random((transA ? k : m) * lda, seed: 1), b: [T] = random((transB ? n : k) * ldb, seed: 2)
        var fast: [T] = random(m * ldc, seed: 3)
        var slow = fast
        Kernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                     c: &fast, ldc: ldc, accumulate: accumulate)
        GEMM.reference(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                       c: &slow, ldc: ldc, accumulate: accumulate)
        // Equal values with equal signs (so −0 and +0 count as different): bit for bit.
        XCTAssertTrue(zip(fast, slow).allSatisfy { $0 == $1 && $0.sign == $1.sign },
                      "\(T.self) \(m)×\(n)×\(k) transA \(transA) transB \(transB) accumulate \(accumulate)",
                      file: file, line: line)
    }

    /// Shapes cross every block boundary: tiles of 6 rows, 16 (Float) / 8 (Double) columns,
    /// the 96-row A block, the 256-deep k block, and ragged edges everywhere.
    func testGEMMEqualsTheReferenceLoopBitForBit() {
        let shapes = [(1, 1, 1), (6, 16, 7), (7, 17, 255), (13, 33, 256), (97, 40, 257), (5, 3, 600), (130, 70, 513), (2, 2049, 3)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for accumulate in [false, true] {
                        checkGEMM(Float.self, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate)
                        checkGEMM(Double.self, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate)
                    }
                }
            }
        }
    }

    /// An independent implementation (OpenBLAS) agrees to Float rounding.
    func testGEMMAgreesWithOpenBLAS() {
        let (m, n, k) = (67, 45, 300)
        let a: [Float] = random(m * k, seed: 4), b: [Float] = random(k * n, seed: 5)
        var ours = [Float](repeating: 0, count: m * n), blas = ours
        Kernels.gemm(transA: false, transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &ours, ldc: n, accumulate: false)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(k), 0, &blas, Int32(n))
        for i in 0..<(m * n) { XCTAssertEqual(ours[i], blas[i], accuracy: 1e-4 * Float(k).squareRoot()) }
    }

    private func checkConv<T: TensorScalar>(_: T.Type, batch: Int, h: Int, w: Int, c: Int, o: Int, kernel: Int, stride: Int,
                                            padding: Int, dims: Int = 2, bias: Bool = true,
                                            file: StaticString = #filePath, line: UInt = #line) {
        let conv = Conv2d<T>(inChannels: c, outChannels: o, kernelSize: kernel, stride: stride, padding: padding,
                             spatialDimensions: dims, bias: bias)
        conv.weight.value.storage = random(conv.weight.count, seed: 6)
        if let b = conv.bias { b.value.storage = random(o, seed: 7) }
        let g = ConvGeometry(batch: batch, inH: dims == 2 ? h : 1, inW: w, inChannels: c, outChannels: o,
                             kernelH: dims == 2 ? kernel : 1, kernelW: kernel, strideH: dims == 2 ? stride : 1,
                             strideW: stride, padH: dims == 2 ? padding : 0, padW: padding)
        let shape = dims == 2 ? [batch, h, w, c] : [batch, w, c]
        let x = Tensor<T>(shape: shape, storage: random(shape.reduce(1, *), seed: 8))
        let y = conv.forward(x, context: .train())
        let label = "\(T.self) n\(batch) \(h)×\(w)×\(c)→\(o) k\(kernel) s\(stride) p\(padding) \(dims)-D"
        XCTAssertEqual(y.storage, ConvReference.forward(g, x: x.storage, weight: conv.weight.value.storage,
                                                        bias: conv.bias?.value.storage), "forward \(label)", file: file, line: line)
        let dy = Tensor<T>(shape: y.shape, storage: random(y.count, seed: 9))
        let dx = conv.backward(dy)
        XCTAssertEqual(conv.weight.grad.storage, ConvReference.weightGradient(g, x: x.storage, dy: dy.storage),
                       "weight gradient \(label)", file: file, line: line)
        XCTAssertEqual(dx.storage, ConvReference.inputGradient(g, dy: dy.storage, weight: conv.weight.value.storage),
                       "input gradient \(label)", file: file, line: line)
    }

    /// The implicit-GEMM convolution equals the contract's naive loops exactly: 3×3 stride 1
    /// (transposed-convolution input gradient), strided and 1×1 (scattered), 1-D, channel
    /// counts off the 16/8-column panels, pixel counts off the 6-row tiles.
    func testConvolutionKernelsEqualTheReferenceLoopsBitForBit() {
        for type in [Float.self, Double.self] as [any TensorScalar.Type] {
            func run<T: TensorScalar>(_ t: T.Type) {
                checkConv(t, batch: 2, h: 5, w: 7, c: 3, o: 16, kernel: 3, stride: 1, padding: 1)
                checkConv(t, batch: 1, h: 6, w: 6, c: 16, o: 32, kernel: 3, stride: 1, padding: 1, bias: false)
                checkConv(t, batch: 3, h: 7, w: 5, c: 5, o: 10, kernel: 3, stride: 2, padding: 1)
                checkConv(t, batch: 2, h: 8, w: 8, c: 16, o: 32, kernel: 1, stride: 2, padding: 0, bias: false)
                checkConv(t, batch: 2, h: 6, w: 6, c: 8, o: 20, kernel: 3, stride: 1, padding: 0)
                checkConv(t, batch: 3, h: 1, w: 13, c: 2, o: 7, kernel: 5, stride: 2, padding: 2, dims: 1)
                checkConv(t, batch: 2, h: 1, w: 9, c: 4, o: 17, kernel: 3, stride: 1, padding: 1, dims: 1)
            }
            if type == Float.self { run(Float.self) } else { run(Double.self) }
        }
    }

    /// A network's first convolution reads channels-first data: the same numbers as the
    /// channels-last layer on the transposed input, and an input gradient in the same layout.
    func testChannelsFirstInputIsTheSameConvolution() {
        let first = Conv2d<Float>(inChannels: 3, outChannels: 16, kernelSize: 3, padding: 1, channelsFirstInput: true)
        let inner = Conv2d<Float>(inChannels: 3, outChannels: 16, kernelSize: 3, padding: 1)
        first.weight.value.storage = random(first.weight.count, seed: 11)
        inner.weight.value = first.weight.value
        inner.bias!.value = first.bias!.value
        let nchw = Tensor<Float>(shape: [2, 3, 5, 4], storage: random(120, seed: 12))
        let nhwc = Tensor<Float>(shape: [2, 5, 4, 3], storage: ChannelsLast.transpose(nchw.storage, n: 2, c: 3, spatial: 20))
        let a = first.forward(nchw, context: .train()), b = inner.forward(nhwc, context: .train())
        XCTAssertEqual(a, b)
        let dy = Tensor<Float>(shape: a.shape, storage: random(a.count, seed: 13))
        let da = first.backward(dy), db = inner.backward(dy)
        XCTAssertEqual(da.shape, [2, 3, 5, 4])
        XCTAssertEqual(da.storage, ChannelsLast.transpose(db.storage, n: 2, c: 3, spatial: 20, inverse: true))
        XCTAssertEqual(first.weight.grad, inner.weight.grad)
    }
}
