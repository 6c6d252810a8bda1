/// Layout moves between PyTorch's channels-first tensors (`[N, C, H, W]`, how data sets and
/// checkpoints arrive) and the channels-last buffers the convolution kernels work on
/// (`[N, H, W, C]`, optionally inside a zero border). Plain copies: no arithmetic, so they
/// cannot change a value.
public enum ChannelsLast {
    /// Copies `[N, H, W, C]` (or `[N, C, H, W]` when `channelsFirst`) into the interior of a
    /// `[N, H + 2·padH, W + 2·padW, C]` buffer. When `zeroBorder`, the border is set to zero
    /// first (a reused buffer of the same geometry keeps its zero border).
    public static func pad<T: TensorScalar>(
        _ src: UnsafePointer<T>, channelsFirst: Bool, n: Int, h: Int, w: Int, c: Int, padH: Int, padW: Int,
        into dst: UnsafeMutablePointer<T>, zeroBorder: Bool
    ) {
        let hp = h + 2 * padH, wp = w + 2 * padW
        if zeroBorder && (padH > 0 || padW > 0) {
            for b in 0..<n {
                let image = dst + b * hp * wp * c
                image.update(repeating: 0, count: padH * wp * c)
                (image + (padH + h) * wp * c).update(repeating: 0, count: padH * wp * c)
                for y in padH..<(padH + h) {
                    let row = image + y * wp * c
                    row.update(repeating: 0, count: padW * c)
                    (row + (padW + w) * c).update(repeating: 0, count: padW * c)
                }
            }
        }
        for b in 0..<n {
            for y in 0..<h {
                let row = dst + ((b * hp + y + padH) * wp + padW) * c
                if channelsFirst {
                    for x in 0..<w {
                        for ch in 0..<c { row[x * c + ch] = src[((b * c + ch) * h + y) * w + x] }
                    }
                } else {
                    row.update(from: src + (b * h + y) * w * c, count: w * c)
                }
            }
        }
    }

    /// The interior `[N, H, W, C]` of a padded buffer, as channels-last (or channels-first
    /// when `channelsFirst`) elements.
    public static func unpad<T: TensorScalar>(
        _ src: UnsafePointer<T>, n: Int, h: Int, w: Int, c: Int, padH: Int, padW: Int,
        channelsFirst: Bool, into dst: UnsafeMutablePointer<T>
    ) {
        let hp = h + 2 * padH, wp = w + 2 * padW
        for b in 0..<n {
            for y in 0..<h {
                let row = src + ((b * hp + y + padH) * wp + padW) * c
                if channelsFirst {
                    for x in 0..<w {
                        for ch in 0..<c { dst[((b * c + ch) * h + y) * w + x] = row[x * c + ch] }
                    }
                } else {
                    (dst + (b * h + y) * w * c).update(from: row, count: w * c)
                }
            }
        }
    }

    /// `[N, C, S]` → `[N, S, C]` (or back with `inverse`), `S` the spatial size.
    public static func transpose<T: TensorScalar>(_ x: [T], n: Int, c: Int, spatial s: Int, inverse: Bool = false) -> [T] {
        precondition(x.count == n * c * s, "transpose: \(x.count) elements for [\(n), \(c), \(s)]")
        return [T](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { src in
                for b in 0..<n {
                    let base = b * c * s
                    for ch in 0..<c {
                        for t in 0..<s {
                            if inverse { out[base + ch * s + t] = src[base + t * c + ch] } else { out[base + t * c + ch] = src[base + ch * s + t] }
                        }
                    }
                }
            }
            initialized = x.count
        }
    }
}
