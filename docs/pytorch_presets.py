#!/usr/bin/env python3
"""Terrain's model presets as PyTorch modules, and PyTorch checkpoints to safetensors.

Needs torch and numpy only (no `safetensors` package: the format is written here).

The modules have the attribute names of the landscape papers' code (Li et al. 2018,
github.com/tomgoldstein/loss-landscape, cifar10/models), so their state_dicts and Terrain's
checkpoints of the same preset share every tensor name and shape:

  resnet20, resnet56, resnet110           CIFAR ResNet-(6n+2), 16/32/64 channels, n = 3/9/18
  resnet20_noshort, … resnet110_noshort   the same without shortcut connections
  vgg9                                    VGG-9 with BatchNorm and a 256-unit fc layer

Commands:
  convert CKPT OUT --arch resnet56 [--shortcut zero_pad] [--strip-prefix module.]
      a PyTorch checkpoint (a state_dict, or a dict holding one under 'state_dict',
      'model_state_dict', 'model' or 'net') → a safetensors file Terrain loads by name;
      the state_dict is first loaded strictly into the module below, so a file that does
      not fit the preset fails here, with PyTorch's list of missing/unexpected keys.
  logits WEIGHTS --arch resnet56 --inputs X.npy [--output L.npy]
      loads a safetensors file (e.g. one Terrain wrote) strictly and prints the logits of
      the inputs (N×C×H×W float32) in evaluation mode.
  fixture OUTDIR --arch resnet20
      writes OUTDIR/<arch>.safetensors (seeded weights, BatchNorm statistics perturbed) and
      OUTDIR/<arch>-reference.safetensors (inputs, labels, float64 logits in eval and train
      mode, the training loss and some gradients) — the committed test fixture.
  macs
      multiply-accumulates per 3×32×32 image of every preset, counted with forward hooks.
"""
import argparse
import copy
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = ["resnet20", "resnet56", "resnet110", "resnet20_noshort", "resnet56_noshort", "resnet110_noshort", "vgg9"]


# --------------------------------------------------------------------------- the modules

