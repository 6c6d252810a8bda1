import Foundation

/// One tensor read from or written to a safetensors file, in its stored element type.
public struct StoredTensor: Sendable, Equatable {
    /// The safetensors dtype tag: `F64`, `F32`, `F16`, `BF16`, `I64`, `I32`, `I16`, `I8`, `U8`, `BOOL`.
    public var dtype: String
    /// The shape (`[]` for a scalar).
    public var shape: [Int]
    /// The raw little-endian bytes.
    public var bytes: [UInt8]

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// A tensor stored in `Scalar`'s own dtype, bit-exact.
    public init<Scalar: TensorScalar>(_ tensor: Tensor<Scalar>) {
        dtype = Scalar.safetensorsDType
        shape = tensor.shape
        bytes = tensor.storage.withUnsafeBytes { Array($0) }
    }

    /// A 64-bit integer tensor.
    public init(int64 values: [Int64], shape: [Int]) {
        dtype = "I64"
        self.shape = shape
        bytes = values.withUnsafeBytes { Array($0) }
    }

    /// Creates a stored tensor from raw parts.
    public init(dtype: String, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// The elements converted to `Scalar` (exact for F32→F32 and F64→F64; integers and
    /// half-precision types are converted by value). Throws on an unknown dtype.
    public func values<Scalar: TensorScalar>(as: Scalar.Type = Scalar.self) throws -> [Scalar] {
        func load<T>(_ t: T.Type, _ f: (T) -> Scalar) -> [Scalar] {
            bytes.withUnsafeBytes { raw in (0..<count).map { f(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) } }
        }
        switch dtype {
        case "F32": return load(Float.self) { Scalar($0) }
        case "F64": return load(Double.self) { Scalar($0) }
        case "F16": return load(UInt16.self) { Scalar(Float(Float16(bitPattern: $0))) }
        case "BF16": return load(UInt16.self) { Scalar(Float(bitPattern: UInt32($0) << 16)) }
        case "I64": return load(Int64.self) { Scalar($0) }
        case "I32": return load(Int32.self) { Scalar($0) }
        case "I16": return load(Int16.self) { Scalar($0) }
        case "I8": return load(Int8.self) { Scalar($0) }
        case "U8", "BOOL": return load(UInt8.self) { Scalar($0) }
        default: throw TerrainError.invalidCheckpoint("unsupported dtype \(dtype)")
        }
    }

    /// The elements as a tensor of `Scalar`.
    public func tensor<Scalar: TensorScalar>(as: Scalar.Type = Scalar.self) throws -> Tensor<Scalar> {
        Tensor(shape: shape, storage: try values(as: Scalar.self))
    }

    /// The elements as integers (for label tensors).
    public func integers() throws -> [Int] {
        try values(as: Double.self).map { Int($0) }
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "I8", "U8", "BOOL": return 1
        default: return nil
        }
    }
}

/// The safetensors file format (Hugging Face): an 8-byte little-endian header length N,
/// N bytes of JSON header `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …,
/// "__metadata__": {string: string}}`, then the raw little-endian tensor data.
///
/// Terrain writes the header padded with spaces to an 8-byte boundary, then the tensors back
/// to back with no gap (the `safetensors` package refuses files whose data has holes),
/// largest element size first and by name within a size, so every tensor starts at a
/// multiple of its element size — the order the `safetensors` package itself writes. Files
/// written by that package (and so by PyTorch users) read back here.
public enum SafeTensors {
    /// Serializes tensors and string metadata.
    public static func encode(_ tensors: [String: StoredTensor], metadata: [String: String] = [:]) -> [UInt8] {
        var header = [String]()
        if !metadata.isEmpty {
            let items = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            header.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var data = [UInt8]()
        let size = { (name: String) in StoredTensor.elementSize(tensors[name]!.dtype) ?? 1 }
        for name in tensors.keys.sorted(by: { (size($0), $1) > (size($1), $0) }) {
            let t = tensors[name]!
            let begin = data.count
            data.append(contentsOf: t.bytes)
            header.append("\(jsonString(name)):{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(data.count)]}")
        }
        var json = Array("{\(header.joined(separator: ","))}".utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + data.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        out.append(contentsOf: data)
        return out
    }

    /// Parses a safetensors buffer. `source` names the file in error messages.
    ///
    /// Throws ``TerrainError/invalidCheckpoint(_:)`` on a truncated file, an unreadable
    /// header, an unknown dtype, offsets outside the data or a size that does not match the
    /// shape.
    public static func decode(_ bytes: [UInt8], source: String) throws -> (tensors: [String: StoredTensor], metadata: [String: String]) {
        func fail(_ m: String) -> TerrainError { .invalidCheckpoint("\(source): \(m)") }
        guard bytes.count >= 8 else { throw fail("file is \(bytes.count) bytes, too short for a safetensors header") }
        let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(bytes.count - 8), n <= 100_000_000 else {
            throw fail("header length \(n) exceeds the file size \(bytes.count) (truncated or not a safetensors file)")
        }
        let headerBytes = Data(bytes[8 ..< 8 + Int(n)])
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataStart = 8 + Int(n)
        let dataCount = bytes.count - dataStart
        var tensors = [String: StoredTensor]()
        var metadata = [String: String]()
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw fail("__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any],
                  offsetsAny.count == 2
            else { throw fail("tensor \(name): entry needs dtype, shape and data_offsets") }
            let shape = try shapeAny.map { v -> Int in
                guard let i = (v as? NSNumber)?.intValue, i >= 0 else { throw fail("tensor \(name): bad shape \(shapeAny)") }
                return i
            }
            let offsets = try offsetsAny.map { v -> Int in
                guard let i = (v as? NSNumber)?.intValue, i >= 0 else { throw fail("tensor \(name): bad data_offsets") }
                return i
            }
            guard let size = StoredTensor.elementSize(dtype) else { throw fail("tensor \(name): unsupported dtype \(dtype)") }
            guard offsets[0] <= offsets[1], offsets[1] <= dataCount else {
                throw fail("tensor \(name): data_offsets \(offsets) outside the \(dataCount)-byte data section (truncated file?)")
            }
            guard offsets[1] - offsets[0] == shape.reduce(1, *) * size else {
                throw fail("tensor \(name): \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtype)")
            }
            tensors[name] = StoredTensor(dtype: dtype, shape: shape,
                                         bytes: Array(bytes[dataStart + offsets[0] ..< dataStart + offsets[1]]))
        }
        return (tensors, metadata)
    }

    /// Reads and parses a file.
    public static func read(contentsOf path: String) throws -> (tensors: [String: StoredTensor], metadata: [String: String]) {
        try decode(try readBytes(path), source: path)
    }

    /// A file's bytes. Throws ``TerrainError/invalidCheckpoint(_:)`` naming it when it is missing or unreadable.
    public static func readBytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TerrainError.invalidCheckpoint("\(path): cannot read the file (missing or unreadable)")
        }
        return [UInt8](data)
    }

    /// Writes a file atomically (write to a temporary name, then rename).
    public static func write(_ tensors: [String: StoredTensor], metadata: [String: String] = [:], to path: String) throws {
        try write(bytes: encode(tensors, metadata: metadata), to: path)
    }

    /// Writes already-encoded bytes (``encode(_:metadata:)``) atomically.
    public static func write(bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TerrainError.invalidArgument("\(path): cannot write the checkpoint: \(error.localizedDescription)")
        }
    }

    /// `s` as a JSON string literal: quotes, backslashes and control characters escaped,
    /// everything else kept as UTF-8.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
