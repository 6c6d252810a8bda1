import Foundation
import TerrainDataset
import TerrainProtocol
import TerrainWire
import TerrainWorker
import XCTest

/// The pieces of cluster launch that need no process: the endpoint file's format and
/// atomic replacement, the advertised host, the placement read from SLURM's and Kubernetes'
/// variables, the hello that carries it, and the dataset filesystem check.
final class ClusterPiecesTests: XCTestCase {
    func testAdvertisedEndpointReplacesOnlyWildcards() {
        XCTAssertEqual(EndpointFile.advertised("tcp://0.0.0.0:43211", host: "node17"), "tcp://node17:43211")
        XCTAssertEqual(EndpointFile.advertised("tcp://*:5555", host: "10.1.2.3"), "tcp://10.1.2.3:5555")
        XCTAssertEqual(EndpointFile.advertised("tcp://[::]:5555", host: "fd00::5"), "tcp://[fd00::5]:5555")
        XCTAssertEqual(EndpointFile.advertised("tcp://10.0.0.5:5555", host: "node17"), "tcp://10.0.0.5:5555")
        XCTAssertEqual(EndpointFile.advertised("ipc:///tmp/c.sock", host: "node17"), "ipc:///tmp/c.sock")
        XCTAssertEqual(EndpointFile.choose(["tcp://127.0.0.1:1", "tcp://0.0.0.0:2"], host: "h"), "tcp://h:2")
        XCTAssertEqual(EndpointFile.choose(["ipc:///x", "tcp://127.0.0.1:1"], host: "h"), "tcp://127.0.0.1:1")
        XCTAssertEqual(EndpointFile.advertiseHost("given", environment: ["TERRAIN_HOST": "env"]), "given")
        XCTAssertEqual(EndpointFile.advertiseHost(nil, environment: ["TERRAIN_HOST": "env"]), "env")
        XCTAssertFalse(EndpointFile.advertiseHost(nil, environment: [:]).isEmpty)
    }

