#!/usr/bin/env python3
"""Independent numpy reference for the surface fixture.

Reads centre.safetensors (a Terrain checkpoint of an MLP 40-16-10) and directions.safetensors
(the d1/d2 Terrain generated, exported with `terrain export --directions`), evaluates the loss
surface L(θ* + α·d1 + β·d2) at a few grid points in float64, and computes the Hessian of the
mean training loss at θ* (central differences of the analytic float64 gradient, ReLU pattern
held at θ*) for its top eigenvalue and trace. Writes reference.json. Run from this folder with python3 + numpy.
"""
import json
import struct

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "I64": "<i8"}


def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=DTYPES[v["dtype"]]).reshape(v["shape"])
            for k, v in header.items()}


NAMES = ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
centre = load("centre.safetensors")
dirs = load("directions.safetensors")
data = np.load("../../../../data/mnist1d.npz")
sets = {"train": (data["x_train"].astype(np.float64), data["y_train"]),
        "test": (data["x_test"].astype(np.float64), data["y_test"])}


def point(alpha, beta):
    # Terrain forms each parameter in float64 and rounds once to float32.
    return {k: (centre[k].astype(np.float64) + alpha * dirs["d1." + k].astype(np.float64)
                + beta * dirs["d2." + k].astype(np.float64)).astype(np.float32).astype(np.float64) for k in NAMES}


def forward(p, x):
    h = np.maximum(x @ p["layers.0.weight"].T + p["layers.0.bias"], 0)
    return h @ p["layers.2.weight"].T + p["layers.2.bias"]


def loss_acc(p, x, y):
    z = forward(p, x)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    return float(np.mean(lse - z[np.arange(len(y)), y])), float(np.mean(z.argmax(axis=1) == y))


points = [(0.0, 0.0), (0.5, -0.5), (-1.0, 1.0), (1.0, 0.5), (-0.5, 0.0)]
surface = []
for a, b in points:
    p = point(a, b)
    row = {"alpha": a, "beta": b}
    for name, (x, y) in sets.items():
        row[name + "_loss"], row[name + "_acc"] = loss_acc(p, x, y)
    surface.append(row)

# Hessian of the mean training loss at θ* (float64): central differences of the analytic
# gradient with the ReLU pattern held at θ*, i.e. the exact Hessian of the linear piece θ* lies
# in (what double backprop computes); without freezing, units switching between the two
# points add jumps that do not vanish as the step shrinks.
theta = {k: centre[k].astype(np.float64) for k in NAMES}
shapes = [theta[k].shape for k in NAMES]
sizes = [theta[k].size for k in NAMES]


def flat(p):
    return np.concatenate([p[k].ravel() for k in NAMES])


def unflat(v):
    out, i = {}, 0
    for k, s, n in zip(NAMES, shapes, sizes):
        out[k] = v[i:i + n].reshape(s)
        i += n
    return out


def grad(v, pattern):
    p = unflat(v)
    x, y = sets["train"]
    n = len(y)
    a1 = x @ p["layers.0.weight"].T + p["layers.0.bias"]
    h = a1 * pattern
    z = h @ p["layers.2.weight"].T + p["layers.2.bias"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    g = e / e.sum(axis=1, keepdims=True)
    g[np.arange(n), y] -= 1
    g /= n
    gw2, gb2 = g.T @ h, g.sum(axis=0)
    gh = (g @ p["layers.2.weight"]) * pattern
    gw1, gb1 = gh.T @ x, gh.sum(axis=0)
    return flat({"layers.0.weight": gw1, "layers.0.bias": gb1, "layers.2.weight": gw2, "layers.2.bias": gb2})


v0 = flat(theta)
P = v0.size
x_train = sets["train"][0]
pattern0 = (x_train @ theta["layers.0.weight"].T + theta["layers.0.bias"] > 0).astype(np.float64)
H = np.empty((P, P))
step = 1e-5
for i in range(P):
    e = np.zeros(P)
    e[i] = step
    H[:, i] = (grad(v0 + e, pattern0) - grad(v0 - e, pattern0)) / (2 * step)
H = (H + H.T) / 2
eig = np.linalg.eigvalsh(H)
reference = {
    "generator": "make_surface_reference.py", "numpy": np.__version__,
    "points": surface,
    "hessian_parameters": int(P),
    "lambda_max": float(eig[-1]), "lambda_2": float(eig[-2]), "lambda_min": float(eig[0]),
    "trace": float(np.trace(H)),
    # The three eigenvalues of largest magnitude, as power iteration with deflation finds them
    # (terrain evaluate --eigenvalues 3, curvature.eigenvalues: 3).
    "eigenvalues_by_magnitude": [float(v) for v in eig[np.argsort(-np.abs(eig), kind="stable")][:3]],
}
json.dump(reference, open("reference.json", "w"), indent=1)
print(json.dumps({k: v for k, v in reference.items() if k != "points"}, indent=1))
for r in surface:
    print(r)
