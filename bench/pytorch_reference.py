#!/usr/bin/env python3
"""PyTorch's figures for the workloads of `terrain-bench`, on one CPU thread.

    python3 bench/pytorch_reference.py [--workload mlp|resnet20|resnet56|vgg9|all] [--json]

Each workload mirrors a line of `terrain-bench` (bench/CoreBenchmarks.swift and
bench/ConvBenchmarks.swift): same model, batch size, data shape and amount of work, so the
ratio of the two programs' figures, measured on one machine in one run, is the speed-up.
`terrain-bench` calls this script itself when `import torch` works (PyPI's torch; the
benchmark does not need it otherwise).

Workloads
  mlp       the example MLP 40-256-256-10 on MNIST-1D: training samples/s at batch 128
            (SGD, momentum 0.9), full-train-set evaluations per second (4,000 samples) and
            Hessian-vector products per second over the same samples (double backprop)
  resnet20  CIFAR ResNet-20 (16/32/64 channels, 3 basic blocks per stage, BatchNorm,
            1x1 projection shortcuts) on random [3, 32, 32] images: training samples/s at
            batch 128, evaluation samples/s over 1,000 images (no_grad, eval mode, batches
            of 128), surface points/s (set the weights to θ + a·d1 + b·d2, evaluate 1,000 images)
  resnet56, vgg9  the same figures for those presets
  hvp       Hessian-vector products only (double backprop, as PyHessian): the example MLP
            over its 4,000 MNIST-1D samples (mlp_hvp_per_s)
  hvp-resnet20  the same for ResNet-20 in eval mode over 256 random [3, 32, 32] images in
            batches of 128 (resnet20_hvp_per_s)
  eval-memory  (with --data FILE.npz) evaluate ResNet-20 on the file's x_test/y_test
            (uint8 NHWC images, batches of 128, no_grad) and print the peak resident memory
Always printed: single-thread sgemm 1024^3 in GFLOP/s.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_time(fn, budget=2.0, rounds=3):
    """Best per-call seconds over `rounds` rounds of at least budget/rounds seconds each."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        calls, elapsed = 0, 0.0
        while elapsed < budget / rounds:
            t = time.perf_counter()
            fn()
            elapsed += time.perf_counter() - t
            calls += 1
        best = min(best, elapsed / calls)
    return best


# The conv nets are the presets' own modules (docs/pytorch_presets.py: loss-landscape's
# ResNet_cifar and VGG9 with the same names Terrain uses), so both sides run one architecture.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
import pytorch_presets  # noqa: E402


def sgemm():
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    t = best_time(lambda: torch.mm(a, b))
    return {"sgemm_gflops": 2 * 1024 ** 3 / t / 1e9}


