#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-thread scratch memory for the kernels (GEMM's packed panels, convolution tiles):
/// allocated once per thread and slot, grown when a larger size is asked for, never
/// returned to the system while the thread lives. Reusing it avoids what fresh large
/// allocations cost on Linux (an `mmap`, page faults and zero-filling on every call).
///
/// Not shared between threads; a buffer handed out stays valid until the same thread asks
/// for the same slot again.
final class GEMMWorkspace {
    private var buffers: [UnsafeMutableRawPointer?] = Array(repeating: nil, count: 8)
    private var sizes: [Int] = Array(repeating: 0, count: 8)

    /// The calling thread's workspace.
    static var current: GEMMWorkspace {
        if let raw = pthread_getspecific(key) {
            return Unmanaged<GEMMWorkspace>.fromOpaque(raw).takeUnretainedValue()
        }
        let w = GEMMWorkspace()
        pthread_setspecific(key, Unmanaged.passRetained(w).toOpaque())
        return w
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let status = pthread_key_create(&k) { raw in
            guard let raw else { return }
            Unmanaged<GEMMWorkspace>.fromOpaque(raw).release()
        }
        precondition(status == 0, "pthread_key_create failed (\(status))")
        return k
    }()

    /// A buffer of at least `count` elements of `T` for `slot` (0..<8), 64-byte aligned.
    /// Its contents are unspecified.
    func buffer<T>(_: T.Type, slot: Int, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        if sizes[slot] < bytes {
            free(buffers[slot])
            var p: UnsafeMutableRawPointer? = nil
            let status = posix_memalign(&p, 64, bytes)
            precondition(status == 0 && p != nil, "out of memory allocating \(bytes) bytes of kernel workspace")
            buffers[slot] = p
            sizes[slot] = bytes
        }
        return buffers[slot]!.bindMemory(to: T.self, capacity: max(count, 1))
    }

    deinit {
        for p in buffers { free(p) }
    }
}
