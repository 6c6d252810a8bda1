import Foundation
import TerrainCore

/// A sweep's data files served by its coordinator, so that workers need no shared filesystem
/// (deploy/README.md, "Data files without a shared filesystem").
///
/// When a network sweep is created, the coordinator stores each data file (up to
/// ``maxBytes``) in the dataset as a content-addressed artifact and gives every task a fixed
/// input `file:<absolute path>` naming its SHA-256. A worker fetches it once, keeps it on its
/// local disk under its hash (or uses the file at the original path when that has the same
/// bytes: a shared filesystem stays the fast option), and hands the compute the local path in
/// place of the bytes. ``TaskKind``'s `run(task:…)` takes those inputs out of the list the kind
/// sees and runs the task with ``local`` set, which ``NetworkParams/loadData()`` applies to the
/// data section's paths.
public enum DataFiles {
    /// The name prefix of a data-file input.
    public static let inputPrefix = "file:"
    /// The largest file served (one wire frame); larger ones must be at the same path on workers.
    public static let maxBytes = 256 * 1024 * 1024 - 4096

    /// Original path → local path of the data files of the task running on this thread.
    @TaskLocal public static var local: [String: String] = [:]

    /// The original path a data-file input names, or `nil` for another input.
    public static func path(ofInput name: String) -> String? {
        name.hasPrefix(inputPrefix) ? String(name.dropFirst(inputPrefix.count)) : nil
    }

    /// Splits a task's inputs into the data-file map (original → local path, the inputs' bytes
    /// being the local path) and the others.
    static func split(_ inputs: [TaskInput]) -> (files: [String: String], rest: [TaskInput]) {
        var files = [String: String]()
        var rest = [TaskInput]()
        for i in inputs {
            if i.task == 0, let original = path(ofInput: i.name) { files[original] = String(decoding: i.data, as: UTF8.self) } else { rest.append(i) }
        }
        return (files, rest)
    }

    /// The data files of a sweep to serve: its network's files that fit in a frame and whose
    /// input name fits the wire's 255 bytes, each with its bytes and SHA-256.
    public static func served(by spec: SweepSpec) throws -> [(path: String, hash: [UInt8], data: [UInt8])] {
        guard let network = (spec.family as? any NetworkSweepKind)?.network else { return [] }
        var out = [(path: String, hash: [UInt8], data: [UInt8])]()
        for (field, path) in network.data.files where (inputPrefix + path).utf8.count <= 255 {
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil, size <= maxBytes else { continue }
            let bytes: [UInt8]
            do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
                throw SpecError(file: spec.source, message: "\(field): \(path): cannot read the file (\(error.localizedDescription))")
            }
            out.append((path, SHA256.hash(bytes), bytes))
        }
        return out
    }
}

extension DataSpec {
    /// This data section read from the worker's copies of the files the coordinator served
    /// (``DataFiles/local``), for the task running on this thread.
    public var withLocalFiles: DataSpec {
        let local = DataFiles.local
        return local.isEmpty ? self : mappingFiles { local[$0] ?? $0 }
    }

    /// This data section with every file path passed through `map` (CIFAR batches become
    /// explicit `train_files`/`test_files`).
    public func mappingFiles(_ map: (String) -> String) -> DataSpec {
        var s = self
        if isCIFAR {
            let f = cifarFiles
            s.trainFiles = f.train.map(map)
            s.testFiles = f.test.map(map)
            return s
        }
        s.path = path.map(map)
        s.trainImages = trainImages.map(map)
        s.trainLabels = trainLabels.map(map)
        s.testImages = testImages.map(map)
        s.testLabels = testLabels.map(map)
        return s
    }
}
