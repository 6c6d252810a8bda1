/// Keeps large freed blocks in the process instead of returning them to the kernel.
///
/// A training step or an evaluation chunk allocates and frees the same activation-sized
/// arrays (megabytes each) every time. With glibc's defaults, blocks that large are
/// `mmap`ped and unmapped on every call, so each use pays page faults and the kernel's
/// zero-filling of every page (a fifth of a ResNet evaluation's time in a profile).
/// Raising the mmap and trim thresholds lets `malloc` reuse the same warm memory. Memory is
/// not leaked: freed blocks are reused by the next allocation; the process's peak stays
/// what the largest step needs. Applied once per process, by the first model built.
enum AllocatorTuning {
    static let applied: Void = {
        #if os(Linux)
        // glibc's <malloc.h> parameters (not exported by Swift's Glibc module).
        let trimThreshold: Int32 = -1, topPad: Int32 = -2, mmapThreshold: Int32 = -3
        _ = glibcMallopt(mmapThreshold, 256 << 20)
        _ = glibcMallopt(trimThreshold, 1 << 30)
        _ = glibcMallopt(topPad, 64 << 20)
        #endif
    }()
}

#if os(Linux)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
