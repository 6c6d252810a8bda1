/// Reading the binary versions of CIFAR-10 and CIFAR-100 (Krizhevsky, 2009;
/// https://www.cs.toronto.edu/~kriz/cifar.html).
///
/// A batch file is a sequence of fixed-size records with no header. A CIFAR-10 record is
/// 3073 bytes: the label (0…9), then 3072 pixel bytes — the 1024 red values of the 32×32
/// image in row-major order, then green, then blue (channel planes, `nchw`). A CIFAR-100
/// record is 3074 bytes: the coarse label (0…19), the fine label (0…99), then the same
/// 3072 pixel bytes. Files are memory-mapped and the pixels stay uint8 in the map.
public enum CIFAR {
    /// Which distribution.
    public enum Variant: Sendable {
        case cifar10, cifar100

        /// Label bytes before a record's pixels.
        public var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        /// Bytes per record.
        public var recordSize: Int { labelBytes + 3 * 32 * 32 }
        /// The format's name in specs.
        public var name: String { self == .cifar10 ? "cifar10" : "cifar100" }
    }

    /// Maps the batch `files` (in order) into one image store and reads their labels: the
    /// single label of CIFAR-10, or CIFAR-100's `fine` (default) or `coarse` label.
    ///
    /// - Throws: ``TerrainError/invalidData(_:)`` naming the file for: an unreadable file,
    ///   an empty file, a size that is not a whole number of records (truncated, or the
    ///   other variant's file), or a label byte out of range (naming the record).
    public static func load(files: [String], variant: Variant, coarse: Bool = false,
                            normalization: ImageNormalization) throws -> (store: ImageStore, labels: [Int]) {
        let size = variant.recordSize
        let labelOffset = variant == .cifar100 && !coarse ? 1 : 0
        let classes = variant == .cifar10 ? 10 : (coarse ? 20 : 100)
        var maps = [MappedFile](), segments = [ImageStore.Segment](), labels = [Int]()
        for path in files {
            let f = try MappedFile(path: path)
            guard f.count > 0 else { throw TerrainError.invalidData("\(path): empty file, expected \(variant.name) records of \(size) bytes") }
            guard f.count % size == 0 else {
                let other = variant == .cifar10 ? "cifar100 (3074-byte records)" : "cifar10 (3073-byte records)"
                throw TerrainError.invalidData("\(path): \(f.count) bytes is not a whole number of \(size)-byte \(variant.name) records (truncated, or a file of format \(other)?)")
            }
            let n = f.count / size
            let base = f.bytes.baseAddress!
            labels.reserveCapacity(labels.count + n)
            for r in 0..<n {
                let l = Int(base.load(fromByteOffset: r * size + labelOffset, as: UInt8.self))
                guard l < classes else {
                    let which = variant == .cifar10 ? "label" : (coarse ? "coarse label" : "fine label")
                    throw TerrainError.invalidData("\(path): record \(r) has \(which) \(l), outside 0…\(classes - 1) (not a \(variant.name) file?)")
                }
                labels.append(l)
            }
            segments.append(ImageStore.Segment(base: base + variant.labelBytes, count: n, stride: size))
            maps.append(f)
        }
        let store = try ImageStore(segments: segments, owners: maps, element: .uint8, layout: .nchw,
                                   channels: 3, height: 32, width: 32, normalization: normalization, isMapped: true)
        return (store, labels)
    }

    /// Encodes images and labels as a batch file (for tests and for exporting generated
    /// sets): `pixels` holds `n·3072` bytes in record order (`nchw`), `labels` one (CIFAR-10)
    /// or two (CIFAR-100: coarse, fine) bytes per image.
    public static func encode(pixels: [UInt8], labels: [[UInt8]]) -> [UInt8] {
        let n = labels.count
        precondition(pixels.count == n * 3072, "CIFAR.encode: \(pixels.count) pixel bytes for \(n) images")
        var out = [UInt8]()
        out.reserveCapacity(n * (3072 + (labels.first?.count ?? 1)))
        for i in 0..<n {
            out += labels[i]
            out += pixels[(i * 3072)..<((i + 1) * 3072)]
        }
        return out
    }
}