def mlp():
    data = np.load(os.path.join(ROOT, "data", "mnist1d.npz"))
    x = torch.tensor(data["x_train"], dtype=torch.float32)
    y = torch.tensor(data["y_train"], dtype=torch.int64)
    model = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    steps, state = 64, {"i": 0}

    def train():
        for _ in range(steps):
            i = state["i"] % (len(x) // 128)
            state["i"] += 1
            xb, yb = x[i * 128:(i + 1) * 128], y[i * 128:(i + 1) * 128]
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()

    t_train = best_time(train, budget=3)
    model.eval()

    def evaluate():
        with torch.no_grad():
            F.cross_entropy(model(x), y, reduction="sum")

    t_eval = best_time(evaluate, budget=3)
    params = [p for p in model.parameters()]
    v = [torch.randn_like(p) for p in params]

    def hvp():
        # Double backprop over the 4,000 samples, as PyHessian computes H·v.
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        torch.autograd.grad(grads, params, grad_outputs=v)

    t_hvp = best_time(hvp, budget=3)
    return {"mlp_train_samples_per_s": steps * 128 / t_train, "mlp_eval_points_per_s": 1 / t_eval,
            "mlp_hvp_per_s": 1 / t_hvp}


def conv_model(name):
    return pytorch_presets.build(name)


def conv(name, train_steps=4):
    model = conv_model(name)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(128 * train_steps, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (128 * train_steps,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train():
        for s in range(train_steps):
            opt.zero_grad()
            F.cross_entropy(model(x[s * 128:(s + 1) * 128]), y[s * 128:(s + 1) * 128]).backward()
            opt.step()

    t_train = best_time(train, budget=6, rounds=2)
    model.eval()
    xe = torch.randn(1000, 3, 32, 32, generator=g)
    ye = torch.randint(0, 10, (1000,), generator=g)

    def evaluate():
        with torch.no_grad():
            for i in range(0, 1000, 128):
                F.cross_entropy(model(xe[i:i + 128]), ye[i:i + 128], reduction="sum")

    t_eval = best_time(evaluate, budget=4, rounds=2)
    params = list(model.parameters())
    centre = torch.nn.utils.parameters_to_vector(params).detach().clone()
    d1, d2 = torch.randn_like(centre), torch.randn_like(centre)
    state = {"p": 0}

    def point():
        a, b = (state["p"] % 7) * 0.1 - 0.3, (state["p"] % 5) * 0.1 - 0.2
        state["p"] += 1
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(centre + a * d1 + b * d2, params)
        evaluate()

    t_point = best_time(point, budget=4, rounds=2)

    def statistics():
        # BatchNorm statistics re-estimated over the 1,000 images: training-mode forward
        # passes without gradients, cumulative average (momentum None), as a surface's
        # `batch_norm: recompute` does at every point.
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        model.train()
        with torch.no_grad():
            for i in range(0, 1000, 128):
                model(xe[i:i + 128])
        model.eval()

    t_stats = best_time(statistics, budget=4, rounds=2)
    return {f"{name}_train_samples_per_s": 128 * train_steps / t_train,
            f"{name}_bn_statistics_samples_per_s": 1000 / t_stats,
            f"{name}_eval_samples_per_s": 1000 / t_eval,
            f"{name}_surface_points_per_s": 1 / t_point}


def double_backprop_hvp(model, batches):
    """One H·v over `batches` (list of (x, y)), mean loss, as PyHessian's `hv_product`."""
    params = [p for p in model.parameters() if p.requires_grad]
    v = [torch.randn_like(p) for p in params]
    n = sum(len(x) for x, _ in batches)

    def hvp():
        for x, y in batches:
            loss = F.cross_entropy(model(x), y, reduction="sum") / n
            grads = torch.autograd.grad(loss, params, create_graph=True)
            torch.autograd.grad(grads, params, grad_outputs=v)
    return hvp


def hvp_workload():
    data = np.load(os.path.join(ROOT, "data", "mnist1d.npz"))
    x = torch.tensor(data["x_train"], dtype=torch.float32)
    y = torch.tensor(data["y_train"], dtype=torch.int64)
    mlp_model = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    t_mlp = best_time(double_backprop_hvp(mlp_model, [(x, y)]), budget=3)
    return {"mlp_hvp_per_s": 1 / t_mlp}


def hvp_resnet20_workload():
    resnet = conv_model("resnet20").eval()
    g = torch.Generator().manual_seed(3)
    xi = torch.randn(256, 3, 32, 32, generator=g)
    yi = torch.randint(0, 10, (256,), generator=g)
    t_resnet = best_time(double_backprop_hvp(resnet, [(xi[:128], yi[:128]), (xi[128:], yi[128:])]), budget=6, rounds=2)
    return {"resnet20_hvp_per_s": 1 / t_resnet}


def eval_memory(path):
    """Peak resident memory (MB) of evaluating ResNet-20 on an NPZ file's test images, the
    way a PyTorch user would: the images as one float tensor, batches of 128, no_grad."""
    import resource
    d = np.load(path)
    x = (torch.tensor(d["x_test"], dtype=torch.float32).permute(0, 3, 1, 2) / 255.0 - 0.5) / 0.29
    y = torch.tensor(d["y_test"], dtype=torch.int64)
    model = CifarResNet(3).eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 128):
            total += F.cross_entropy(model(x[i:i + 128]), y[i:i + 128], reduction="sum").item()
    return {"images": float(len(x)), "eval_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="all", choices=["mlp", "resnet20", "resnet56", "vgg9", "all", "eval-memory", "hvp", "hvp-resnet20"])
    parser.add_argument("--data", help="the NPZ file of --workload eval-memory")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    if args.workload == "eval-memory":
        out = eval_memory(args.data)
        print(json.dumps(out) if args.json else out)
        return
    out = {"torch": torch.__version__, **sgemm()}
    if args.workload == "hvp":
        out.update(hvp_workload())
    if args.workload == "hvp-resnet20":
        out.update(hvp_resnet20_workload())
    if args.workload in ("mlp", "all"):
        out.update(mlp())
    for name in ("resnet20", "resnet56", "vgg9"):
        if args.workload in (name, "all"):
            out.update(conv(name))
    if args.json:
        json.dump(out, sys.stdout)
        print()
    else:
        for k, v in out.items():
            print(f"{k:32} {v if isinstance(v, str) else f'{v:10.2f}'}")


if __name__ == "__main__":
    main()
