import Foundation
import TerrainDataset
import TerrainExport

/// The double-descent view of a training sweep with a width or label-noise axis (Nakkiran
/// et al. 2021): test error against model size at the end of training (model-wise) and
/// against the epoch for each size (epoch-wise). Numbers here, drawing in ``SVGRenderer``.
public struct DoubleDescentResults: Sendable {
    /// One completed run: its grid cell, size and final errors, and its curve.
    struct Run: Sendable {
        var cell: String, noise: Double?, width: Double, widths: String, parameters: Int
        var testError: Double?, trainError: Double?
        var curve: [(epoch: Double, testError: Double?)]
    }

    /// A model-wise curve: one label-noise level (and grid cell), mean over seeds per size.
    public struct ModelWise: Sendable, Equatable {
        public var label: String
        /// Width multipliers (or parameter counts when the grid varies `hidden`), ascending.
        public var sizes: [Double]
        /// Mean final test and training error (1 − accuracy) per size; NaN where no run finished.
        public var testError: [Double], trainError: [Double]
    }

    /// An epoch-wise figure: one label-noise level (and cell), a test-error series per size.
    public struct EpochWise: Sendable, Equatable {
        public var label: String, slug: String
        public var epochs: [Double]
        public var series: [(label: String, testError: [Double])]

        public static func == (a: EpochWise, b: EpochWise) -> Bool {
            a.label == b.label && a.slug == b.slug && a.epochs == b.epochs
                && a.series.map(\.label) == b.series.map(\.label) && a.series.map(\.testError) == b.series.map(\.testError)
        }
    }

    let runs: [Run]
    /// Whether sizes are parameter counts (a `hidden` grid) rather than width multipliers.
    public let bySize: Bool

    /// The completed runs of the sweep that record a width or label noise; `nil` when none does.
    init?(runs rows: [RunRow], variants: [RunVariantRow], curve: [CurvePointRow]) {
        let byTask = Dictionary(variants.map { ($0.task, $0) }, uniquingKeysWith: { a, _ in a })
        let curves = Dictionary(grouping: curve, by: \.task)
        var out = [Run]()
        for r in rows where r.status == "completed" {
            guard let v = byTask[r.task], v.width != nil || v.labelNoise != nil else { continue }
            let cell = "batch size \(r.batchSize), lr \(r.learningRate), \(r.optimizer)"
            let points = (curves[r.task] ?? []).map { (epoch: $0.epoch, testError: $0.testAccuracy.map { 1 - $0 }) }
            out.append(Run(cell: cell, noise: v.labelNoise, width: v.width ?? 1, widths: v.widths ?? "", parameters: v.parameters ?? 0,
                           testError: r.testAccuracy.map { 1 - $0 }, trainError: r.trainAccuracy.map { 1 - $0 }, curve: points))
        }
        guard !out.isEmpty else { return nil }
        runs = out
        bySize = Set(out.map(\.width)).count == 1 && Set(out.map(\.widths)).count > 1
    }

    /// Whether the runs differ in width, hidden widths or label noise (not just in the grid's
    /// other axes).
    public var variesCapacity: Bool {
        Set(runs.map { "\($0.width)|\($0.widths)|\($0.noise.map { "\($0)" } ?? "-")" }).count > 1
    }

    /// Reads the sweep's tables; `nil` when no run records a width or label noise.
    public static func load(_ sweep: StoredSweep) throws -> DoubleDescentResults? {
        let ds = sweep.dataset
        return DoubleDescentResults(runs: try ds.runs(), variants: try ds.runVariants(), curve: try ds.curvePoints())
    }

    private func size(_ r: Run) -> Double { bySize ? Double(r.parameters) : r.width }

    /// Runs grouped by (cell, noise), in order of first appearance, labelled by what varies.
    private func groups() -> [(label: String, slug: String, runs: [Run])] {
        var order = [String](), byKey = [String: [Run]]()
        for r in runs {
            let key = "\(r.cell)|\(r.noise.map { "\($0)" } ?? "-")"
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: []].append(r)
        }
        var cells = [String]()
        for r in runs where !cells.contains(r.cell) { cells.append(r.cell) }
        return order.map { key in
            let g = byKey[key]!, first = g[0]
            var label = [String](), slug = [String]()
            if let p = first.noise { label.append(String(format: "label noise %g%%", 100 * p)); slug.append(String(format: "noise%g", p)) }
            if cells.count > 1 { label.append(first.cell); slug.append("cell\(cells.firstIndex(of: first.cell)! + 1)") }
            return (label.joined(separator: ", "), slug.joined(separator: "-"), g)
        }
    }

    /// Model-wise curves: final errors against size, mean over seeds.
    public func modelWise() -> [ModelWise] {
        let sizes = Array(Set(runs.map(size))).sorted()
        return groups().map { g in
            func mean(_ pick: (Run) -> Double?, _ s: Double) -> Double {
                RunResults.mean(g.runs.filter { size($0) == s }.compactMap(pick)) ?? .nan
            }
            return ModelWise(label: g.label.isEmpty ? "test error" : g.label, sizes: sizes,
                             testError: sizes.map { mean(\.testError, $0) }, trainError: sizes.map { mean(\.trainError, $0) })
        }
    }

    /// Epoch-wise figures: test error along training per size, mean over seeds at each
    /// recorded epoch (the epochs of the group's first run).
    public func epochWise() -> [EpochWise] {
        groups().map { g in
            let epochs = g.runs[0].curve.map(\.epoch)
            let sizes = Array(Set(g.runs.map(size))).sorted()
            let series = sizes.map { s -> (label: String, testError: [Double]) in
                let members = g.runs.filter { size($0) == s }
                let values = epochs.map { e in
                    RunResults.mean(members.compactMap { r in r.curve.first { $0.epoch == e }?.testError }) ?? .nan
                }
                let name = bySize ? "\(members[0].widths) (\(members[0].parameters) params)" : String(format: "width ×%g", s)
                return (name, values)
            }
            return EpochWise(label: g.label, slug: g.slug, epochs: epochs, series: series)
        }
    }

    /// The `modelwise` figure (one, every noise level a pair of series) and the `epochwise`
    /// figures (one per noise level and cell), as SVG.
    func figures(_ name: String, sweep: String, choice: RunSweepResults.FigureChoice) -> [RenderedFigure] {
        let xLabel = bySize ? "parameters" : "width multiplier"
        if name == "modelwise" {
            let curves = modelWise()
            var series = [(label: String, values: [Double])]()
            for c in curves {
                series.append(("test, " + c.label, c.testError))
                series.append(("train, " + c.label, c.trainError))
            }
            let svg = SVGRenderer.curves(x: curves[0].sizes, series: series, title: "Model-wise double descent (\(sweep))",
                                         subtitle: "error (1 − accuracy) at the end of training, mean over seeds; train error on the (noisy) training labels",
                                         xLabel: xLabel + " (log scale)", yLabel: "error", logX: true)
            return [RenderedFigure(path: choice.path("modelwise"), svg: svg)]
        }
        let figures = epochWise()
        return figures.map { f in
            let svg = SVGRenderer.curves(x: f.epochs, series: f.series.map { ($0.label, $0.testError) },
                                         title: "Epoch-wise test error\(f.label.isEmpty ? "" : ", " + f.label) (\(sweep))",
                                         subtitle: "test error (1 − accuracy) along training, mean over seeds, one line per model size",
                                         xLabel: "epoch", yLabel: "test error")
            return RenderedFigure(path: choice.path("epochwise", figures.count == 1 ? "" : f.slug), svg: svg)
        }
    }
}
