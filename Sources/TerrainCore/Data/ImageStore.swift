/// The pixels of an image data set, kept in the file's own element type (uint8, float32 or
/// float64) and, wherever the format allows, memory-mapped from the file so that the worker
/// processes of a node share one copy (see ``MappedFile``).
///
/// Samples are records of a fixed byte stride in one or more segments (CIFAR's batch files,
/// an NPZ member, a decompressed cache file); a record holds `C·H·W` elements in `nchw`
/// order (channel planes, as CIFAR and PyTorch) or `nhwc` order (interleaved, as Keras and
/// `torchvision.datasets.CIFAR10.data`). ``gather(_:augmentation:into:)`` turns any list of
/// samples into a normalized `[n, C, H, W]` batch on the fly; no float copy of the whole set
/// is ever made.
public final class ImageStore: @unchecked Sendable {
    /// The stored element type.
    public enum Element: String, Sendable {
        case uint8, float32, float64

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8: return 1
            case .float32: return 4
            case .float64: return 8
            }
        }
    }

    /// The element order within a record.
    public enum Layout: String, Sendable, Codable, CaseIterable {
        /// Channel planes: element `(c, h, w)` at `(c·H + h)·W + w`.
        case nchw
        /// Interleaved channels: element `(c, h, w)` at `(h·W + w)·C + c`.
        case nhwc
    }

    /// A run of records in memory.
    public struct Segment: @unchecked Sendable {
        /// The first pixel element of the first record.
        public var base: UnsafeRawPointer
        /// Records in the run.
        public var count: Int
        /// Bytes from one record's first pixel to the next's.
        public var stride: Int

        /// Creates a segment.
        public init(base: UnsafeRawPointer, count: Int, stride: Int) {
            self.base = base
            self.count = count
            self.stride = stride
        }
    }

    /// Samples in the store.
    public let count: Int
    /// Channels, height and width of a sample.
    public let channels: Int, height: Int, width: Int
    /// The stored element type.
    public let element: Element
    /// The record layout.
    public let layout: Layout
    /// How raw values become inputs.
    public let normalization: ImageNormalization
    /// Whether the pixels are memory-mapped from files (shared between processes) rather
    /// than held in this process's own memory.
    public let isMapped: Bool
    /// Bytes of pixel data the store addresses (mapped or owned).
    public let pixelBytes: Int

    private let segments: [Segment]
    private let starts: [Int]
    private let owners: [AnyObject]
    private let lut: [Double]

    /// Creates a store over `segments`, kept alive by `owners` (``MappedFile``s or owned
    /// buffers).
    /// - Throws: ``TerrainError/invalidData(_:)`` when a segment's stride is smaller than a
    ///   record or a dimension is not positive.
    public init(segments: [Segment], owners: [AnyObject], element: Element, layout: Layout,
                channels: Int, height: Int, width: Int, normalization: ImageNormalization, isMapped: Bool) throws {
        guard channels > 0, height > 0, width > 0 else {
            throw TerrainError.invalidData("images must have positive channels, height and width, got [\(channels), \(height), \(width)]")
        }
        let (plane, o1) = height.multipliedReportingOverflow(by: width)
        let (pixels, o2) = plane.multipliedReportingOverflow(by: channels)
        let (recordBytes, o3) = pixels.multipliedReportingOverflow(by: element.size)
        guard !o1, !o2, !o3 else { throw TerrainError.invalidData("image shape [\(channels), \(height), \(width)] is too large") }
        var starts = [Int](), total = 0, bytes = 0
        for s in segments {
            guard s.count >= 0, s.stride >= recordBytes else {
                throw TerrainError.invalidData("image records of \(recordBytes) bytes do not fit a stride of \(s.stride)")
            }
            starts.append(total)
            total += s.count
            bytes += s.count * recordBytes
        }
        guard normalization.mean.count == channels, normalization.std.count == channels else {
            throw TerrainError.invalidData("normalization has \(normalization.mean.count) means for \(channels) channels")
        }
        self.segments = segments
        self.starts = starts
        self.owners = owners
        self.count = total
        self.channels = channels
        self.height = height
        self.width = width
        self.element = element
        self.layout = layout
        self.normalization = normalization
        self.isMapped = isMapped
        self.pixelBytes = bytes
        var lut = [Double]()
        if element == .uint8 {
            lut.reserveCapacity(channels * 256)
            for c in 0..<channels { for v in 0..<256 { lut.append(normalization.apply(Double(v), channel: c)) } }
        }
        self.lut = lut
    }

    /// The shape of one sample, `[C, H, W]`.
    public var sampleShape: [Int] { [channels, height, width] }

    /// The first pixel element of sample `index` (precondition: `0 ≤ index < count`).
    @inline(__always)
    func record(_ index: Int) -> UnsafeRawPointer {
        precondition(index >= 0 && index < count, "image index \(index) outside 0..<\(count)")
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        let s = segments[lo]
        return s.base + (index - starts[lo]) * s.stride
    }

    /// The raw stored value of element `(c, h, w)` of sample `index`, as a `Double`.
    public func raw(_ index: Int, _ c: Int, _ h: Int, _ w: Int) -> Double {
        load(record(index), offset(c, h, w))
    }

    @inline(__always)
    private func offset(_ c: Int, _ h: Int, _ w: Int) -> Int {
        layout == .nchw ? (c * height + h) * width + w : (h * width + w) * channels + c
    }

    @inline(__always)
    private func load(_ p: UnsafeRawPointer, _ element: Int) -> Double {
        switch self.element {
        case .uint8: return Double(p.load(fromByteOffset: element, as: UInt8.self))
        case .float32:
            return Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: element * 4, as: UInt32.self))))
        case .float64:
            return Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: element * 8, as: UInt64.self)))
        }
    }

    @inline(__always)
    private func value(_ p: UnsafeRawPointer, _ element: Int, channel c: Int) -> Double {
        if self.element == .uint8 { return lut[c &* 256 &+ Int(p.load(fromByteOffset: element, as: UInt8.self))] }
        return normalization.apply(load(p, element), channel: c)
    }

    /// Writes samples `indices` (store indices) normalized as `[n, C, H, W]` into `out`
    /// (which must hold `n·C·H·W` elements), augmented when `augmentation` is given (see
    /// ``ImageAugmentation``; the draw uses each sample's store index).
    @_specialize(where S == Float) @_specialize(where S == Double)
    public func gather<S: TensorScalar>(_ indices: [Int],
                                        augmentation: (ImageAugmentation, seed: UInt64, epoch: Int)? = nil,
                                        into out: UnsafeMutableBufferPointer<S>) {
        let C = channels, H = height, W = width, plane = H * W
        precondition(out.count == indices.count * C * plane, "gather: output holds \(out.count) elements, needs \(indices.count * C * plane)")
        let pad = (0..<C).map { S(normalization.apply(0, channel: $0)) }
        var k = 0
        for index in indices {
            let rec = record(index)
            var p = 0, i = 0, j = 0, flip = false
            if let (aug, seed, epoch) = augmentation, !aug.isIdentity {
                p = aug.crop
                (i, j, flip) = aug.draw(seed: seed, epoch: epoch, index: index)
            }
            let dst = out.baseAddress! + k * C * plane
            if p == 0 && !flip && layout == .nchw {
                for c in 0..<C {
                    let o = c * plane
                    for e in 0..<plane { dst[o + e] = S(value(rec, o + e, channel: c)) }
                }
            } else {
                for c in 0..<C {
                    for h in 0..<H {
                        let row = dst + (c * H + h) * W
                        let sh = h + i - p
                        guard sh >= 0 && sh < H else {
                            for w in 0..<W { row[w] = pad[c] }
                            continue
                        }
                        for w in 0..<W {
                            let sw = (flip ? W - 1 - w : w) + j - p
                            row[w] = sw >= 0 && sw < W ? S(value(rec, offset(c, sh, sw), channel: c)) : pad[c]
                        }
                    }
                }
            }
            k += 1
        }
    }

    /// Samples `indices` as a normalized `[n, C, H, W]` tensor (see
    /// ``gather(_:augmentation:into:)``).
    public func tensor<S: TensorScalar>(_ indices: [Int],
                                        augmentation: (ImageAugmentation, seed: UInt64, epoch: Int)? = nil,
                                        as: S.Type = S.self) -> Tensor<S> {
        Tensor<S>(shape: [indices.count, channels, height, width]) { out in
            gather(indices, augmentation: augmentation, into: out)
        }
    }
}
