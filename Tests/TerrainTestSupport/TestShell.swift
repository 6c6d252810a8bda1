import Foundation

/// Runs shell commands for the tests that drive real engines (SLURM, podman).
public enum TestShell {
    /// Runs `command` with `bash -c`, the environment of this process plus `environment`, and
    /// returns its exit status and combined output. Descriptors beyond 0–2 are closed first:
    /// Foundation's Process sees its child end through one it inherits, which a daemon the
    /// command starts (conmon, slurmd) would keep; output goes into a file, not a pipe, for the
    /// same reason.
    public static func run(_ command: String, environment: [String: String] = [:]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "for fd in /proc/$$/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] && eval \"exec $n>&-\"; done 2>/dev/null; " + command]
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        p.environment = env
        let log = NSTemporaryDirectory() + "terrain-sh-\(getpid())-\(UInt32.random(in: 0 ... .max)).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        do { try p.run() } catch { return (-1, "\(error)") }
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}