class ZeroPadShortcut(nn.Module):
    """He et al.'s option A: every stride-th pixel, channels padded with zeros; no tensors."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.stride = stride
        self.before = (planes - in_planes) // 2
        self.after = planes - in_planes - self.before

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.before, self.after))


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); without the addition when
    `shortcut` is None (the _noshort presets, which have no shortcut module at all)."""

    def __init__(self, in_planes, planes, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = shortcut is not None
        self.shortcut = None
        if self.residual and (stride != 1 or in_planes != planes):
            if shortcut == "projection":
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(planes))
            else:
                self.shortcut = ZeroPadShortcut(in_planes, planes, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu(out)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32×32 images: conv1/bn1, layer1..3 of n blocks (16/32/64 planes,
    stride 2 at the start of layer2 and layer3), average pooling over the final map, linear."""

    def __init__(self, depth, shortcut="projection", num_classes=10, in_channels=3):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        planes_in = 16
        for stage, planes in enumerate((16, 32, 64)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(planes_in, planes, 2 if stage > 0 and i == 0 else 1, shortcut))
                planes_in = planes
            setattr(self, "layer%d" % (stage + 1), nn.Sequential(*blocks))
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = out.mean(dim=(2, 3))          # = F.avg_pool2d(out, 8) on 32×32 images
        return self.linear(out)


class VGG9(nn.Module):
    """features (indices 0…23: [conv, BN, ReLU] ×2, pool, ×2, pool, ×3, pool; convolutions
    3×3 with biases), flatten (C, H, W), fc = [Linear(4096, 256), BatchNorm1d, ReLU], classifier."""

    def __init__(self, num_classes=10, in_channels=3):
        super().__init__()
        layers, c = [], in_channels
        for v in (64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool"):
            if v == "pool":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(256 * 4 * 4, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(256, num_classes)

    def forward(self, x):
        return self.classifier(self.fc(torch.flatten(self.features(x), 1)))


def build(arch, num_classes=10, in_channels=3, shortcut="projection"):
    """The module of a Terrain preset (`model: {kind: arch, shortcut: …}` in a spec)."""
    if arch == "vgg9":
        return VGG9(num_classes, in_channels)
    if arch not in PRESETS:
        raise SystemExit("unknown preset %r; one of %s" % (arch, ", ".join(PRESETS)))
    depth = int(arch[len("resnet"):].split("_")[0])
    return CifarResNet(depth, None if arch.endswith("_noshort") else shortcut, num_classes, in_channels)


# --------------------------------------------------------------------------- safetensors

DTYPES = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8"),
          "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?")}
NAMES = {np.dtype(v).name: k for k, v in DTYPES.items()}


def save_safetensors(tensors, path, metadata=None):
    """Writes {name: numpy array} as safetensors: 8-byte header length, JSON header (padded
    to 8 bytes), then the tensors back to back, largest element size first (no holes)."""
    arrays = {k: np.asarray(v, order="C") for k, v in tensors.items()}   # (ascontiguousarray would make scalars 1-D)
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": NAMES[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(arrays[name].astype(DTYPES[NAMES[arrays[name].dtype.name]], copy=False).tobytes())


def load_safetensors(path):
    """({name: numpy array}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"]).copy()
    return out, metadata


def state_dict_arrays(module):
    """A module's state_dict as numpy: floating tensors float32, integers int64."""
    out = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu()
        out[k] = v.numpy().astype(np.float32) if v.is_floating_point() else v.numpy().astype(np.int64)
    return out


def load_weights(module, path):
    """Loads a safetensors file into `module` strictly (every key, no other)."""
    arrays, _ = load_safetensors(path)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True)
    return module


# --------------------------------------------------------------------------- commands

def unwrap(checkpoint):
    """The state_dict inside what torch.load returned."""
    if isinstance(checkpoint, nn.Module):
        return checkpoint.state_dict()
    for key in ("state_dict", "model_state_dict", "model", "net"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def convert(args):
    try:
        checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    except Exception as e:   # a pickled module needs its class; allow it only when asked
        if not args.unsafe_pickle:
            raise SystemExit("%s: %s\n(if it is a pickled module you trust, add --unsafe-pickle)" % (args.checkpoint, e))
        checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    state = unwrap(checkpoint)
    if args.strip_prefix:
        state = {k[len(args.strip_prefix):] if k.startswith(args.strip_prefix) else k: v for k, v in state.items()}
    head = state.get("classifier.weight" if args.arch == "vgg9" else "linear.weight")
    first = state.get("features.0.weight" if args.arch == "vgg9" else "conv1.weight")
    if head is None or first is None:
        prefixed = state and all(k.startswith("module.") for k in state)
        raise SystemExit("%s: no %s in the checkpoint; its first keys are %s%s"
                         % (args.checkpoint, "classifier.weight" if args.arch == "vgg9" else "linear.weight", list(state)[:5],
                            "\n(every key starts with 'module.', as nn.DataParallel saves them: add --strip-prefix module.)" if prefixed else ""))
    module = build(args.arch, num_classes=head.shape[0], in_channels=first.shape[1], shortcut=args.shortcut)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise SystemExit("%s does not fit --arch %s%s:\n%s" % (args.checkpoint, args.arch,
                         "" if args.arch == "vgg9" or args.arch.endswith("_noshort") else " (shortcut %s)" % args.shortcut, e))
    save_safetensors(state_dict_arrays(module), args.output,
                     {"format": "pt", "terrain.preset": args.arch, "terrain.source": args.checkpoint})
    print("%s: %s, %d classes, %d tensors → %s" % (args.checkpoint, args.arch, head.shape[0], len(module.state_dict()), args.output))


def logits(args):
    arrays, _ = load_safetensors(args.weights)
    head = arrays["classifier.weight" if args.arch == "vgg9" else "linear.weight"]
    first = arrays["features.0.weight" if args.arch == "vgg9" else "conv1.weight"]
    module = build(args.arch, head.shape[0], first.shape[1], args.shortcut)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True)
    module = module.double().eval()
    x = torch.from_numpy(np.load(args.inputs).astype(np.float64))
    with torch.no_grad():
        y = module(x).numpy()
    if args.output:
        np.save(args.output, y)
    else:
        np.savetxt(sys.stdout, y, fmt="%.9g")


# --------------------------------------------------------------------------- the test fixture

def fnv1a64(text):
    """FNV-1a, 64 bits, of a string's UTF-8 bytes (the key of a hashed tensor)."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def hashed_uniform(name, count):
    """`count` numbers in [-1, 1) from a counter hash keyed by `name`: element i is
    splitmix64's finalizer of key + (i + 1)·0x9E3779B97F4A7C15, its top 24 bits / 2^23 − 1.
    Exact in float32 and in any language with 64-bit wrapping integers, so the test that
    reads the fixture recomputes the large VGG-9 tensors instead of storing 11 MB."""
    z = np.uint64(fnv1a64(name)) + (np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / 8388608.0 - 1.0


HASHED_ABOVE = 4096   # elements: larger weight tensors of a hashed fixture are recomputed by the reader


def randomize(module, generator, hashed=False):
    """Fixture weights: convolutions and linear layers He-uniform (bound √(6/fan_in)), biases
    and BatchNorm affine parameters uniform, then BatchNorm running statistics estimated on
    a batch of random images (as a trained network's match its activations) and perturbed
    (means shifted by 0.1 σ·N(0,1), variances scaled by U(0.8, 1.25), `num_batches_tracked`
    random) so that evaluation and training mode give clearly different logits. With
    `hashed`, weight tensors of more than HASHED_ABOVE elements come from hashed_uniform.
    Returns the names of the hashed tensors."""
    norms = [m for m in module.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    names = {m: n for n, m in module.named_modules()}
    hashed_names = []
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                bound = (6.0 / (m.weight[0].numel())) ** 0.5
                key = names[m] + ".weight"
                if hashed and m.weight.numel() > HASHED_ABOVE:
                    u = hashed_uniform(key, m.weight.numel()) * bound
                    m.weight.copy_(torch.from_numpy(u.astype(np.float32)).reshape(m.weight.shape))
                    hashed_names.append(key)
                else:
                    m.weight.copy_((2 * torch.rand(m.weight.shape, generator=generator, dtype=torch.float64) - 1) * bound)
                if m.bias is not None:
                    m.bias.copy_(0.2 * torch.rand(m.bias.shape, generator=generator) - 0.1)
        for m in norms:
            m.weight.copy_(0.5 + torch.rand(m.num_features, generator=generator))
            m.bias.copy_(0.4 * torch.rand(m.num_features, generator=generator) - 0.2)
            m.momentum = None                     # cumulative average over the calibration pass
        module.train()(torch.randn(32, 3, 32, 32, generator=generator))
        for m in norms:
            m.momentum = 0.1
            m.running_mean.add_(0.1 * m.running_var.sqrt() * torch.randn(m.num_features, generator=generator))
            m.running_var.mul_(0.8 + 0.45 * torch.rand(m.num_features, generator=generator))
            m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
    module.eval()
    return hashed_names


GRADIENTS = {
    "resnet20": ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer2.0.conv1.weight",
                 "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight", "layer3.2.bn2.weight",
                 "linear.weight", "linear.bias"],
    "vgg9": ["features.0.weight", "features.0.bias", "features.1.weight", "features.21.weight", "features.21.bias",
             "fc.0.bias", "fc.1.weight", "classifier.weight", "classifier.bias"],
}


def reference(module, weights, arch, generator, samples):
    """Inputs, labels and float64 results of `module` (loaded with the float32 `weights`):
    logits in evaluation and training mode, the training-mode mean cross-entropy, gradients
    of GRADIENTS, and the running statistics after that one training-mode pass."""
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    x32 = torch.randn(samples, 3, 32, 32, generator=generator)
    labels = torch.randint(0, 10, (samples,), generator=generator)
    out = {"inputs": x32.numpy(), "labels": labels.numpy().astype(np.int64)}
    with torch.no_grad():   # PyTorch's own float32 result, to put Terrain's rounding error in scale
        out["eval_logits_torch_f32"] = copy.deepcopy(module).eval()(x32).double().numpy()
    single = copy.deepcopy(module).train()
    F.cross_entropy(single(x32), labels).backward()
    single_grads = dict(single.named_parameters())
    model = copy.deepcopy(module).double().eval()
    x = x32.double()
    with torch.no_grad():
        out["eval_logits"] = model(x).numpy()
    model.train()
    y = model(x)
    loss = F.cross_entropy(y, labels)
    loss.backward()
    out["train_logits"] = y.detach().numpy()
    out["train_loss"] = np.array([loss.item()])
    params = dict(model.named_parameters())
    for name in GRADIENTS["vgg9" if arch == "vgg9" else "resnet20"]:
        if name in params:
            g = params[name].grad.numpy()
            out["grad." + name] = g
            # PyTorch's float32 error on this gradient, relative to its largest entry: deep
            # training-mode gradients on a small batch are ill-conditioned (up to ~2 % here)
            scale = max(np.abs(g).max(), 1e-300)
            out["grad_f32_error." + name] = np.array([np.abs(single_grads[name].grad.double().numpy() - g).max() / scale])
    for k, v in model.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            out["after_train." + k] = v.numpy()
    return out


def state_dict_table(arch, shortcut="projection"):
    """[[name, shape, dtype], …] of a preset's state_dict, in PyTorch's order."""
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in build(arch, shortcut=shortcut).state_dict().items()]


def count_macs(arch, shortcut="projection"):
    """Multiply-accumulates of one 3×32×32 image: every Conv2d's output elements × in
    channels × kernel area, every Linear's in × out (BatchNorm, ReLU, pooling, additions
    not counted), and the parameter count."""
    module, count = build(arch, shortcut=shortcut).eval(), [0]

    def hook(m, inputs, output):
        if isinstance(m, nn.Conv2d):
            count[0] += output.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            count[0] += m.in_features * m.out_features
    for m in module.modules():
        m.register_forward_hook(hook)
    with torch.no_grad():
        module(torch.zeros(1, 3, 32, 32))
    return count[0], sum(p.numel() for p in module.parameters())


def example_mlp():
    """The module docs/checkpoints.md shows for the example MLP (`model: {kind: mlp, hidden: [256, 256]}`)."""
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))

        def forward(self, x):
            return self.layers(x)
    return MLP()


def fixture(args):
    """The committed fixture (Tests/TerrainCoreTests/Fixtures/presets/):
    resnet20.safetensors, the reference of resnet20 and of its zero_pad and _noshort
    variants on the same weights (those two simply lack the shortcut tensors), vgg9 with
    its large weights hashed, and presets.json (state_dict names, shapes, dtypes, MACs and
    parameter counts of every preset and of the docs' example MLP)."""
    out = args.outdir
    made = {"format": "pt", "terrain.made_by": "docs/pytorch_presets.py fixture", "torch": torch.__version__}
    generator = torch.Generator().manual_seed(args.seed)
    resnet = build("resnet20")
    randomize(resnet, generator)
    weights = state_dict_arrays(resnet)
    save_safetensors(weights, out + "/resnet20.safetensors", dict(made, **{"terrain.preset": "resnet20"}))
    for arch, shortcut, name in [("resnet20", "projection", "resnet20"), ("resnet20", "zero_pad", "resnet20-zero_pad"),
                                 ("resnet20_noshort", "projection", "resnet20_noshort")]:
        module = build(arch, shortcut=shortcut)
        mine = {k: v for k, v in weights.items() if k in module.state_dict()}
        ref = reference(module, mine, arch, torch.Generator().manual_seed(args.seed + 1), args.samples)
        save_safetensors(ref, "%s/%s-reference.safetensors" % (out, name), dict(made, **{"terrain.preset": arch, "shortcut": shortcut}))
    vgg = build("vgg9")
    hashed = randomize(vgg, generator, hashed=True)
    weights = state_dict_arrays(vgg)
    stored = {k: v for k, v in weights.items() if k not in hashed}
    save_safetensors(stored, out + "/vgg9.safetensors",
                     dict(made, **{"terrain.preset": "vgg9", "terrain.hashed": ",".join(hashed)}))
    ref = reference(build("vgg9"), weights, "vgg9", torch.Generator().manual_seed(args.seed + 2), args.samples)
    for k in hashed:   # lets the reader check its recomputation before it compares results
        ref["sum." + k] = np.array([weights[k].astype(np.float64).sum(), np.abs(weights[k].astype(np.float64)).sum()])
    save_safetensors(ref, out + "/vgg9-reference.safetensors", dict(made, **{"terrain.preset": "vgg9"}))
    table = {}
    for arch in PRESETS:
        for shortcut in (["projection", "zero_pad"] if arch in ("resnet20", "resnet56", "resnet110") else ["projection"]):
            macs_, params = count_macs(arch, shortcut)
            table[arch if shortcut == "projection" else arch + "-zero_pad"] = {
                "arch": arch, "shortcut": shortcut, "macs": macs_, "parameters": params,
                "state_dict": state_dict_table(arch, shortcut)}
    mlp = example_mlp()
    table["example_mlp"] = {"arch": "mlp", "parameters": sum(p.numel() for p in mlp.parameters()),
                            "state_dict": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in mlp.state_dict().items()]}
    with open(out + "/presets.json", "w") as f:   # one tensor per line: small, and diffs read well
        f.write('{"torch": %s, "input": [3, 32, 32], "classes": 10, "models": {\n' % json.dumps(torch.__version__))
        for i, (name, entry) in enumerate(table.items()):
            head = {k: v for k, v in entry.items() if k != "state_dict"}
            f.write(' %s: {%s, "state_dict": [\n' % (json.dumps(name), json.dumps(head)[1:-1]))
            f.write(",\n".join("  " + json.dumps(row, separators=(",", ":")) for row in entry["state_dict"]))
            f.write("\n ]}%s\n" % ("," if i + 1 < len(table) else ""))
        f.write("}}\n")
    print("wrote the fixture to %s" % out)


def macs(args):
    print("%-20s %14s %12s" % ("preset", "MACs/image", "parameters"))
    for arch in PRESETS:
        m, p = count_macs(arch)
        print("%-20s %14d %12d" % (arch, m, p))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="a PyTorch checkpoint → safetensors")
    c.add_argument("checkpoint")
    c.add_argument("output")
    c.add_argument("--arch", required=True, choices=PRESETS)
    c.add_argument("--shortcut", default="projection", choices=["projection", "zero_pad"])
    c.add_argument("--strip-prefix", default="", help="remove this prefix from every key (e.g. module.)")
    c.add_argument("--unsafe-pickle", action="store_true", help="allow torch.load to unpickle arbitrary objects")
    c.set_defaults(run=convert)
    c = sub.add_parser("logits", help="logits of inputs under a safetensors file")
    c.add_argument("weights")
    c.add_argument("--arch", required=True, choices=PRESETS)
    c.add_argument("--shortcut", default="projection", choices=["projection", "zero_pad"])
    c.add_argument("--inputs", required=True, help=".npy of N×C×H×W images, normalized as in training")
    c.add_argument("--output", help=".npy to write (default: print)")
    c.set_defaults(run=logits)
    c = sub.add_parser("fixture", help="the committed test fixture: seeded weights, references, presets.json")
    c.add_argument("outdir")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--samples", type=int, default=4)
    c.set_defaults(run=fixture)
    c = sub.add_parser("macs", help="multiply-accumulates per 3×32×32 image and parameters of every preset")
    c.set_defaults(run=macs)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
