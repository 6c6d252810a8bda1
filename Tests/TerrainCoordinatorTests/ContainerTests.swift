import Foundation
import TerrainDataset
import TerrainTestSupport
import XCTest

/// deploy/container/ and deploy/k8s/ on real engines where this machine has them: an image
/// assembled from the local build (build-local-image.sh) runs a coordinator and two worker
/// containers in a podman pod, and `podman kube play` runs deploy/k8s/pod.yaml; both finish a
/// sweep identical to `terrain run`. The Kubernetes manifests are validated offline against
/// the Kubernetes 1.29 schemas (PyPI's kubernetes-validate, strict) after `kubectl kustomize`.
/// Runs with `make test-cluster` (root: podman); skipped, saying why, otherwise.
final class ContainerTests: XCTestCase {
    private static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private var harness: ProcessHarness!
    private var cleanups: [String] = []

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["TERRAIN_CLUSTER_TESTS"] == "1" else {
            throw XCTSkip("the container tests run with `make test-cluster` (TERRAIN_CLUSTER_TESTS=1)")
        }
        _ = try ProcessHarness.terrain
        harness = try ProcessHarness(name: "containers")
        chmod(harness.dir, 0o755)
    }

    override func tearDown() {
        for c in cleanups.reversed() { _ = sh(c) }
        harness?.cleanUp()
    }

    @discardableResult
    private func sh(_ command: String, environment: [String: String] = [:]) -> (status: Int32, output: String) {
        TestShell.run(command, environment: environment)
    }

    /// podman with runc and the lowered limits this kind of machine needs (docs: cluster notes).
    private func podman() throws -> [String: String] {
        guard getuid() == 0 else { throw XCTSkip("the podman tests need root") }
        if sh("command -v podman && command -v runc").status != 0 {
            let r = sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc")
            if r.status != 0 { throw XCTSkip("podman could not be installed: \(r.output.suffix(400))") }
        }
        let conf = harness.dir + "/containers.conf"
        try """
        [containers]
        default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
        [engine]
        runtime = "runc"
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        return ["CONTAINERS_CONF": conf]
    }

    private func probe(_ dir: String, tasks: Int, sleepMs: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chown(dir, 10001, 10001)
        let path = dir + "/sweep.yaml"
        try "name: c\nkind: probe\nprobe: {tasks: \(tasks), sleep_ms: \(sleepMs), blob_bytes: 256, chain: 5}\nruntime: {heartbeat_ms: 200}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func reference(tasks: Int) throws -> [UInt64: [UInt8]] {
        let spec = try probe(harness.dir + "/reference", tasks: tasks, sleepMs: 0)
        let dataset = harness.dir + "/reference/r.sqlite"
        let p = try harness.start(["run", spec, "--workers", "2", "--dataset", dataset, "--quiet"], label: "reference")
        XCTAssertEqual(harness.waitForExit(p), 0, harness.output("reference"))
        return try SweepDataset(path: dataset, readOnly: true).resultDigests()
    }

    func testImageFromTheLocalBuildRunsASweepInAPodmanPodAndUnderKubePlay() throws {
        let env = try podman()
        let tag = "localhost/terrain:test-\(getpid())"
        let built = sh("\(Self.repo.path)/deploy/container/build-local-image.sh \(try ProcessHarness.terrain) \(tag)", environment: env)
        XCTAssertEqual(built.status, 0, built.output)
        guard built.status == 0 else { return }
        cleanups.append("podman rmi -f \(tag)")
        print("container image: \(built.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        let expected = try reference(tasks: 40)

        // A pod: the coordinator on the pod's loopback, two workers finding it through the
        // endpoint file on the shared volume.
        let work = harness.dir + "/pod"
        _ = try probe(work, tasks: 40, sleepMs: 40)
        let pod = "terrain-test-\(getpid())"
        XCTAssertEqual(sh("podman pod create --name \(pod)", environment: env).status, 0)
        cleanups.append("podman pod rm -f \(pod)")
        let run = "podman run -d --pod \(pod) -v \(work):/work"
        let c = sh("\(run) \(tag) coordinator /work/sweep.yaml --bind tcp://127.0.0.1:5555 --dataset /work/sweep.sqlite --endpoint-file /work/endpoint --quiet", environment: env)
        XCTAssertEqual(c.status, 0, c.output)
        for i in 1...2 {
            let w = sh("\(run) -e POD_NAME=\(pod)-w\(i) \(tag) worker --connect @/work/endpoint --give-up-after 60", environment: env)
            XCTAssertEqual(w.status, 0, w.output)
        }
        let coordinator = c.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let waited = sh("podman wait \(coordinator)", environment: env)
        XCTAssertEqual(waited.output.trimmingCharacters(in: .whitespacesAndNewlines), "0", sh("podman logs \(coordinator)", environment: env).output)
        XCTAssertEqual(try SweepDataset(path: work + "/sweep.sqlite", readOnly: true).resultDigests(), expected)
        let placements = try SweepDataset(path: work + "/sweep.sqlite", readOnly: true).workerRows().map(\.placement)
        XCTAssertEqual(Set(placements), ["kubernetes pod \(pod)-w1", "kubernetes pod \(pod)-w2"])

        // `podman kube play` of the Pod manifest, pointed at this image and a fresh directory.
        let played = harness.dir + "/kube"
        _ = try probe(played, tasks: 40, sleepMs: 40)
        var manifest = try String(contentsOfFile: Self.repo.path + "/deploy/k8s/pod.yaml", encoding: .utf8)
        manifest = manifest.replacingOccurrences(of: "localhost/terrain:local", with: tag)
            .replacingOccurrences(of: "path: /srv/terrain", with: "path: \(played)")
            .replacingOccurrences(of: "name: terrain-sweep\n", with: "name: \(pod)-kube\n")
        let file = harness.dir + "/pod.yaml"
        try manifest.write(toFile: file, atomically: true, encoding: .utf8)
        let play = sh("podman kube play \(file)", environment: env)
        XCTAssertEqual(play.status, 0, play.output)
        cleanups.append("podman kube down \(file)")
        let kubeCoordinator = "\(pod)-kube-coordinator"
        let done = sh("podman wait \(kubeCoordinator)", environment: env)
        XCTAssertEqual(done.output.trimmingCharacters(in: .whitespacesAndNewlines), "0", sh("podman logs \(kubeCoordinator)", environment: env).output)
        XCTAssertEqual(try SweepDataset(path: played + "/sweep.sqlite", readOnly: true).resultDigests(), expected)
        XCTAssertEqual(Set(try SweepDataset(path: played + "/sweep.sqlite", readOnly: true).workerRows().map(\.placement)),
                       ["kubernetes pod terrain-sweep-worker-1", "kubernetes pod terrain-sweep-worker-2"])
    }

    func testKubernetesManifestsValidateOffline() throws {
        guard sh("command -v kubectl").status == 0 else { throw XCTSkip("kubectl is not installed (it renders the kustomization)") }
        if sh("python3 -c 'import kubernetes_validate'").status != 0 {
            let r = sh("python3 -m pip install --quiet kubernetes-validate")
            if r.status != 0 { throw XCTSkip("kubernetes-validate (PyPI) could not be installed: \(r.output.suffix(300))") }
        }
        let rendered = harness.dir + "/rendered.yaml"
        let k = sh("kubectl kustomize \(Self.repo.path)/deploy/k8s > \(rendered)")
        XCTAssertEqual(k.status, 0, k.output)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/check-k8s.py"
        let checked = sh("python3 \(script) \(rendered) \(Self.repo.path)/deploy/k8s/pod.yaml")
        XCTAssertEqual(checked.status, 0, checked.output)
        XCTAssertTrue(checked.output.contains("5 resources valid"), checked.output)
        // The validator is not a rubber stamp: a wrong type fails.
        let broken = harness.dir + "/broken.yaml"
        try (try String(contentsOfFile: rendered, encoding: .utf8)).replacingOccurrences(of: "replicas: 1", with: "replicas: one")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(sh("python3 \(script) \(broken)").status, 0)
    }
}
