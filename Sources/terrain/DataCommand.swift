import ArgumentParser
import Foundation
import TerrainCore
import TerrainSweeps

/// `terrain data shapes` and `terrain data info`.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Generate and inspect data sets.", subcommands: [Shapes.self, Info.self])

    /// `terrain data shapes --train N --test M --seed S --output FILE`.
    struct Shapes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the procedural 32×32 RGB shapes set (10 classes, CIFAR-shaped) as NPZ or CIFAR-10 binary files.",
            discussion: """
            npz (default): x_train/x_test uint8 [N, 32, 32, 3], y_train/y_test int64, class_names.
            cifar10: OUTPUT is a directory; data_batch_1.bin … data_batch_5.bin (the training images in five \
            near-equal parts) and test_batch.bin, readable with `data: {format: cifar10, path: OUTPUT}`.
            The same seed gives the same bytes on every machine. Prints the training set's per-channel mean and \
            standard deviation (in [0, 1] units) for data.normalize.
            """)

        @Option(help: "Training images.")
        var train: Int = 5000
        @Option(help: "Test images.")
        var test: Int = 1000
        @Option(help: "Seed (non-negative).")
        var seed: Int = 1
        @Option(help: "Standard deviation of the pixel noise, in [0, 1] units.")
        var noise: Double = 0.08
        @Option(help: "npz or cifar10.")
        var format: String = "npz"
        @Option(name: .shortAndLong, help: "The .npz file (format npz) or directory (format cifar10) to write.")
        var output: String

        func validate() throws {
            guard train >= 1 && train <= 1_000_000, test >= 0 && test <= 1_000_000 else {
                throw ValidationError("--train must be 1…1000000 and --test 0…1000000")
            }
            guard seed >= 0 else { throw ValidationError("--seed must be non-negative") }
            guard noise.isFinite && noise >= 0 && noise <= 1 else { throw ValidationError("--noise must be in [0, 1]") }
            guard format == "npz" || format == "cifar10" else { throw ValidationError("--format must be npz or cifar10") }
        }

        func run() throws {
            let s = UInt64(seed)
            let a = ShapesDataset.generate(count: train, seed: s, part: "train", noise: noise)
            let b = ShapesDataset.generate(count: test, seed: s, part: "test", noise: noise)
            if format == "npz" {
                let parent = URL(fileURLWithPath: output).deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                let bytes = ShapesDataset.npz(train: a, test: b)
                try write(bytes, to: output)
                print("wrote \(output): \(train) training and \(test) test images, 32×32×3 uint8 (NHWC), 10 classes")
            } else {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                let planes = ShapesDataset.channelPlanes(a.pixels)
                for k in 0..<5 {
                    let lo = train * k / 5, hi = train * (k + 1) / 5
                    let batch = CIFAR.encode(pixels: Array(planes[(lo * 3072)..<(hi * 3072)]),
                                             labels: a.labels[lo..<hi].map { [UInt8($0)] })
                    try write(batch, to: output + "/data_batch_\(k + 1).bin")
                }
                try write(CIFAR.encode(pixels: ShapesDataset.channelPlanes(b.pixels), labels: b.labels.map { [UInt8($0)] }),
                          to: output + "/test_batch.bin")
                print("wrote \(output)/data_batch_1.bin … data_batch_5.bin (\(train) images) and test_batch.bin (\(test) images)")
            }
            let stats = ShapesDataset.channelStatistics(a.pixels)
            func list(_ v: [Double]) -> String { "[" + v.map { String(format: "%.4f", $0) }.joined(separator: ", ") + "]" }
            print("classes: \(ShapesDataset.classNames.joined(separator: ", "))")
            print("normalize: {mean: \(list(stats.mean)), std: \(list(stats.std))}   # with scale: 0.00392156862745098")
        }

        private func write(_ bytes: [UInt8], to path: String) throws {
            do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw CLI.Failure(message: "\(path): cannot write the file: \(CLI.reason(error))")
            }
        }
    }

    /// `terrain data info SPEC`: what a spec's data section loads to.
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a spec's data and describe it: sample counts and shapes, classes, storage (mapped or in memory), SHA-256.")

        @Argument(help: "A training or sweep spec (its data: section is read).")
        var spec: String

        func run() throws {
            let (data, base) = try Self.dataSection(spec)
            let loaded: (train: Dataset<Float>, test: Dataset<Float>?)
            let sha: String
            do {
                loaded = try DataLoader.load(data, baseDirectory: base, seed: 0, as: Float.self)
                sha = try data.resolvingPaths(against: base).sha256()
            } catch let e as TerrainError {
                throw CLI.Failure(message: "\(spec): \(e.description)")
            }
            func describe(_ name: String, _ d: Dataset<Float>) {
                var line = "\(name): \(d.count) samples of shape \(d.sampleShape)"
                if let s = d.imageStore {
                    line += ", \(s.element.rawValue) \(s.layout.rawValue) \(s.isMapped ? "memory-mapped" : "in process memory")"
                    line += " (\(s.pixelBytes / 1_048_576) MiB of pixels in the store)"
                    if let a = d.augmentation { line += ", augmented in training (crop padding \(a.crop), flip \(a.flip))" }
                } else {
                    line += ", dense float (\(d.count * d.sampleShape.reduce(1, *) * 4 / 1024) KiB)"
                }
                print(line)
            }
            describe("train", loaded.train)
            if let t = loaded.test { describe("test ", t) }
            if let k = loaded.train.classes { print("classes: \(k)") }
            print("sha256: \(sha)")
        }

        /// The data section of a training spec or a sweep spec, and the directory its paths
        /// are relative to.
        static func dataSection(_ path: String) throws -> (DataSpec, String) {
            // A sweep spec has a top-level `kind:` (the rule `terrain validate` uses).
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            guard text.range(of: #"(?m)^kind\s*:"#, options: .regularExpression) != nil else {
                let t = try CLI.loadSpec(path)
                return (t.data, t.baseDirectory)
            }
            let sweep = try CLI.loadSweep(path)
            guard let d = sweep.surface?.data ?? sweep.lottery?.data ?? sweep.trainingGrid?.data else {
                throw CLI.Failure(message: "\(path): this spec has no data: section")
            }
            return (d, "/")
        }
    }
}
