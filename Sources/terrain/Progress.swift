import Foundation
import TerrainDataset
import TerrainSweeps

/// Renders sweep progress: a bar redrawn in place on a terminal, a plain line every few
/// seconds otherwise (logs, CI).
final class ProgressPrinter: @unchecked Sendable {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast
    private let lock = NSLock()

    /// One line describing `p`.
    static func line(_ p: SweepDataset.Progress, width: Int = 30) -> String {
        let total = max(p.total, 1)
        let finished = p.done + p.failed
        let filled = Int(Double(width) * Double(finished) / Double(total))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        var s = "[\(bar)] \(finished)/\(p.total) (\(String(format: "%.1f", 100 * Double(finished) / Double(total)))%)"
        s += "  done \(p.done)  failed \(p.failed)  running \(p.running)  queued \(p.queued + p.waiting)"
        s += "  workers \(p.workers)  \(String(format: "%.1f", p.rate))/s"
        let remaining = p.total - finished
        if p.rate > 0 && remaining > 0 {
            s += "  ETA \(ClockText.format(Double(remaining) / p.rate))"
        }
        return s
    }


    func show(_ p: SweepDataset.Progress) {
        lock.lock()
        defer { lock.unlock() }
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.line(p)).utf8))
        } else if Date().timeIntervalSince(lastLine) >= 5 {
            lastLine = Date()
            FileHandle.standardError.write(Data((Self.line(p) + "\n").utf8))
        }
    }

    func finish(_ p: SweepDataset.Progress) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + Self.line(p) + "\n").utf8))
    }
}
