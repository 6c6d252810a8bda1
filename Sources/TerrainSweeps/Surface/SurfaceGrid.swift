import Foundation
import TerrainCore

extension SurfaceSpec {
    /// Assembles task outputs into one array per metric (row-major, x fastest), NaN where a
    /// point has no result yet.
    public static func assemble(points: Int, metrics: Int, outputs: [(params: [UInt8], output: [UInt8])]) throws -> [[Double]] {
        var grid = [[Double]](repeating: [Double](repeating: .nan, count: points), count: metrics)
        let decoder = JSONDecoder()
        for (paramBytes, output) in outputs {
            // Other task kinds of the sweep (curvature) have other parameters: skip them.
            guard let p = try? decoder.decode(SurfaceKind.Tile.self, from: Data(paramBytes)) else { continue }
            guard p.problem == nil, p.end <= points else {
                throw TerrainError.invalidData("a surface task's parameters cover points \(p.start)..<\(p.end), outside the grid of \(points)")
            }
            let values = decodeOutput(output)
            guard values.count == (p.end - p.start) * metrics else {
                throw TerrainError.invalidData("a surface result has \(values.count) values; expected \((p.end - p.start) * metrics)")
            }
            for k in 0..<(p.end - p.start) {
                for m in 0..<metrics { grid[m][p.start + k] = values[k * metrics + m] }
            }
        }
        return grid
    }

    /// Little-endian Float64 values of a surface task's output.
    public static func decodeOutput(_ bytes: [UInt8]) -> [Double] {
        stride(from: 0, to: bytes.count - bytes.count % 8, by: 8).map { i in
            var bits: UInt64 = 0
            for j in 0..<8 { bits |= UInt64(bytes[i + j]) << (8 * UInt64(j)) }
            return Double(bitPattern: bits)
        }
    }
}
