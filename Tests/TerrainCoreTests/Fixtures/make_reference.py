#!/usr/bin/env python3
"""Independent numpy reference fixtures for Terrain's forward pass / loss / Hessian.

Writes small safetensors files into ./reference/ (next to this script):
  mlp.safetensors     MLP 40-32-16-10 (ReLU) on mnist1d x_train[:16]
  cnn.safetensors     Conv1d(1->4,k5,s2,p2)-ReLU-Conv1d(4->6,k5,s2,p2)-ReLU-Flatten-Linear(60->10)
  cnn2d.safetensors   Conv2d(1->3,k3,p1)-ReLU-MaxPool2d(2)-Conv2d(3->4,k3,s2,p1)-ReLU-Flatten-Linear(16->10)
                      on digits x_train[:8]
  linreg.safetensors  Linear(5->1) MSE problem: exact Hessian (2/n) A^T A, eigenvalues, lambda_max

Conventions (PyTorch-compatible):
  * parameter names follow nn.Sequential under attribute `layers`
  * Linear weight [out, in]; Conv1d weight [out, in, k]; Conv2d weight [out, in, kh, kw]
  * parameters drawn in module order, weight then bias, each
    rng.uniform(-1/sqrt(fan_in), 1/sqrt(fan_in), size=shape) (float64), then cast to float32
    (fan_in = in_features for Linear, in_channels * prod(kernel) for Conv)
  * all reference computations are float64 from the float32 stored values cast to float64
  * convolution = cross-correlation with zero padding; Flatten is row-major over [C, (H,) W]
  * loss = mean softmax cross-entropy (stable, via logsumexp)

Requires python3 + numpy only. Run:  python3 make_reference.py
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(HERE, "reference")
DATA = os.path.join(ROOT, "data")

# --------------------------------------------------------------------------- safetensors I/O

_DT = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}
_DT_NAME = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}


def save_safetensors(path, tensors, metadata):
    """tensors: dict name -> np.ndarray (float32 / float64 / int64). Order is preserved."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    chunks, off = [], 0
    # lay out 8-byte dtypes first (stable), so every tensor's offset is aligned to its itemsize
    items = sorted(((k, np.asarray(v)) for k, v in tensors.items()), key=lambda kv: -kv[1].dtype.itemsize)
    for name, arr in items:
        dt = _DT_NAME[arr.dtype]
        raw = np.ascontiguousarray(arr, dtype=_DT[dt]).tobytes(order="C")
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-(8 + len(hj))) % 8)  # pad so that 8 + N is a multiple of 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for c in chunks:
            f.write(c)


