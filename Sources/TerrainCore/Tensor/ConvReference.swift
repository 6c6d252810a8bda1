/// The oracle for ``ConvKernels``: the convolution contract's loops written out with no
/// padding buffer, no packing and no tiling, on channels-last arrays (`x` is
/// `[N, H, W, C]`, `y` and `dy` are `[N, OH, OW, O]`, weights `[O, C, kh, kw]` as PyTorch).
/// Zero padding is read as 0 and still multiplied in, exactly as the fast kernels do, so the
/// two agree bit for bit. Slow; for tests.
public enum ConvReference {
    /// `y[n, oy, ox, o] = (chain over (ky, kx, c) of x·W) + bias[o]`.
    public static func forward<T: TensorScalar>(_ g: ConvGeometry, x: [T], weight: [T], bias: [T]?) -> [T] {
        var y = [T](repeating: 0, count: g.outputCount)
        for n in 0..<g.batch {
            for oy in 0..<g.outH {
                for ox in 0..<g.outW {
                    for o in 0..<g.outChannels {
                        var acc: T = 0
                        for ky in 0..<g.kernelH {
                            for kx in 0..<g.kernelW {
                                for c in 0..<g.inChannels {
                                    let v = input(g, x, n, oy * g.strideH + ky - g.padH, ox * g.strideW + kx - g.padW, c)
                                    acc = acc.addingProduct(v, weight[((o * g.inChannels + c) * g.kernelH + ky) * g.kernelW + kx])
                                }
                            }
                        }
                        let i = ((n * g.outH + oy) * g.outW + ox) * g.outChannels + o
                        y[i] = bias.map { acc + $0[o] } ?? acc
                    }
                }
            }
        }
        return y
    }

    /// `dW[o, c, ky, kx] = Σ_n (chain over image n's pixels of x·dy)`, images in order.
    public static func weightGradient<T: TensorScalar>(_ g: ConvGeometry, x: [T], dy: [T]) -> [T] {
        var dw = [T](repeating: 0, count: g.outChannels * g.inChannels * g.kernelH * g.kernelW)
        for o in 0..<g.outChannels {
            for c in 0..<g.inChannels {
                for ky in 0..<g.kernelH {
                    for kx in 0..<g.kernelW {
                        var total: T = 0
                        for n in 0..<g.batch {
                            var s: T = 0
                            for oy in 0..<g.outH {
                                for ox in 0..<g.outW {
                                    let v = input(g, x, n, oy * g.strideH + ky - g.padH, ox * g.strideW + kx - g.padW, c)
                                    s = s.addingProduct(v, dy[((n * g.outH + oy) * g.outW + ox) * g.outChannels + o])
                                }
                            }
                            total += s
                        }
                        dw[((o * g.inChannels + c) * g.kernelH + ky) * g.kernelW + kx] = total
                    }
                }
            }
        }
        return dw
    }

    /// ∂L/∂x. Stride 1 with `pad ≤ kernel − 1`: the transposed convolution, one chain per
    /// element over `(ky', kx', o)` of the padded `dy` and the flipped kernel. Otherwise: for
    /// each output pixel in order and each reduction index `k` in order, the chain over `o` of
    /// `dy·W` is added to the input element `k` reaches (padding discarded).
    public static func inputGradient<T: TensorScalar>(_ g: ConvGeometry, dy: [T], weight: [T]) -> [T] {
        var dx = [T](repeating: 0, count: g.batch * g.inH * g.inW * g.inChannels)
        func w(_ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> T { weight[((o * g.inChannels + c) * g.kernelH + ky) * g.kernelW + kx] }
        if let t = g.transposed {
            for n in 0..<g.batch {
                for iy in 0..<g.inH {
                    for ix in 0..<g.inW {
                        for c in 0..<g.inChannels {
                            var acc: T = 0
                            for ky in 0..<g.kernelH {
                                for kx in 0..<g.kernelW {
                                    for o in 0..<g.outChannels {
                                        let y = iy + ky - t.padH, x = ix + kx - t.padW
                                        let v: T = (y >= 0 && y < g.outH && x >= 0 && x < g.outW)
                                            ? dy[((n * g.outH + y) * g.outW + x) * g.outChannels + o] : 0
                                        acc = acc.addingProduct(v, w(o, c, g.kernelH - 1 - ky, g.kernelW - 1 - kx))
                                    }
                                }
                            }
                            dx[((n * g.inH + iy) * g.inW + ix) * g.inChannels + c] = acc
                        }
                    }
                }
            }
            return dx
        }
        for n in 0..<g.batch {
            for oy in 0..<g.outH {
                for ox in 0..<g.outW {
                    for ky in 0..<g.kernelH {
                        for kx in 0..<g.kernelW {
                            for c in 0..<g.inChannels {
                                var acc: T = 0
                                for o in 0..<g.outChannels {
                                    acc = acc.addingProduct(dy[((n * g.outH + oy) * g.outW + ox) * g.outChannels + o], w(o, c, ky, kx))
                                }
                                let iy = oy * g.strideH + ky - g.padH, ix = ox * g.strideW + kx - g.padW
                                if iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW {
                                    dx[((n * g.inH + iy) * g.inW + ix) * g.inChannels + c] += acc
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    private static func input<T: TensorScalar>(_ g: ConvGeometry, _ x: [T], _ n: Int, _ iy: Int, _ ix: Int, _ c: Int) -> T {
        guard iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW else { return 0 }
        return x[((n * g.inH + iy) * g.inW + ix) * g.inChannels + c]
    }
}
