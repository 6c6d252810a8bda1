/// Pixel memory owned by this process, for image arrays that cannot be used in place.
final class OwnedPixels: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(floats: [Float]) {
        count = floats.count * 4
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        floats.withUnsafeBytes { if count > 0 { pointer.copyMemory(from: $0.baseAddress!, byteCount: count) } }
    }

    deinit { pointer.deallocate() }
}

extension ImageStore {
    /// The layout of a 4-D array `[N, a, b, c]` when its channel axis is unambiguous: `nhwc`
    /// when only `c` is 1, 3 or 4, `nchw` when only `a` is; `nil` otherwise (then the spec
    /// must say).
    public static func inferLayout(shape: [Int]) -> Layout? {
        guard shape.count == 4 else { return nil }
        let channelLike: Set<Int> = [1, 3, 4]
        switch (channelLike.contains(shape[1]), channelLike.contains(shape[3])) {
        case (true, false): return .nchw
        case (false, true): return .nhwc
        default: return nil
        }
    }

    /// An image store over a 4-D `.npy` array (an NPZ member). C-order little-endian uint8,
    /// float32 and float64 arrays in a map are used in place (shared between processes);
    /// any other dtype or order is converted once into a float32 copy owned by this process.
    ///
    /// - Throws: ``TerrainError/invalidData(_:)`` naming the member when the layout cannot be
    ///   inferred and `layout` is nil, or the array cannot be converted.
    static func npy(_ member: MappedNPZ.Member, layout given: Layout?, scale: Double, normalize: DataSpec.Normalize?,
                    source: String) throws -> ImageStore {
        let h = try member.header()
        precondition(h.shape.count == 4, "ImageStore.npy: not a 4-D array")
        guard let layout = given ?? inferLayout(shape: h.shape) else {
            throw TerrainError.invalidData("\(source): cannot tell the channel axis of image array \(h.shape); set data.layout: nchw or nhwc")
        }
        let (n, c, height, width) = layout == .nchw ? (h.shape[0], h.shape[1], h.shape[2], h.shape[3])
                                                    : (h.shape[0], h.shape[3], h.shape[1], h.shape[2])
        guard c > 0, height > 0, width > 0 else {
            throw TerrainError.invalidData("\(source): image array \(h.shape) has an empty channel, height or width axis")
        }
        let (plane, o1) = height.multipliedReportingOverflow(by: width)
        let (pixels, o2) = plane.multipliedReportingOverflow(by: c)
        let (_, o3) = pixels.multipliedReportingOverflow(by: 8)  // the widest element
        guard !o1, !o2, !o3 else { throw TerrainError.invalidData("\(source): image array \(h.shape) is too large") }
        let normalization = try ImageNormalization(scale: scale, mean: normalize?.mean ?? [], std: normalize?.std ?? [], channels: c)
        let element: Element?
        switch h.type {
        case .u1: element = .uint8
        case .f4: element = h.bigEndian ? nil : .float32
        case .f8: element = h.bigEndian ? nil : .float64
        default: element = nil
        }
        let inPlace = !(h.fortranOrder && h.count > 1 && h.shape.filter { $0 > 1 }.count > 1)
        if case .mapped(_, let npy, let owner, _) = member, let element, inPlace {
            let stride = pixels * element.size
            let base = npy.baseAddress! + h.dataStart
            return try ImageStore(segments: [Segment(base: base, count: n, stride: stride)], owners: [owner],
                                  element: element, layout: layout, channels: c, height: height, width: width,
                                  normalization: normalization, isMapped: true)
        }
        let floats: [Float]
        do { floats = try member.array().asFloats() } catch let e as TerrainError {
            throw TerrainError.invalidData("\(source): \(e.description)")
        }
        let owned = OwnedPixels(floats: floats)
        return try ImageStore(segments: [Segment(base: UnsafeRawPointer(owned.pointer), count: n, stride: pixels * 4)],
                              owners: [owned], element: .float32, layout: layout, channels: c, height: height, width: width,
                              normalization: normalization, isMapped: false)
    }
}
