import Foundation
import TerrainCore
import TerrainSweeps

extension Evaluate {
    /// `--lanczos-steps`, `--layers`, `--layers-csv`: the spectrum's negative side and the
    /// per-layer spectra of the training loss's Hessian.
    func curvatureExtras(spec: TrainSpec, model: Model<Float>, train: Dataset<Float>) throws {
        let wantLayers = layers || layersCSV != nil
        guard lanczosSteps > 0 || wantLayers else { return }
        guard lanczosSteps >= 0, lanczosSteps <= 1000 else { throw CLI.Failure(message: "--lanczos-steps: expected an integer in 0…1000") }
        guard layerProbes >= 2, layerProbes <= 10_000 else { throw CLI.Failure(message: "--layer-probes: expected an integer in 2…10000") }
        let data = hessianSamples > 0 ? train.subset(hessianSamples, seed: spec.dataSeed) : train
        let h = try CLI.checkpointErrors { try HessianOperator(model: model, data: data, loss: spec.loss) }
        if lanczosSteps > 0 {
            let run = h.lanczos(steps: lanczosSteps, seed: spec.seed, index: 0)
            let top = run.values.max() ?? 0, bottom = run.values.min() ?? 0
            print(String(format: "Lanczos (%d steps, %d samples, products by %@): λ_max = %.6g  λ_min = %.6g  |λ_min/λ_max| = %.4g  mass below zero (beyond 1 %% of the spectral radius) = %.4g",
                         lanczosSteps, data.count, h.method, top, bottom, top == 0 ? Double.nan : abs(bottom / top),
                         SpectralDensity.negativeMass(runs: [run])))
        }
        guard wantLayers else { return }
        let spectra = h.layerSpectra(steps: max(lanczosSteps, 30), probes: layerProbes, seed: spec.seed)
        print("Per-layer spectra (Hessian block of each parameter group; Lanczos \(max(lanczosSteps, 30)) steps, \(layerProbes) Hutchinson probes):")
        for s in spectra {
            print(String(format: "  %@  %d parameters  λ_max %.6g  λ_min %.6g  trace %.6g ± %.2g", s.name, s.parameters, s.lambdaMax,
                         s.lambdaMin, s.trace, s.traceStandardError))
        }
        if let path = layersCSV {
            var csv = "group,parameters,lambda_max,lambda_min,trace,trace_standard_error\n"
            for s in spectra {
                csv += "\(s.name),\(s.parameters),\(s.lambdaMax),\(s.lambdaMin),\(s.trace),\(s.traceStandardError)\n"
            }
            do { try csv.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw CLI.Failure(message: "\(path): cannot write the per-layer spectra (\(error.localizedDescription))")
            }
            print("wrote \(path)")
        }
    }
}
