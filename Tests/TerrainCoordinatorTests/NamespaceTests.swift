import Foundation
import TerrainDataset
import TerrainTestSupport
import TerrainWire
import XCTest

/// Coordinator and workers on separate "hosts": Linux network namespaces joined by veth
/// links, with addresses private to them (10.77.0.0/16), over real TCP with CURVE on. One
/// sweep, three workers, each behind a disturbed link:
/// - w1: its link is cut for 30 s mid-task (blackhole routes both ways) and restored: its
///   lease expires, the task is redone elsewhere, its late result is deduplicated;
/// - w2: a rate-limited link (`tc … tbf`, 1 Mbit/s);
/// - w3: a link through a user-space wire that delays every frame 50 ms and drops 1 % (what
///   netem would do; this kernel has no sch_netem): Fixtures/l2-forwarder.py.
/// Every result lands exactly once and is bit-identical to an undisturbed `terrain run`.
/// Root only (`make test-cluster`); skipped otherwise. The namespaces are removed afterwards.
final class NamespaceTests: XCTestCase {
    private var harness: ProcessHarness!
    private var namespaces: [String] = []
    private let prefix = "t\(getpid() % 100_000)"

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["TERRAIN_CLUSTER_TESTS"] == "1" else {
            throw XCTSkip("the network-namespace test runs with `make test-cluster` (TERRAIN_CLUSTER_TESTS=1, as root)")
        }
        guard getuid() == 0 else { throw XCTSkip("the network-namespace test needs root (ip netns, veth, tc)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            throw XCTSkip("iproute2 (ip) is not installed")
        }
        _ = try ProcessHarness.terrain
        harness = try ProcessHarness(name: "netns")
    }

    override func tearDown() {
        harness?.cleanUp()
        for ns in namespaces { ip("netns del \(ns)") }
    }

    private func ns(_ name: String) -> String { prefix + name }

    /// Runs `ip ARGS`; fails the test on error unless `check` is false.
    @discardableResult
    private func ip(_ args: String, check: Bool = false, file: StaticString = #filePath, line: UInt = #line) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ip \(args) 2>&1"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try? p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if check && p.terminationStatus != 0 { XCTFail("ip \(args): \(out)", file: file, line: line) }
        return p.terminationStatus
    }

    private func sh(_ namespace: String, _ command: String) {
        ip("netns exec \(namespace) sh -c '\(command)'", check: true)
    }

    /// Namespaces c (coordinator, 10.77.0.1 on its loopback), w1…w3 and r (the lossy wire).
    private func makeNetwork() throws {
        for n in ["c", "w1", "w2", "w3", "r"] {
            ip("netns add \(ns(n))", check: true)
            namespaces.append(ns(n))
            ip("-n \(ns(n)) link set lo up", check: true)
        }
        ip("-n \(ns("c")) addr add 10.77.0.1/32 dev lo", check: true)
        // w1 and w2: a veth pair each, straight to c.
        for i in 1...2 {
            let a = "\(prefix)a\(i)", b = "\(prefix)b\(i)"
            ip("link add \(a) netns \(ns("c")) type veth peer name \(b) netns \(ns("w\(i)"))", check: true)
            ip("-n \(ns("c")) addr add 10.77.\(i).1/24 dev \(a)", check: true)
            ip("-n \(ns("w\(i)")) addr add 10.77.\(i).2/24 dev \(b)", check: true)
            ip("-n \(ns("c")) link set \(a) up", check: true)
            ip("-n \(ns("w\(i)")) link set \(b) up", check: true)
            ip("-n \(ns("w\(i)")) route add 10.77.0.1/32 via 10.77.\(i).1", check: true)
        }
        // w2's link: 1 Mbit/s each way.
        sh(ns("c"), "tc qdisc add dev \(prefix)a2 root tbf rate 1mbit burst 32kbit latency 400ms")
        sh(ns("w2"), "tc qdisc add dev \(prefix)b2 root tbf rate 1mbit burst 32kbit latency 400ms")
        // w3: c ↔ r ↔ w3, r forwarding frames between its two interfaces in user space.
        let a3 = "\(prefix)a3", x3 = "\(prefix)x3", y3 = "\(prefix)y3", b3 = "\(prefix)b3"
        ip("link add \(a3) netns \(ns("c")) type veth peer name \(x3) netns \(ns("r"))", check: true)
        ip("link add \(y3) netns \(ns("r")) type veth peer name \(b3) netns \(ns("w3"))", check: true)
        ip("-n \(ns("c")) addr add 10.77.3.1/24 dev \(a3)", check: true)
        ip("-n \(ns("w3")) addr add 10.77.3.2/24 dev \(b3)", check: true)
        for (n, dev) in [("c", a3), ("r", x3), ("r", y3), ("w3", b3)] { ip("-n \(ns(n)) link set \(dev) up", check: true) }
        for dev in [x3, y3] { ip("-n \(ns("r")) link set \(dev) promisc on", check: true) }
        ip("-n \(ns("w3")) route add 10.77.0.1/32 via 10.77.3.1", check: true)
    }

