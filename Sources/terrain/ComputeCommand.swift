import ArgumentParser
import TerrainWorker

/// `terrain compute --parent PID`: the compute process a worker starts for its tasks
/// (``ComputeChild``); not for direct use.
struct ComputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute", abstract: "Run a worker's tasks in a child process (started by `terrain worker`).", shouldDisplay: false)

    @Option(help: "The worker process that started this one.")
    var parent: Int32

    func run() throws {
        let status = ComputeChild.serve(parent: parent)
        if status != 0 { throw ExitCode(status) }
    }
}
