import Foundation
import TerrainCore

extension SurfaceSpec {
    /// Tiles of `tile` grid points (x fastest), each a task with the centre and directions as
    /// fixed inputs — or, when θ* is trained in the sweep, as the outputs of task 1 (`train`)
    /// and task 2 (`directions`) — then the curvature probes at the centre.
    public func expand(source: String) throws -> [ExpandedTask] {
        var tasks = [ExpandedTask]()
        var inputs = [StaticInput]()
        var dependencies = [UInt64]()
        var centreDependency = [UInt64]()
        let sha: String
        if let training {
            // θ* is trained by task 1; task 2 computes the directions from it; tiles need both.
            let checked = try network.check(source: source)
            sha = checked.sha256
            _ = try SweepLimits.steps(epochs: training.epochs, samples: checked.trainingSamples, batchSize: training.batchSize,
                                      field: "surface.train.epochs", source: source)
            tasks.append(ExpandedTask(id: 1, kind: TrainKind.name, params: try TrainKind.encode(Networked(network.params(dataSHA256: sha), .init(training: training)))))
            tasks.append(ExpandedTask(id: 2, kind: DirectionsKind.name, dependencies: [1], params: try DirectionsKind.encode(directionsParams)))
            dependencies = [1, 2]
            centreDependency = [1]
        } else {
            let m = try materialize(source: source)
            sha = m.dataSHA256
            let centreBytes = try FileManager.default.contents(atPath: checkpoint!).map { [UInt8]($0) }
                ?? { throw SpecError(file: source, message: "\(checkpoint!): cannot read the checkpoint") }()
            inputs = [StaticInput(name: "centre", data: centreBytes), StaticInput(name: "d1", data: m.d1.withUnsafeBytes { Array($0) })]
            if let d2 = m.d2 { inputs.append(StaticInput(name: "d2", data: d2.withUnsafeBytes { Array($0) })) }
        }
        let base = network.params(dataSHA256: sha)
        var start = 0
        while start < points {
            let end = points - start <= tile ? points : start + tile  // no overflow for any tile size
            let tile = SurfaceKind.Tile(x: .init(x), y: y.map(SurfaceKind.Axis.init), start: start, end: end, sets: sets,
                                        recomputeBatchNorm: recomputeBatchNorm, recomputeSamples: recomputeSamples, states: states ? true : nil,
                                        convexity: convexity)
            tasks.append(ExpandedTask(id: UInt64(tasks.count + 1), kind: SurfaceKind.name, dependencies: dependencies,
                                      params: try SurfaceKind.encode(Networked(base, tile)), inputs: inputs))
            start = end
        }
        if let curvature {
            let centre = inputs.isEmpty ? [] : [inputs[0]]
            for probe in curvature.probes() {
                tasks.append(ExpandedTask(id: UInt64(tasks.count + 1), kind: HessianKind.name, dependencies: centreDependency,
                                          params: try HessianKind.encode(Networked(base, probe)), inputs: centre))
            }
        }
        return tasks
    }
}
