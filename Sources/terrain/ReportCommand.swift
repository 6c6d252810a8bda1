import ArgumentParser
import Foundation
import TerrainWeb

/// `terrain report DATASET [--output FILE]`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML file about a sweep: figures, 3-D surface view, tables, spec and provenance (opens offline).")

    @Argument(help: "The sweep's SQLite dataset.")
    var dataset: String

    @Option(name: .shortAndLong, help: "The HTML file to write (default: the dataset's name with .html).")
    var output: String?

    func run() throws {
        let html: String
        do { html = try HTMLReport.make(path: dataset) } catch { throw CLI.Failure(message: error.description) }
        let path = output ?? ((dataset as NSString).deletingPathExtension + ".html")
        do { try html.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CLI.Failure(message: "\(path): cannot write the report: \(CLI.reason(error))")
        }
        print("wrote \(path) (\(html.utf8.count / 1024) KiB)")
    }
}
