/// Where a worker runs as its batch system sees it, read from the environment the scheduler
/// gives its processes: SLURM's `SLURM_*` variables, or Kubernetes' pod (the manifests in
/// deploy/k8s/ pass `POD_NAME` and `NODE_NAME` through the downward API; without them a pod's
/// `HOSTNAME` is its name). The text goes into the worker's hello, the coordinator's
/// `worker-joined` event and the dataset's `workers` table, and `terrain status` shows it.
public enum WorkerPlacement {
    /// A one-line description, e.g. `slurm job 812 (array 810_2) step 0 task 1 node n2`, or
    /// `kubernetes pod terrain-worker-3 node k1`; empty outside a batch system. At most 255
    /// bytes (longer values are cut).
    public static func describe(_ environment: [String: String]) -> String {
        func value(_ key: String) -> String? {
            guard let v = environment[key], !v.isEmpty else { return nil }
            // One printable token per value: the line is shown in terminals and logs.
            let cleaned = String(v.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(64).map(Character.init))
            return cleaned.isEmpty ? nil : cleaned
        }
        var parts = [String]()
        if let job = value("SLURM_JOB_ID") ?? value("SLURM_JOBID") {
            parts.append("slurm job \(job)")
            if let array = value("SLURM_ARRAY_JOB_ID"), let index = value("SLURM_ARRAY_TASK_ID") { parts.append("(array \(array)_\(index))") }
            if let step = value("SLURM_STEP_ID") ?? value("SLURM_STEPID") { parts.append("step \(step)") }
            if let task = value("SLURM_PROCID") { parts.append("task \(task)") }
            if let restarts = value("SLURM_RESTART_COUNT"), restarts != "0" { parts.append("restart \(restarts)") }
            if let node = value("SLURMD_NODENAME") ?? value("SLURM_NODENAME") { parts.append("node \(node)") }
        } else if value("KUBERNETES_SERVICE_HOST") != nil || value("POD_NAME") != nil {
            if let pod = value("POD_NAME") ?? value("HOSTNAME") { parts.append("kubernetes pod \(pod)") } else { parts.append("kubernetes") }
            if let namespace = value("POD_NAMESPACE") { parts.append("namespace \(namespace)") }
            if let index = value("JOB_COMPLETION_INDEX") { parts.append("index \(index)") }
            if let node = value("NODE_NAME") { parts.append("node \(node)") }
        }
        // Every value is printable ASCII: characters are bytes.
        return String(parts.joined(separator: " ").prefix(255))
    }
}
