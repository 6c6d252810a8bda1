import TerrainDataset
import TerrainProtocol
import TerrainSweeps

/// What the shell needs to dispatch a task and store its result: each task's kind, parameters,
/// dependencies and fixed inputs, by id (ids are dense, 1…n).
struct TaskTable {
    struct Entry {
        var kind: any TaskKind
        var params: [UInt8]
        var dependencies: [UInt64]
        var staticInputs: [(name: String, hash: [UInt8])]
    }

    private let entries: [Entry]

    /// Builds the table; throws ``DatasetError`` naming the file for ids that are not 1…n or
    /// kinds this build does not know.
    init(_ tasks: [StoredTask], staticInputs: [UInt64: [(name: String, hash: [UInt8])]], kinds: [String: any TaskKind], path: String) throws {
        let sorted = tasks.sorted { $0.id < $1.id }
        guard sorted.enumerated().allSatisfy({ $0.element.id == UInt64($0.offset + 1) }) else {
            throw DatasetError.io("\(path): task ids are not 1…\(tasks.count)")
        }
        entries = try sorted.map { t in
            guard let kind = kinds[t.kind] else {
                throw DatasetError.io("\(path): task kind '\(t.kind)' is not built into this coordinator (it knows \(kinds.keys.sorted().joined(separator: ", ")))")
            }
            return Entry(kind: kind, params: t.params, dependencies: t.dependencies, staticInputs: staticInputs[t.id] ?? [])
        }
    }

    /// Number of tasks.
    var count: Int { entries.count }

    /// The entry of task `id`; an id the scheduler could not have produced is a programming error.
    subscript(id: UInt64) -> Entry {
        precondition(id >= 1 && id <= UInt64(entries.count), "task \(id) is not in 1…\(entries.count)")
        return entries[Int(id) - 1]
    }
}
