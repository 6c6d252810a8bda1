/// The weight layouts the convolution kernels multiply by: PyTorch's `[O, C, kh, kw]`
/// rearranged into panels of `nr` columns so a register tile reads one contiguous row of
/// `nr` values per reduction step.
extension ConvKernels {
    /// Packs `W[o, c, ky, kx]` (PyTorch's layout) into panels of `nr` output channels:
    /// `out[panel][k][col] = W[panel·nr + col, c, ky, kx]` with `k = (ky, kx, c)`, zero past
    /// the last channel. `panels · K · nr` elements. With `scale`, each output channel's
    /// weights are multiplied by `scale[o]` (a BatchNorm folded in for inference).
    static func packWeights<S: TensorScalar>(_ w: UnsafePointer<S>, outChannels o: Int, inChannels c: Int,
                                             kernelH kh: Int, kernelW kw: Int, nr: Int, scale: UnsafePointer<S>? = nil,
                                             into out: UnsafeMutablePointer<S>) {
        let k = kh * kw * c, panels = (o + nr - 1) / nr
        for panel in 0..<panels {
            let base = out + panel * k * nr
            for ky in 0..<kh {
                for kx in 0..<kw {
                    for ch in 0..<c {
                        let row = base + ((ky * kw + kx) * c + ch) * nr
                        for col in 0..<nr {
                            let oc = panel * nr + col
                            let v = oc < o ? w[((oc * c + ch) * kh + ky) * kw + kx] : 0
                            row[col] = oc < o ? (scale.map { v * $0[oc] } ?? v) : 0
                        }
                    }
                }
            }
        }
    }

    /// Packs the kernel of the *transposed* convolution (stride 1) that maps output gradients
    /// back to inputs: `W'[(ky', kx', o), c] = W[o, c, kh−1−ky', kw−1−kx']`, in panels of
    /// `nr` input channels.
    static func packTransposedWeights<S: TensorScalar>(_ w: UnsafePointer<S>, outChannels o: Int, inChannels c: Int,
                                                       kernelH kh: Int, kernelW kw: Int, nr: Int,
                                                       into out: UnsafeMutablePointer<S>) {
        let k = kh * kw * o, panels = (c + nr - 1) / nr
        for panel in 0..<panels {
            let base = out + panel * k * nr
            for ky in 0..<kh {
                for kx in 0..<kw {
                    for oc in 0..<o {
                        let row = base + ((ky * kw + kx) * o + oc) * nr
                        for col in 0..<nr {
                            let ch = panel * nr + col
                            row[col] = ch < c ? w[((oc * c + ch) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] : 0
                        }
                    }
                }
            }
        }
    }

    /// Packs `Wᵀ` for the scattered input gradient: panels of `nr` reduction indices,
    /// `out[panel][o][col] = W[o, c, ky, kx]` for `k = panel·nr + col = (ky, kx, c)`.
    static func packReductionPanels<S: TensorScalar>(_ w: UnsafePointer<S>, outChannels o: Int, inChannels c: Int,
                                                     kernelH kh: Int, kernelW kw: Int, nr: Int,
                                                     into out: UnsafeMutablePointer<S>) {
        let k = kh * kw * c, panels = (k + nr - 1) / nr
        for panel in 0..<panels {
            for oc in 0..<o {
                let row = out + (panel * o + oc) * nr
                for col in 0..<nr {
                    let idx = panel * nr + col
                    if idx < k {
                        let tap = idx / c, ch = idx - tap * c
                        let ky = tap / kw, kx = tap - ky * kw
                        row[col] = w[((oc * c + ch) * kh + ky) * kw + kx]
                    } else {
                        row[col] = 0
                    }
                }
            }
        }
    }
}
