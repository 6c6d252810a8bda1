// terrain-bench gemm-shapes: GFLOP/s of Terrain's GEMM on the example MLP's R-operator shapes
// (chunk 500, layers 40-256-256-10), beside the 1024³ square and OpenBLAS on each (diagnostics).
import Foundation
import TerrainCore
import CBLAS

func gemmShapeFigures() {
    // (label, transA, transB, m, n, k, accumulate)
    let shapes: [(String, Bool, Bool, Int, Int, Int, Bool)] = [
        ("square 1024", false, false, 1024, 1024, 1024, false),
        ("fwd 500x256x256 (x·Wᵀ)", false, true, 500, 256, 256, true),
        ("fwd 500x256x40 (x·Wᵀ)", false, true, 500, 256, 40, false),
        ("fwd 500x10x256 (x·Wᵀ)", false, true, 500, 10, 256, true),
        ("bwd 500x256x256 (e·W)", false, false, 500, 256, 256, true),
        ("bwd 500x256x10 (e·W)", false, false, 500, 256, 10, true),
        ("wgrad 256x256x500 (eᵀ·x)", true, false, 256, 256, 500, true),
        ("wgrad 256x40x500 (eᵀ·x)", true, false, 256, 40, 500, false),
        ("wgrad 10x256x500 (eᵀ·x)", true, false, 10, 256, 500, true),
    ]
    var rng = TerrainRNG(seed: 5)
    for (label, ta, tb, m, n, k, acc) in shapes {
        let a: [Float] = rng.normals(m * k, std: 1), b: [Float] = rng.normals(k * n, std: 1)
        var c = [Float](repeating: 0, count: m * n)
        let lda = ta ? m : k, ldb = tb ? k : n
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let ours = bestTime(budget: 1) {
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                GEMM.multiply(transA: ta, transB: tb, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda,
                              b: pb.baseAddress!, ldb: ldb, c: pc.baseAddress!, ldc: n, accumulate: acc)
            } } }
        }
        let blas = bestTime(budget: 1) {
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), acc ? 1 : 0, &c, Int32(n))
        }
        print(label.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " Terrain %5.1f GFLOP/s  OpenBLAS %5.1f  (%.0f µs)",
                     flops / ours / 1e9, flops / blas / 1e9, ours * 1e6))
    }
}