    /// Starts `command` inside `namespace` (the process is the command itself: `ip netns exec` execs it).
    private func start(in namespace: String, _ command: [String], label: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec ip netns exec \(namespace) \"$@\"", "sh"] + command
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = env
        FileManager.default.createFile(atPath: "\(harness.dir)/\(label).err", contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: "\(harness.dir)/\(label).err")
        p.standardError = FileHandle(forWritingAtPath: "\(harness.dir)/\(label).err")
        try p.run()
        return p
    }

    private func cut(_ cut: Bool) {
        if cut {
            ip("-n \(ns("w1")) route replace blackhole 10.77.0.1/32", check: true)
            ip("-n \(ns("c")) route add blackhole 10.77.1.2/32", check: true)
        } else {
            ip("-n \(ns("w1")) route replace 10.77.0.1/32 via 10.77.1.1", check: true)
            ip("-n \(ns("c")) route del blackhole 10.77.1.2/32", check: true)
        }
    }

    func testSweepAcrossNamespacesWithACutASlowAndALossyLink() throws {
        try makeNetwork()
        let terrain = try ProcessHarness.terrain
        let keys = harness.dir + "/keys"
        for name in ["coordinator", "worker"] {
            let k = try harness.start(["keys", "generate", name, "--directory", keys], label: "keys-\(name)")
            XCTAssertEqual(harness.waitForExit(k), 0)
        }
        try FileManager.default.createDirectory(atPath: keys + "/allowed", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: keys + "/worker.key", toPath: keys + "/allowed/worker.key")
        // Two chains of 40 tasks of 1.5 s, each passing a 64 KiB artifact to the next: about a
        // minute, so that w1 comes back before the end; and with at most two tasks runnable at a
        // time, w1's task is redone elsewhere at once, before its late result arrives.
        let probe = "kind: probe\nprobe: {tasks: 80, sleep_ms: %d, blob_bytes: 65536, chain: 40}\nruntime: {heartbeat_ms: 200, liveness: 5}\n"
        let spec = try harness.write("netns.yaml", "name: netns\n" + String(format: probe, 1500))
        let referenceSpec = try harness.write("reference.yaml", "name: reference\n" + String(format: probe, 0))
        let referenceDataset = harness.dir + "/reference.sqlite"
        let r = try harness.start(["run", referenceSpec, "--workers", "2", "--dataset", referenceDataset, "--quiet"], label: "reference")
        XCTAssertEqual(harness.waitForExit(r), 0, harness.output("reference"))
        let reference = try SweepDataset(path: referenceDataset, readOnly: true).resultDigests()

        let forwarder = try start(in: ns("r"), ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/l2-forwarder.py",
                                                "\(prefix)x3", "\(prefix)y3", "0.05", "0.01", "7"], label: "forwarder")
        defer { forwarder.terminate() }
        let endpointFile = harness.dir + "/endpoint"
        let started = Date()
        let c = try start(in: ns("c"), [terrain, "coordinator", spec, "--bind", "tcp://0.0.0.0:*", "--endpoint-file", endpointFile,
                                        "--advertise-host", "10.77.0.1", "--dataset", harness.dataset, "--quiet",
                                        "--curve-key", keys + "/coordinator", "--allowed-keys", keys + "/allowed"], label: "coordinator")
        var workers = [Process]()
        for i in 1...3 {
            workers.append(try start(in: ns("w\(i)"), [terrain, "worker", "--connect", "@" + endpointFile, "--give-up-after", "120",
                                                       "--curve-key", keys + "/worker", "--server-key", keys + "/coordinator.key"], label: "w\(i)"))
        }
        func running(on w: Process) -> Bool {
            let rows = (try? harness.open().table("SELECT worker FROM tasks WHERE status = 'running'").rows) ?? []
            return rows.contains { row in
                if case .text(let name) = row[0] { return name.contains("-\(w.processIdentifier)-") }
                return false
            }
        }
        harness.waitFor("w1 computing a task", seconds: 120) { running(on: workers[0]) }
        let cutAt = harness.resultCount()
        cut(true)
        Thread.sleep(forTimeInterval: 30)
        cut(false)
        XCTAssertGreaterThan(harness.resultCount(), cutAt, "the others went on during the cut")
        XCTAssertEqual(harness.waitForExit(c, seconds: 300), 0, harness.output("coordinator"))
        let seconds = Date().timeIntervalSince(started)
        for (i, w) in workers.enumerated() { XCTAssertEqual(harness.waitForExit(w), 0, harness.output("w\(i + 1)")) }

        let ds = try harness.open()
        let got = try ds.resultDigests()
        XCTAssertEqual(got.count, 80, "every task once")
        XCTAssertEqual(got, reference, "bit-identical to an undisturbed run")
        let byWorker = try ds.resultRows().map(\.worker)
        for (i, w) in workers.enumerated() {
            XCTAssertTrue(byWorker.contains { $0.contains("-\(w.processIdentifier)-") }, "w\(i + 1) delivered results over its link")
        }
        let lost = try ds.events(kind: "worker-lost").filter { $0.worker?.contains("-\(workers[0].processIdentifier)-") == true }
        XCTAssertFalse(lost.isEmpty, "the cut made w1's lease expire")
        let duplicates = try ds.events(kind: "duplicate").filter { $0.worker?.contains("-\(workers[0].processIdentifier)-") == true }
        let counts = try ds.eventCounts()
        XCTAssertFalse(duplicates.isEmpty, "w1's late result arrived after the restore and was deduplicated: \(counts)")
        let wire = harness.output("forwarder").split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(wire.contains("dropped") && !wire.contains("dropped 0 "), "the lossy wire dropped frames: \(wire)")
        print("netns sweep: 80 tasks in \(String(format: "%.1f", seconds)) s with a 30 s cut, a 1 Mbit/s link and a 50 ms / 1 % link; wire: \(wire)")
    }
}