def load_safetensors(path):
    """Returns dict name -> np.ndarray, plus '__metadata__' -> dict (if present)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert (8 + n) % 8 == 0, "header not 8-aligned"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    buf = blob[8 + n:]
    out, end_max = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            out[name] = info
            continue
        b, e = info["data_offsets"]
        dt = _DT[info["dtype"]]
        shape = tuple(info["shape"])
        assert e - b == int(np.prod(shape, dtype=np.int64)) * dt.itemsize, name
        assert b % dt.itemsize == 0, ("misaligned tensor", name)
        out[name] = np.frombuffer(buf[b:e], dtype=dt).reshape(shape).copy()
        end_max = max(end_max, e)
    assert end_max == len(buf), "trailing / missing bytes in data buffer"
    return out


# --------------------------------------------------------------------------- numpy ops (float64)

def linear(x, w, b):
    return x @ w.T + b


def relu(x):
    return np.maximum(x, 0.0)


def conv1d(x, w, b, stride, pad):
    """x [N,C,L], w [O,C,K] -> [N,O,Lout]; vectorized cross-correlation."""
    K = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, K, axis=2)[:, :, ::stride, :]  # [N,C,Lout,K]
    return np.einsum("nctk,ock->not", win, w) + b[None, :, None]


def conv2d(x, w, b, stride, pad):
    """x [N,C,H,W], w [O,C,KH,KW] -> [N,O,Ho,Wo]; vectorized cross-correlation."""
    KH, KW = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # [N,C,Ho,Wo,KH,KW]
    return np.einsum("nchwij,ocij->nohw", win, w) + b[None, :, None, None]


def maxpool2d(x, k):
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    return x[:, :, :Ho * k, :Wo * k].reshape(N, C, Ho, k, Wo, k).max(axis=(3, 5))


def cross_entropy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(labels)), labels]))


# naive loop versions, used only by the self-check (independent code path)

def conv1d_naive(x, w, b, stride, pad):
    N, C, L = x.shape
    O, _, K = w.shape
    Lo = (L + 2 * pad - K) // stride + 1
    out = np.zeros((N, O, Lo))
    for n in range(N):
        for o in range(O):
            for t in range(Lo):
                s = b[o]
                for c in range(C):
                    for j in range(K):
                        i = t * stride + j - pad
                        if 0 <= i < L:
                            s += w[o, c, j] * x[n, c, i]
                out[n, o, t] = s
    return out


def conv2d_naive(x, w, b, stride, pad):
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    Ho = (H + 2 * pad - KH) // stride + 1
    Wo = (W + 2 * pad - KW) // stride + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for p in range(Ho):
                for q in range(Wo):
                    s = b[o]
                    for c in range(C):
                        for i in range(KH):
                            for j in range(KW):
                                r, cc = p * stride + i - pad, q * stride + j - pad
                                if 0 <= r < H and 0 <= cc < W:
                                    s += w[o, c, i, j] * x[n, c, r, cc]
                    out[n, o, p, q] = s
    return out


def maxpool2d_naive(x, k):
    N, C, H, W = x.shape
    out = np.empty((N, C, H // k, W // k))
    for idx in np.ndindex(*out.shape):
        n, c, p, q = idx
        out[idx] = max(x[n, c, p * k + i, q * k + j] for i in range(k) for j in range(k))
    return out


def cross_entropy_naive(logits, labels):
    tot = 0.0
    for row, y in zip(logits, labels):
        p = np.exp(row - row.max())
        tot += -np.log(p[y] / p.sum())
    return tot / len(labels)


# --------------------------------------------------------------------------- parameter init

def init_params(rng, specs):
    """specs: list of (name_prefix, weight_shape, fan_in). Draws weight then bias per layer."""
    params = {}
    for prefix, wshape, fan_in in specs:
        bound = 1.0 / np.sqrt(fan_in)
        params[prefix + ".weight"] = rng.uniform(-bound, bound, size=wshape).astype(np.float32)
        params[prefix + ".bias"] = rng.uniform(-bound, bound, size=(wshape[0],)).astype(np.float32)
    return params


def f64(a):
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------- models

def mlp_forward(P, x, naive=False):
    h = f64(x)
    h = relu(linear(h, f64(P["layers.0.weight"]), f64(P["layers.0.bias"])))
    h = relu(linear(h, f64(P["layers.2.weight"]), f64(P["layers.2.bias"])))
    return linear(h, f64(P["layers.4.weight"]), f64(P["layers.4.bias"]))


def cnn_forward(P, x, naive=False):
    c1 = conv1d_naive if naive else conv1d
    h = f64(x).reshape(x.shape[0], 1, 40)                                                 # layers.0
    h = relu(c1(h, f64(P["layers.1.weight"]), f64(P["layers.1.bias"]), 2, 2))             # 1,2 -> [N,4,20]
    h = relu(c1(h, f64(P["layers.3.weight"]), f64(P["layers.3.bias"]), 2, 2))             # 3,4 -> [N,6,10]
    h = h.reshape(h.shape[0], -1)                                                         # 5   -> [N,60]
    return linear(h, f64(P["layers.6.weight"]), f64(P["layers.6.bias"]))                  # 6


def cnn2d_forward(P, x, naive=False):
    c2 = conv2d_naive if naive else conv2d
    mp = maxpool2d_naive if naive else maxpool2d
    h = f64(x).reshape(x.shape[0], 1, 8, 8)                                               # layers.0
    h = relu(c2(h, f64(P["layers.1.weight"]), f64(P["layers.1.bias"]), 1, 1))             # 1,2 -> [N,3,8,8]
    h = mp(h, 2)                                                                          # 3   -> [N,3,4,4]
    h = relu(c2(h, f64(P["layers.4.weight"]), f64(P["layers.4.bias"]), 2, 1))             # 4,5 -> [N,4,2,2]
    h = h.reshape(h.shape[0], -1)                                                         # 6   -> [N,16]
    return linear(h, f64(P["layers.7.weight"]), f64(P["layers.7.bias"]))                  # 7


FORWARD = {"mlp": mlp_forward, "cnn": cnn_forward, "cnn2d": cnn2d_forward}


def meta(description):
    return {"generator": "make_reference.py", "numpy": np.__version__, "description": description}


def build_classifier(name, params, x, y, description):
    logits = FORWARD[name](params, x)
    loss = cross_entropy(logits, y)
    tensors = dict(params)
    tensors["input"] = x.astype(np.float32)
    tensors["labels"] = y.astype(np.int64)
    tensors["expected_logits"] = logits.astype(np.float64)
    tensors["expected_loss"] = np.array(loss, dtype=np.float64)  # shape []
    save_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, meta(description))


def main():
    os.makedirs(OUT, exist_ok=True)
    m1 = np.load(os.path.join(DATA, "mnist1d.npz"))
    x1, y1 = m1["x_train"][:16].astype(np.float32), m1["y_train"][:16].astype(np.int64)
    dg = np.load(os.path.join(DATA, "digits.npz"))
    x2, y2 = dg["x_train"][:8].astype(np.float32), dg["y_train"][:8].astype(np.int64)

    # 1. MLP 40-32-16-10
    P = init_params(np.random.default_rng(1234), [
        ("layers.0", (32, 40), 40), ("layers.2", (16, 32), 32), ("layers.4", (10, 16), 16)])
    build_classifier("mlp", P, x1, y1,
                     "nn.Sequential MLP Linear(40,32)-ReLU-Linear(32,16)-ReLU-Linear(16,10) on mnist1d "
                     "x_train[:16]; params U(+-1/sqrt(fan_in)) default_rng(1234), weight then bias per layer; "
                     "expected_logits/expected_loss (mean softmax CE) in float64")

    # 2. 1-D CNN
    P = init_params(np.random.default_rng(5678), [
        ("layers.1", (4, 1, 5), 1 * 5), ("layers.3", (6, 4, 5), 4 * 5), ("layers.6", (10, 60), 60)])
    build_classifier("cnn", P, x1, y1,
                     "nn.Sequential Unflatten(1,(1,40))-Conv1d(1,4,5,s2,p2)-ReLU-Conv1d(4,6,5,s2,p2)-ReLU-"
                     "Flatten-Linear(60,10) on mnist1d x_train[:16]; params U(+-1/sqrt(fan_in)) "
                     "default_rng(5678), weight then bias per layer; float64 reference")

    # 3. 2-D CNN
    P = init_params(np.random.default_rng(91011), [
        ("layers.1", (3, 1, 3, 3), 1 * 9), ("layers.4", (4, 3, 3, 3), 3 * 9), ("layers.7", (10, 16), 16)])
    build_classifier("cnn2d", P, x2, y2,
                     "nn.Sequential Unflatten(1,(1,8,8))-Conv2d(1,3,3,s1,p1)-ReLU-MaxPool2d(2)-"
                     "Conv2d(3,4,3,s2,p1)-ReLU-Flatten-Linear(16,10) on digits x_train[:8]; params "
                     "U(+-1/sqrt(fan_in)) default_rng(91011), weight then bias per layer; float64 reference")

    # 4. linear regression Hessian
    rng = np.random.default_rng(42)
    X = (rng.normal(size=(64, 5)) * np.array([1.0, 2.0, 0.5, 3.0, 1.5])).astype(np.float32)
    w_true = np.array([1.5, -2.0, 0.5, 3.0, -1.0])
    t = (f64(X) @ w_true + 0.1 * rng.normal(size=64)).astype(np.float32).reshape(64, 1)
    W = np.array([[0.5, -0.25, 1.0, 0.75, -0.5]], dtype=np.float32)
    b = np.array([0.1], dtype=np.float32)
    n = X.shape[0]
    A = np.hstack([f64(X), np.ones((n, 1))])
    H = (2.0 / n) * (A.T @ A)
    ev = np.sort(np.linalg.eigvalsh(H))[::-1].copy()
    r = f64(X) @ f64(W).T + f64(b) - f64(t)
    loss = float(np.mean(r ** 2))
    save_safetensors(os.path.join(OUT, "linreg.safetensors"), {
        "layers.0.weight": W, "layers.0.bias": b,
        "input": X, "targets": t,
        "hessian": H, "eigenvalues": ev, "lambda_max": np.array(ev[0], dtype=np.float64),
        "expected_loss": np.array(loss, dtype=np.float64),
    }, meta("Linear(5,1) MSE regression: X=default_rng(42).normal((64,5))*[1,2,0.5,3,1.5] (F32), "
            "t=X@[1.5,-2,0.5,3,-1]+0.1*normal (same rng, F32). hessian=(2/n)A^T A over (weight[0..4], bias), "
            "A=[X,1]; eigenvalues descending (eigvalsh); expected_loss=mean((Xw^T+b-t)^2) in float64"))

    self_check()


def self_check():
    print(f"{'file':<20}{'bytes':>8}  tensors")
    for name in ["mlp", "cnn", "cnn2d", "linreg"]:
        path = os.path.join(OUT, name + ".safetensors")
        T = load_safetensors(path)
        md = T.pop("__metadata__")
        assert md["generator"] == "make_reference.py" and md["numpy"] == np.__version__
        size = os.path.getsize(path)
        assert size < 200 * 1024, (path, size)
        if name in FORWARD:
            x, y = T["input"], T["labels"]
            for naive in (False, True):
                logits = FORWARD[name](T, x, naive=naive)
                np.testing.assert_allclose(logits, T["expected_logits"], rtol=1e-12, atol=1e-12)
            assert abs(cross_entropy_naive(logits, y) - float(T["expected_loss"])) < 1e-12
        else:
            X, t = f64(T["input"]), f64(T["targets"])
            W, b = f64(T["layers.0.weight"]), f64(T["layers.0.bias"])
            n = X.shape[0]
            # Hessian via explicit per-sample sums (independent of the matrix form)
            H = np.zeros((6, 6))
            for i in range(n):
                a = np.append(X[i], 1.0)
                H += np.outer(a, a)
            H *= 2.0 / n
            np.testing.assert_allclose(H, T["hessian"], rtol=1e-12, atol=1e-12)
            ev = np.linalg.eigvals(T["hessian"]).real
            np.testing.assert_allclose(np.sort(ev)[::-1], T["eigenvalues"], rtol=1e-10, atol=1e-12)
            assert float(T["lambda_max"]) == T["eigenvalues"][0]
            loss = sum((float(X[i] @ W[0] + b[0]) - t[i, 0]) ** 2 for i in range(n)) / n
            assert abs(loss - float(T["expected_loss"])) < 1e-10 * max(1.0, loss)
        desc = ", ".join(f"{k} {T[k].dtype.name}{list(T[k].shape)}" for k in T)
        extra = ""
        if "expected_loss" in T:
            extra = f"  expected_loss={float(T['expected_loss']):.6f}"
        if "lambda_max" in T:
            extra += f"  lambda_max={float(T['lambda_max']):.6f}"
        print(f"{name + '.safetensors':<20}{size:>8}  {desc}{extra}")
    print("self-check OK")


if __name__ == "__main__":
    main()
