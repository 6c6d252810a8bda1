/// Which artifacts a worker holds, their sizes and age: the byte-bounded cache's policy (the
/// shell keeps the bytes). The oldest artifact goes first when the budget is exceeded, except
/// one a held task still needs, and the newest always stays.
struct ArtifactIndex: Sendable, Equatable {
    /// The byte budget.
    let budget: Int
    private var sizes: [[UInt8]: Int] = [:]
    private var order: [[UInt8]] = []
    /// Bytes held.
    private(set) var bytes = 0

    init(budget: Int) { self.budget = budget }

    /// Whether the artifact is held.
    func contains(_ hash: [UInt8]) -> Bool { sizes[hash] != nil }

    /// Records a new artifact and returns the ones to drop to stay within budget, never one in
    /// `pinned`. An artifact already held is not added again.
    mutating func insert(_ hash: [UInt8], size: Int, pinned: Set<[UInt8]>) -> [[UInt8]] {
        guard sizes[hash] == nil else { return [] }
        sizes[hash] = size
        order.append(hash)
        bytes += size
        var evicted = [[UInt8]]()
        var i = 0
        while bytes > budget, i < order.count - 1 {
            let old = order[i]
            if pinned.contains(old) { i += 1; continue }
            order.remove(at: i)
            bytes -= sizes.removeValue(forKey: old) ?? 0
            evicted.append(old)
        }
        return evicted
    }
}
