import Foundation

/// Terrain's deterministic random number generator: Philox4x32-10 (Salmon et al., "Parallel
/// random numbers: as easy as 1, 2, 3", SC 2011), a counter-based generator.
///
/// A stream is identified by a 64-bit `seed` (the Philox key) and a 64-bit `stream` number
/// (the upper half of the counter); the lower half of the counter is the block position.
/// Every (seed, stream, position) triple maps to the same numbers on every machine and in
/// every worker, so a task can regenerate exactly the randomness another worker used, and
/// can jump to any position without generating the ones before it.
///
/// Never use the system generator in Terrain: results must depend only on specs and seeds.
public struct TerrainRNG: Sendable, RandomNumberGenerator {
    /// The key: the user-visible seed.
    public let seed: UInt64
    /// Which independent stream of this seed (upper 64 bits of the counter).
    public let stream: UInt64
    /// The index of the next 128-bit block to generate.
    public private(set) var position: UInt64
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var buffered = 0
    private var spareNormal: Double?

    /// Creates the generator for `(seed, stream)`, starting at block `position`.
    public init(seed: UInt64, stream: UInt64 = 0, position: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.position = position
    }

    /// The Philox4x32-10 bijection: encrypts a 128-bit counter under a 64-bit key.
    public static func philox(
        counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)
    ) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
            if round < 9 {
                k0 = k0 &+ 0x9E37_79B9
                k1 = k1 &+ 0xBB67_AE85
            }
        }
        return (c0, c1, c2, c3)
    }

    private mutating func refill() {
        let counter = (UInt32(truncatingIfNeeded: position), UInt32(truncatingIfNeeded: position >> 32),
                       UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
        buffer = Self.philox(counter: counter,
                             key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
        position &+= 1
        buffered = 4
    }

    /// The next 32 uniformly distributed bits.
    public mutating func nextUInt32() -> UInt32 {
        if buffered == 0 { refill() }
        buffered -= 1
        switch buffered {
        case 3: return buffer.0
        case 2: return buffer.1
        case 1: return buffer.2
        default: return buffer.3
        }
    }

    /// The next 64 uniformly distributed bits (two 32-bit outputs, low word first).
    public mutating func next() -> UInt64 {
        let lo = UInt64(nextUInt32())
        let hi = UInt64(nextUInt32())
        return lo | (hi << 32)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform double in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * uniform()
    }

    /// A uniform integer in 0..<bound without modulo bias (Lemire's method).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(\(bound)): the bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// A standard normal deviate (Box–Muller in `Double`; both values of a pair are used).
    public mutating func normal() -> Double {
        if let z = spareNormal {
            spareNormal = nil
            return z
        }
        let u1 = 1.0 - uniform()  // (0, 1]
        let u2 = uniform()
        let r = (-2.0 * Foundation.log(u1)).squareRoot()
        let theta = 2.0 * Double.pi * u2
        spareNormal = r * Foundation.sin(theta)
        return r * Foundation.cos(theta)
    }

    /// `count` standard normal deviates, rounded to `T`.
    public mutating func normals<T: TensorScalar>(_ count: Int, mean: Double = 0, std: Double = 1) -> [T] {
        (0..<count).map { _ in T(mean + std * normal()) }
    }

    /// `count` uniform deviates in [low, high), rounded to `T`.
    public mutating func uniforms<T: TensorScalar>(_ count: Int, low: Double, high: Double) -> [T] {
        (0..<count).map { _ in T(uniform(low, high)) }
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            p.swapAt(i, below(i + 1))
        }
        return p
    }

    /// Derives an independent 64-bit seed from a parent seed and a list of labels
    /// (SplitMix64 finalizer chained over the inputs), for giving every model, layer,
    /// epoch or probe its own stream in a way that does not depend on execution order.
    public static func derive(_ seed: UInt64, _ labels: UInt64...) -> UInt64 {
        var h = seed
        for label in labels {
            h = mix(h ^ mix(label &+ 0x9E37_79B9_7F4A_7C15))
        }
        return mix(h)
    }

    /// Derives a seed from a parent seed and a string label (FNV-1a of the UTF-8 bytes).
    public static func derive(_ seed: UInt64, _ label: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in label.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return derive(seed, h)
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
