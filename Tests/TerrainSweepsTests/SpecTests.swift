import Foundation
import TerrainCore
import TerrainSweeps
import XCTest

/// YAML training specs: the examples parse, and bad specs fail naming file and field.
final class SpecTests: XCTestCase {
    private let good = """
    name: t
    seed: 3
    model: {kind: mlp, hidden: [16, 16], activation: gelu}
    data: {path: data/mnist1d.npz, train_subset: 500}
    optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
    schedule: {kind: cosine, warmup_steps: 10}
    training: {batch_size: 32, epochs: 2}
    """

    func testValidSpecParsesWithDefaults() throws {
        let s = try TrainSpec.parse(good, source: "t.yaml", baseDirectory: TestSupport.root.path)
        XCTAssertEqual(s.model.hidden, [16, 16])
        XCTAssertEqual(s.model.activation, .gelu)
        XCTAssertEqual(s.optimizer.momentum, 0.9)
        XCTAssertEqual(s.schedule.warmupSteps, 10)
        XCTAssertEqual(s.loss, .crossEntropy)
        let (model, train, test) = try s.materialize()
        XCTAssertEqual(train.count, 500)
        XCTAssertEqual(test?.count, 1000)
        XCTAssertEqual(model.outputs, 10)
    }

    func testExampleSpecsAreValid() throws {
        try Self.ensureShapesSet()
        let dir = TestSupport.root.appendingPathComponent("examples").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("train-") && $0.hasSuffix(".yaml") }
        XCTAssertFalse(files.isEmpty)
        for f in files {
            let s = try TrainSpec.load(path: dir + "/" + f)
            _ = try s.materialize()
        }
    }

    private func assertSpecError(_ text: String, contains fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TrainSpec.parse(text, source: "bad.yaml", baseDirectory: TestSupport.root.path).materialize(), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("bad.yaml: "), message, file: file, line: line)
            for f in fragments { XCTAssertTrue(message.contains(f), "'\(f)' not in: \(message)", file: file, line: line) }
        }
    }

    func testBadSpecsNameTheFieldAtFault() {
        assertSpecError(good.replacingOccurrences(of: "optimizer:", with: "optimiser:"), contains: ["unknown key 'optimiser'", "did you mean 'optimizer'"])
        assertSpecError(good.replacingOccurrences(of: "momentum: 0.9", with: "momentun: 0.9"), contains: ["optimizer.momentun", "did you mean 'optimizer.momentum'"])
        assertSpecError(good.replacingOccurrences(of: "lr: 0.1", with: "lr: fast"), contains: ["optimizer.lr", "expected a number"])
        assertSpecError(good.replacingOccurrences(of: "lr: 0.1", with: "lr: -1"), contains: ["optimizer.lr must be a positive number"])
        assertSpecError(good.replacingOccurrences(of: "hidden: [16, 16]", with: "hidden: [16, x]"), contains: ["model.hidden[1]"])
        assertSpecError(good.replacingOccurrences(of: "kind: mlp", with: "kind: transformer"), contains: ["model.kind"])
        assertSpecError(good.replacingOccurrences(of: "batch_size: 32", with: "batch_size: 0"), contains: ["training.batch_size must be positive"])
        assertSpecError(good.replacingOccurrences(of: "training: {batch_size: 32, epochs: 2}", with: ""), contains: ["missing section 'training:'"])
        assertSpecError(good.replacingOccurrences(of: "data/mnist1d.npz", with: "data/nope.npz"), contains: ["data/nope.npz", "cannot read"])
        assertSpecError(good.replacingOccurrences(of: "{kind: mlp, hidden: [16, 16], activation: gelu}", with: "{kind: cnn, channels: [4]}"), contains: ["model.input_shape"])
        assertSpecError(good.replacingOccurrences(of: "{kind: mlp, hidden: [16, 16], activation: gelu}", with: "{kind: cnn, channels: [4], input_shape: [1, 39]}"), contains: ["input_shape [1, 39]", "40 features"])
        assertSpecError("model: [1, 2", contains: ["not valid YAML"])
    }

    /// data/shapes.npz, which the conv-net examples read, generated as `make shapes` does
    /// when a checkout does not have it yet (it is not committed: 18 MB, deterministic).
    static func ensureShapesSet() throws {
        let path = TestSupport.root.appendingPathComponent("data/shapes.npz").path
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let train = ShapesDataset.generate(count: 5000, seed: 1, part: "train")
        let test = ShapesDataset.generate(count: 1000, seed: 1, part: "test")
        let temporary = path + ".\(getpid()).tmp"
        try Data(ShapesDataset.npz(train: train, test: test)).write(to: URL(fileURLWithPath: temporary))
        _ = rename(temporary, path)
    }
}
