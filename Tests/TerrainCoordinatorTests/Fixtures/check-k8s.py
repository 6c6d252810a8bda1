#!/usr/bin/env python3
"""Offline checks of deploy/k8s (ContainerTests): every resource validates strictly against the
Kubernetes 1.29 schemas (kubernetes-validate), and Terrain's own rules hold: one BLAS thread in
every container, workers request and are limited to one core, a worker's --grace and the
coordinator's fit in the pod's terminationGracePeriodSeconds, one coordinator replica with its
dataset on a claim, and the Service port is the port the coordinator binds.

    check-k8s.py FILE...
"""
import sys

import kubernetes_validate
import yaml


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def option(args, name):
    return args[args.index(name) + 1] if name in args else None


def pod_spec(doc):
    if doc["kind"] == "Pod":
        return doc["spec"]
    return doc["spec"]["template"]["spec"]


def check_containers(doc):
    spec = pod_spec(doc)
    grace_period = spec.get("terminationGracePeriodSeconds", 30)
    for c in spec["containers"]:
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if env.get("OPENBLAS_NUM_THREADS") != "1":
            fail(f"{doc['kind']}/{doc['metadata']['name']} container {c['name']}: OPENBLAS_NUM_THREADS=1 missing")
        args = [str(a) for a in c.get("args", [])]
        grace = option(args, "--grace")
        if grace is not None and float(grace) >= grace_period:
            fail(f"{c['name']}: --grace {grace} is not below terminationGracePeriodSeconds {grace_period}")
        if args and args[0] == "worker" and doc["kind"] != "Pod":
            resources = c.get("resources", {})
            if str(resources.get("requests", {}).get("cpu")) != "1" or str(resources.get("limits", {}).get("cpu")) != "1":
                fail(f"{c['name']}: a worker requests and is limited to one core")
    return spec


def main():
    docs = []
    for path in sys.argv[1:]:
        with open(path) as f:
            docs += [(path, d) for d in yaml.safe_load_all(f) if d]
    for path, doc in docs:
        try:
            kubernetes_validate.validate(doc, "1.29.0", strict=True)
        except kubernetes_validate.ValidationError as e:
            fail(f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {e.message} at {'.'.join(map(str, e.path))}")
        except Exception as e:  # a document that is not a resource at all
            fail(f"{path}: {e}")
    by_kind = {}
    for _, doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
        if doc["kind"] in ("StatefulSet", "Job", "Pod", "Deployment"):
            check_containers(doc)
    for sts in by_kind.get("StatefulSet", []):
        if sts["spec"]["replicas"] != 1 or not sts["spec"].get("volumeClaimTemplates"):
            fail("the coordinator: one replica, its dataset on a PersistentVolumeClaim")
        args = [str(a) for a in sts["spec"]["template"]["spec"]["containers"][0]["args"]]
        port = int(option(args, "--bind").rsplit(":", 1)[1])
        services = [s for s in by_kind.get("Service", []) if s["metadata"]["name"] == sts["spec"]["serviceName"]]
        if not services or services[0]["spec"]["ports"][0]["targetPort"] != port:
            fail(f"the Service {sts['spec']['serviceName']} does not forward to the bound port {port}")
    for job in by_kind.get("Job", []):
        args = [str(a) for a in job["spec"]["template"]["spec"]["containers"][0]["args"]]
        target = option(args, "--connect")
        names = [f"tcp://{s['metadata']['name']}:{s['spec']['ports'][0]['port']}" for s in by_kind.get("Service", [])]
        if target not in names:
            fail(f"workers connect to {target}, not a Service ({names})")
    print(f"{len(docs)} resources valid")


main()
