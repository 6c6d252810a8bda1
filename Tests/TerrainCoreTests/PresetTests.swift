import Foundation
import TerrainCore
import XCTest

/// The presets' architecture against PyTorch's modules: names, shapes, dtypes, parameter
/// order and multiply-accumulates from Fixtures/presets/presets.json, which
/// `docs/pytorch_presets.py fixture` wrote from the modules' `state_dict()`s and forward
/// hooks (so no torch is needed here).
final class PresetTests: XCTestCase {
    private struct Table: Decodable {
        struct Entry: Decodable {
            var arch: String
            var shortcut: String?
            var macs: Int?
            var parameters: Int
            var stateDict: [[Field]]
            enum CodingKeys: String, CodingKey { case arch, shortcut, macs, parameters, stateDict = "state_dict" }
        }
        enum Field: Decodable {
            case name(String), shape([Int])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .name(s) } else { self = .shape(try c.decode([Int].self)) }
            }
        }
        var models: [String: Entry]
    }

    private static let table: Table = {
        let data = FileManager.default.contents(atPath: TestSupport.fixture("presets/presets.json"))!
        return try! JSONDecoder().decode(Table.self, from: data)
    }()

    /// (name, shape, dtype) rows of a PyTorch state_dict from the table.
    private func pytorch(_ key: String) throws -> [(name: String, shape: [Int], dtype: String)] {
        let entry = try XCTUnwrap(Self.table.models[key], key)
        return entry.stateDict.map { row in
            guard case .name(let n) = row[0], case .shape(let s) = row[1], case .name(let d) = row[2] else { fatalError("bad row \(row)") }
            return (n, s, d)
        }
    }

    private func spec(_ key: String) throws -> ModelSpec {
        let entry = try XCTUnwrap(Self.table.models[key])
        let kind = try XCTUnwrap(ModelSpec.Kind(rawValue: entry.arch), entry.arch)
        return ModelSpec(kind: kind, shortcut: entry.shortcut == "zero_pad" ? .zeroPad : nil)
    }

    private var presetKeys: [String] { Self.table.models.keys.filter { $0 != "example_mlp" }.sorted() }

    func testEveryPresetIsInTheTable() {
        XCTAssertEqual(Set(ModelSpec.Kind.presets.map(\.rawValue)),
                       Set(presetKeys.compactMap { Self.table.models[$0]?.arch }))
        XCTAssertEqual(presetKeys.count, 10)   // 7 presets and the zero_pad variants of the 3 ResNets with shortcuts
    }

    /// A Terrain checkpoint of each preset has exactly the state_dict's names, shapes and
    /// dtypes (so `load_state_dict(strict=True)` takes it), and the parameters come in
    /// `named_parameters()` order (the order of flattened direction vectors).
    func testCheckpointNamesShapesAndDtypesEqualThePyTorchModules() throws {
        let dtypes = ["float32": "F32", "int64": "I64"]
        for key in presetKeys {
            let model: Model<Float> = try ModelBuilder.build(try spec(key), dataShape: [3, 32, 32], outputs: 10, seed: 0)
            let expected = try pytorch(key)
            let mine = Checkpoint.tensors(model: model)
            XCTAssertEqual(Set(mine.keys), Set(expected.map(\.name)), key)
            for row in expected {
                XCTAssertEqual(mine[row.name]?.shape, row.shape, "\(key) \(row.name)")
                XCTAssertEqual(mine[row.name]?.dtype, dtypes[row.dtype], "\(key) \(row.name)")
            }
            let buffers: Set<String> = ["running_mean", "running_var", "num_batches_tracked"]
            let parameterOrder = expected.map(\.name).filter { !buffers.contains(String($0.split(separator: ".").last!)) }
            XCTAssertEqual(model.parameters.map(\.name), parameterOrder, key)
            XCTAssertEqual(model.parameterCount, Self.table.models[key]!.parameters, key)
            XCTAssertTrue(model.namePrefix.isEmpty)
        }
    }

    /// Multiply-accumulates per 3×32×32 image equal the count of PyTorch forward hooks on the
    /// same modules (convolutions and linear layers).
    func testMultiplyAccumulatesEqualPyTorchHookCounts() throws {
        for key in presetKeys {
            let model: Model<Float> = try ModelBuilder.build(try spec(key), dataShape: [3, 32, 32], outputs: 10, seed: 0)
            XCTAssertEqual(model.multiplyAccumulatesPerSample, Self.table.models[key]!.macs, key)
        }
        // The figures the docs quote: ResNet-56 ≈ 126 M MACs (0.25 GFLOP) per image.
        XCTAssertEqual(Self.table.models["resnet56"]!.macs, 125_747_840)
    }

    /// docs/checkpoints.md's Python module for the example MLP (`self.layers = nn.Sequential(…)`)
    /// has exactly the tensors of a Terrain checkpoint of `model: {kind: mlp, hidden: [256, 256]}`.
    func testTheDocumentedMLPModuleHasTheCheckpointsKeys() throws {
        let model: Model<Float> = try ModelBuilder.build(.exampleMLP, dataShape: [40], outputs: 10, seed: 0)
        let mine = Checkpoint.tensors(model: model)
        let expected = try pytorch("example_mlp")
        XCTAssertEqual(Set(mine.keys), Set(expected.map(\.name)))
        for row in expected { XCTAssertEqual(mine[row.name]?.shape, row.shape, row.name) }
    }

    /// The module code docs/checkpoints.md shows is the script's, verbatim.
    func testTheModuleCodeInTheDocsIsTheScriptsCode() throws {
        let docs = try String(contentsOfFile: TestSupport.root.appendingPathComponent("docs/checkpoints.md").path, encoding: .utf8)
        let script = try String(contentsOfFile: TestSupport.root.appendingPathComponent("docs/pytorch_presets.py").path, encoding: .utf8)
        let blocks = docs.components(separatedBy: "```python\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        let modules = blocks.filter { $0.hasPrefix("class BasicBlock(nn.Module):") }
        XCTAssertEqual(modules.count, 1)
        for block in modules {
            for name in ["class BasicBlock", "class CifarResNet", "class VGG9"] { XCTAssertTrue(block.contains(name), name) }
            XCTAssertTrue(script.contains(block), "docs/checkpoints.md's module code differs from docs/pytorch_presets.py")
        }
    }

    /// With torch installed, the docs' loader (`docs/pytorch_presets.py logits`, which builds
    /// the module and calls `load_state_dict(…, strict=True)`) takes a checkpoint that
    /// `Checkpoint.save` wrote with optimizer state, and computes Terrain's logits.
    func testPyTorchLoadsATerrainCheckpointStrictly() throws {
        guard TestSupport.pythonHas(["numpy", "torch"]) else { throw XCTSkip("python3 with numpy and torch is not available") }
        let dir = NSTemporaryDirectory() + "terrain-preset-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (spec, arch) in [(ModelSpec(kind: .resnet20), "resnet20"), (ModelSpec(kind: .resnet20NoShort), "resnet20_noshort")] {
            let model: Model<Float> = try ModelBuilder.build(spec, dataShape: [3, 32, 32], outputs: 10, seed: 3)
            let x: Tensor<Float> = TestSupport.randomTensor([3, 3, 32, 32], seed: 5)
            // One SGD step with momentum, so BatchNorm statistics and optimizer state are not the initial ones.
            let optimizer = OptimizerSpec(name: .sgd, lr: 0.05, momentum: 0.9).make(for: model.parameters)
            let out = model.forward(x, context: .train())
            let loss = LossKind.crossEntropy.evaluate(logits: out, targets: .classes([1, 2, 3]), normalizer: 3, wantGradient: true)
            model.zeroGradients()
            model.backward(loss.gradient!)
            optimizer.step(lr: 0.05)
            let path = "\(dir)/\(arch).safetensors"
            try Checkpoint.save(model: model, optimizer: optimizer, step: 1, to: path)
            XCTAssertTrue(FileManager.default.fileExists(atPath: Checkpoint.optimizerStatePath(for: path)))
            try Data(NPY.encode(floats: x.storage, shape: x.shape)).write(to: URL(fileURLWithPath: "\(dir)/x.npy"))
            let script = TestSupport.root.appendingPathComponent("docs/pytorch_presets.py").path
            let r = try TestSupport.run("/usr/bin/env", ["python3", script, "logits", path, "--arch", arch,
                                                         "--inputs", "\(dir)/x.npy", "--output", "\(dir)/y.npy"])
            XCTAssertEqual(r.status, 0, r.error)
            let theirs = try NPY.read(contentsOf: "\(dir)/y.npy").asDoubles()
            let mine = model.forward(x, context: .eval)
            let rms = (theirs.reduce(0) { $0 + $1 * $1 } / Double(theirs.count)).squareRoot()
            for (a, b) in zip(mine.storage, theirs) { XCTAssertEqual(Double(a), b, accuracy: 5e-5 * max(abs(b), rms), arch) }
        }
    }

    func testPresetSpecsRefuseOptionsTheyFix() throws {
        XCTAssertNoThrow(try ModelSpec(kind: .resnet56).validate())
        XCTAssertNoThrow(try ModelSpec(kind: .resnet56, shortcut: .zeroPad).validate())
        XCTAssertNoThrow(try ModelSpec(kind: .vgg9, inputShape: [3, 32, 32]).validate())
        let refused: [(ModelSpec, String)] = [
            (ModelSpec(kind: .resnet20, channels: [8, 16, 32]), "model.channels"),
            (ModelSpec(kind: .resnet20, skip: false), "resnet20_noshort"),
            (ModelSpec(kind: .resnet20NoShort, shortcut: .zeroPad), "model.shortcut"),
            (ModelSpec(kind: .vgg9, batchNorm: false), "model.batch_norm"),
            (ModelSpec(kind: .resnet110, blocksPerStage: 2), "model.blocks_per_stage"),
            (ModelSpec(kind: .resnet20, inputShape: [3, 1024]), "model.input_shape"),
        ]
        for (spec, words) in refused {
            XCTAssertThrowsError(try spec.validate(), words) { XCTAssertTrue("\($0)".contains(words), "\($0)") }
        }
        // vgg9's fc layer fixes the image size; ResNets pool whatever map is left.
        XCTAssertThrowsError(try ModelBuilder.build(ModelSpec(kind: .vgg9), dataShape: [3, 28, 28], outputs: 10, seed: 0, as: Float.self)) {
            XCTAssertTrue("\($0)".contains("32×32"), "\($0)")
        }
        let small: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet20), dataShape: [1, 28, 28], outputs: 5, seed: 0)
        XCTAssertEqual(small.parameter(named: "conv1.weight")?.shape, [16, 1, 3, 3])
        XCTAssertEqual(small.parameter(named: "linear.weight")?.shape, [5, 64])
        // Flat data reshaped by model.input_shape: the reshape has no tensors, names stay unprefixed.
        let flat: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet20, inputShape: [3, 32, 32]), dataShape: [3072], outputs: 10, seed: 0)
        XCTAssertEqual(Set(Checkpoint.tensors(model: flat).keys), Set(Checkpoint.tensors(model: small).keys))
    }

    /// The same spec and seed give the same weights; a checkpoint of one preset loaded into
    /// another fails with every mismatch listed and the right `model:` named.
    func testMismatchedPresetCheckpointNamesTheDifferences() throws {
        let a: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet20), dataShape: [3, 32, 32], outputs: 10, seed: 4)
        let b: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet20), dataShape: [3, 32, 32], outputs: 10, seed: 4)
        XCTAssertEqual(a.parameters.map(\.value), b.parameters.map(\.value))
        let path = NSTemporaryDirectory() + "terrain-mismatch-\(ProcessInfo.processInfo.processIdentifier).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model: a, step: 0, to: path)
        let deeper: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet56), dataShape: [3, 32, 32], outputs: 10, seed: 0)
        let before = deeper.parameters.map(\.value)
        XCTAssertThrowsError(try Checkpoint.load(path, into: deeper)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text)
            XCTAssertTrue(text.contains("missing: layer1.3.conv1.weight [16, 16, 3, 3]"), text)
            XCTAssertTrue(text.contains("model: {kind: resnet20}"), text)
        }
        XCTAssertEqual(deeper.parameters.map(\.value), before, "a failed load leaves the model unchanged")
        let wide: Model<Float> = try ModelBuilder.build(ModelSpec(kind: .resnet20), dataShape: [3, 32, 32], outputs: 100, seed: 0)
        XCTAssertThrowsError(try Checkpoint.load(path, into: wide)) { error in
            XCTAssertTrue("\(error)".contains("2 of another shape: linear.weight has shape [10, 64], the model expects [100, 64]"), "\(error)")
        }
    }
}