    func testEndpointFileIsReplacedAtomicallyAndRemovedOnlyByItsWriter() throws {
        let dir = NSTemporaryDirectory() + "ep-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/endpoint"
        XCTAssertNil(try EndpointFile.read(path), "no file yet")
        let first = try EndpointFile.write(path, endpoint: "tcp://a:1", comment: "first")
        XCTAssertEqual(try EndpointFile.read(path), "tcp://a:1")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["endpoint"], "no temporary file left")
        let second = try EndpointFile.write(path, endpoint: "tcp://b:2", comment: "second\nline")
        XCTAssertEqual(try EndpointFile.read(path), "tcp://b:2")
        EndpointFile.remove(path, ifHolds: first)
        XCTAssertEqual(try EndpointFile.read(path), "tcp://b:2", "the older coordinator leaves the newer one's file")
        EndpointFile.remove(path, ifHolds: second)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))

        try "# only a comment\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertNil(try EndpointFile.read(path))
        try "http://x:1\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try EndpointFile.read(path)) { XCTAssertTrue("\($0)".contains("not a ZeroMQ endpoint"), "\($0)") }
        XCTAssertThrowsError(try EndpointFile.write(dir + "/missing/endpoint", endpoint: "tcp://a:1", comment: ""))
        XCTAssertThrowsError(try EndpointFile.checkWritable(dir + "/missing/endpoint"))
        XCTAssertNoThrow(try EndpointFile.checkWritable(path))
    }

    func testPlacementFromSlurmAndKubernetesVariables() {
        XCTAssertEqual(WorkerPlacement.describe([:]), "")
        XCTAssertEqual(WorkerPlacement.describe(["SLURM_JOB_ID": "812", "SLURM_STEP_ID": "3", "SLURM_PROCID": "0", "SLURMD_NODENAME": "n1",
                                                 "SLURM_RESTART_COUNT": "1"]),
                       "slurm job 812 step 3 task 0 restart 1 node n1")
        XCTAssertEqual(WorkerPlacement.describe(["SLURM_JOB_ID": "900", "SLURM_ARRAY_JOB_ID": "899", "SLURM_ARRAY_TASK_ID": "7",
                                                 "SLURM_RESTART_COUNT": "0"]),
                       "slurm job 900 (array 899_7)")
        XCTAssertEqual(WorkerPlacement.describe(["KUBERNETES_SERVICE_HOST": "10.96.0.1", "HOSTNAME": "terrain-worker-5d8f-x2",
                                                 "NODE_NAME": "k1", "POD_NAMESPACE": "ml"]),
                       "kubernetes pod terrain-worker-5d8f-x2 namespace ml node k1")
        XCTAssertEqual(WorkerPlacement.describe(["POD_NAME": "w-0", "JOB_COMPLETION_INDEX": "4"]), "kubernetes pod w-0 index 4")
        // Hostile values: control characters and spaces go, the line stays within 255 bytes.
        let long = WorkerPlacement.describe(["SLURM_JOB_ID": "1 2\n3\u{1b}[31m" + String(repeating: "9", count: 500), "SLURMD_NODENAME": "n"])
        XCTAssertTrue(long.hasPrefix("slurm job 123[31m999"), long)
        XCTAssertLessThanOrEqual(long.utf8.count, 255)
        XCTAssertFalse(long.contains("\n"))
    }

    func testHelloCarriesThePlacementAndOlderHellosStillDecode() throws {
        let h = WorkerHello(worker: "n2-17-1", host: "n2", pid: 17, kinds: ["probe"], slots: 1, placement: "slurm job 812 node n2")
        XCTAssertEqual(try WireCodec.decode(WireCodec.encode(.hello(h))), .hello(h))
        let old = WorkerHello(worker: "n2-17-1", host: "n2", pid: 17, kinds: ["probe"], slots: 1)
        let frames = WireCodec.encode(.hello(old))
        XCTAssertEqual(try WireCodec.decode(frames), .hello(old), "a hello without the field has an empty placement")
        var tooLong = h
        tooLong.placement = String(repeating: "x", count: 256)
        XCTAssertThrowsError(try WireCodec.decode(WireCodec.encode(.hello(tooLong))))
    }

    func testDatasetOnANetworkFilesystemIsRefusedWithTheWayOut() throws {
        let nfs: (String) -> String? = { _ in "nfs4" }
        XCTAssertThrowsError(try DatasetFilesystem.check("/home/u/sweep.sqlite", allowNetwork: false, type: nfs)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("/home/u/sweep.sqlite is on NFS"), text)
            XCTAssertTrue(text.contains("--allow-network-filesystem"), text)
        }
        XCTAssertNoThrow(try DatasetFilesystem.check("/home/u/sweep.sqlite", allowNetwork: true, type: nfs))
        XCTAssertThrowsError(try DatasetFilesystem.check("/lustre/x.sqlite", allowNetwork: false, type: { _ in "lustre" }))
        XCTAssertThrowsError(try DatasetFilesystem.check("/m/x.sqlite", allowNetwork: false, type: { _ in "fuse.sshfs" })) {
            XCTAssertTrue("\($0)".contains("FUSE (sshfs)"), "\($0)")
        }
        for local in ["ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs"] {
            XCTAssertNoThrow(try DatasetFilesystem.check("/x.sqlite", allowNetwork: false, type: { _ in local }), local)
        }
        XCTAssertNoThrow(try DatasetFilesystem.check("/x.sqlite", allowNetwork: false, type: { _ in nil }))
    }

    func testTheMountHoldingAPathIsTheLongestMountPointContainingIt() {
        let table = """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        30 22 0:40 / /home rw shared:2 - nfs4 head:/home rw,vers=4.2
        31 30 0:41 / /home/u/scratch rw shared:3 - lustre 10.0.0.1@tcp:/fs rw,flock
        32 22 0:42 / /mnt/my\\040disk rw shared:4 - xfs /dev/sdb rw
        33 22 0:43 / /homework rw shared:5 - tmpfs tmpfs rw
        """
        XCTAssertEqual(DatasetFilesystem.mountType(of: "/home/u/a.sqlite", mountinfo: table), "nfs4")
        XCTAssertEqual(DatasetFilesystem.mountType(of: "/home/u/scratch/a.sqlite", mountinfo: table), "lustre")
        XCTAssertEqual(DatasetFilesystem.mountType(of: "/homework/a.sqlite", mountinfo: table), "tmpfs", "not /home")
        XCTAssertEqual(DatasetFilesystem.mountType(of: "/mnt/my disk/a.sqlite", mountinfo: table), "xfs")
        XCTAssertEqual(DatasetFilesystem.mountType(of: "/var/a.sqlite", mountinfo: table), "ext4")
        // This machine's own table, read by the real call.
        XCTAssertEqual(DatasetFilesystem.type(of: "/proc/self/status"), "proc")
        if FileManager.default.fileExists(atPath: "/dev/shm") { XCTAssertEqual(DatasetFilesystem.type(of: "/dev/shm/none.sqlite"), "tmpfs") }
        let tmp = NSTemporaryDirectory() + "no-such-\(getpid()).sqlite"
        XCTAssertNotNil(DatasetFilesystem.type(of: tmp))
        XCTAssertNoThrow(try DatasetFilesystem.check(tmp, allowNetwork: false))
    }
}
