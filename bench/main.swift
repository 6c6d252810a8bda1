// terrain-bench: the figures of `make bench`.
//
//   terrain-bench            core and runtime
//   terrain-bench core       training core only (one thread)
//   terrain-bench runtime    coordinator/worker throughput and dispatch latency
//   terrain-bench surface    loss-surface grid points per second, 1 and 2 workers
//   terrain-bench training   run-task overhead over bare training; a lottery sweep on 1 and 2 workers
//   terrain-bench conv [NAME]  conv-net presets on CIFAR-shaped data: training, evaluation, surface points
//   terrain-bench eval-memory  peak memory of evaluation on 2,560 and 25,600 images (beside PyTorch's)
//   terrain-bench curvature [mlp]  Hessian-vector products beside PyTorch's double backprop; R-operator accuracy
//   terrain-bench http [ROUNDS] [close]  dispatch throughput with 20 clients polling the HTTP API at 10 Hz vs none
//   terrain-bench data-memory [N]  resident memory of N processes holding one CIFAR-sized image set (default 8)
//
// OPENBLAS_NUM_THREADS=1 is set by the Makefile; the numbers describe this machine only.
import Foundation

let which = CommandLine.arguments.dropFirst().first ?? "all"
print("terrain-bench — OPENBLAS_NUM_THREADS=\(ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "unset"), OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"), \(ProcessInfo.processInfo.activeProcessorCount) cores")
switch which {
case "core": try coreBenchmarks()
case "runtime": try runtimeBenchmarks()
case "surface": try surfaceBenchmarks()
case "training": try trainingBenchmarks()
case "conv": try convBenchmarks(only: CommandLine.arguments.dropFirst(2).first)
case "curvature": try curvatureBenchmarks(only: CommandLine.arguments.dropFirst(2).first)
case "profile-train": try profileWorkload("train")
case "profile-eval": try profileWorkload("eval")
case "conv-layers": convLayerFigures()
case "gemm-shapes": gemmShapeFigures()
case "folding-ab": try foldingAB()
case "profile-mlp": try profileMLP()
case "profile-hvp": try profileHVP(CommandLine.arguments.dropFirst(2).first ?? "resnet20", rounds: CommandLine.arguments.dropFirst(3).first.flatMap { Int($0) } ?? 2)
case "eval-memory": try evalMemoryBenchmark()
case "data-memory": try dataMemoryBenchmark(processes: CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 8)
case "http":
    let args = CommandLine.arguments.dropFirst(2)
    let numbers = args.compactMap { Int($0) }
    try httpBenchmarks(rounds: numbers.first ?? 9, tasks: numbers.dropFirst().first ?? 30_000, keepAlive: !args.contains("close"))
case "http-pollers": httpPollersMain(Array(CommandLine.arguments.dropFirst(2)))
case "data-hold": try dataHold(directory: CommandLine.arguments[2], mode: CommandLine.arguments[3])
case "all":
    try coreBenchmarks()
    try convBenchmarks()
    try curvatureBenchmarks(only: nil)
    try runtimeBenchmarks()
    try surfaceBenchmarks()
    try trainingBenchmarks()
default:
    print("usage: terrain-bench [core|conv|conv-layers|curvature|runtime|surface|training|all|data-memory [N]|http [ROUNDS] [TASKS] [close]|gemm-shapes|profile-hvp resnet20|mlp [ROUNDS]]")
    exit(2)
}
