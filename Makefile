# Terrain — the two commands a newcomer needs: `make run` and `make test`.
# Both install the Debian packages they need when missing (as root, or through sudo).

SWIFT        ?= swift
CONFIG       ?= release
APT_PACKAGES := libzmq3-dev libopenblas-dev libhdf5-dev pkg-config
BIN          := .build/$(CONFIG)/terrain
OUT          := out
WORKERS      ?= $(shell nproc)

# Parallelism comes from processes, never from BLAS threads.
export OPENBLAS_NUM_THREADS := 1

.PHONY: all deps pydeps build run test test-cluster bench shapes screenshots clean

all: build

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG)

# The main job: train the example MLP (40-256-256-10) on MNIST-1D, compute its 2-D loss
# surface with a coordinator and local worker processes, render it as SVG and export HDF5/NPZ.
run: build
	@mkdir -p $(OUT)
	$(BIN) train examples/train-mlp.yaml --output $(OUT)/mlp-mnist1d.safetensors
	rm -f $(OUT)/surface-mlp.sqlite $(OUT)/surface-mlp.sqlite-wal $(OUT)/surface-mlp.sqlite-shm
	$(BIN) run examples/surface-mlp.yaml --workers $(WORKERS) --dataset $(OUT)/surface-mlp.sqlite
	$(BIN) render $(OUT)/surface-mlp.sqlite --output $(OUT)/surface-mlp.svg
	$(BIN) export $(OUT)/surface-mlp.sqlite --output $(OUT)/surface-mlp.h5
	$(BIN) export $(OUT)/surface-mlp.sqlite --output $(OUT)/surface-mlp.npz
	@echo "open $(OUT)/surface-mlp.svg in a browser"

# Python readers used by the interoperability tests (numpy, h5py, prometheus-client's
# text-format parser); best effort: without them those tests report that they skipped.
pydeps:
	@command -v python3 >/dev/null 2>&1 && ! python3 -c "import numpy, h5py" >/dev/null 2>&1 && \
	  python3 -m pip install --quiet numpy h5py >/dev/null 2>&1 || true
	@command -v python3 >/dev/null 2>&1 && ! python3 -c "import prometheus_client" >/dev/null 2>&1 && \
	  python3 -m pip install --quiet prometheus-client >/dev/null 2>&1 || true

# The whole test suite, optimized build (the training tests need it to be quick).
# The example specs on the generated shapes set are checked too, so the set is made first.
test: deps pydeps
	$(SWIFT) build -c $(CONFIG) --build-tests
	@test -f $(SHAPES) || $(MAKE_SHAPES)
	$(SWIFT) test -c $(CONFIG) --skip-build --disable-swift-testing

# Cluster launch under real engines (deploy/README.md): a private SLURM (slurmctld and two
# slurmd on this machine) runs the job scripts of deploy/slurm/. Needs root (it installs
# slurm-wlm and munge when missing); the tests skip, saying why, otherwise. A few minutes,
# two of them SLURM's delay before a requeued job starts again.
CLUSTER_TESTS := SlurmClusterTests|NamespaceTests|ContainerTests

test-cluster: deps
	$(SWIFT) build -c $(CONFIG) --build-tests
	TERRAIN_CLUSTER_TESTS=1 $(SWIFT) test -c $(CONFIG) --skip-build --disable-swift-testing --filter '$(CLUSTER_TESTS)'

# The generated 32×32 RGB shapes set (10 classes; docs/spec.md, "The generated shapes set"),
# the CIFAR-shaped data of the conv-net examples. Deterministic: the same bytes everywhere.
SHAPES       := data/shapes.npz
MAKE_SHAPES   = $(BIN) data shapes --train 5000 --test 1000 --seed 1 --output $(SHAPES)

shapes: build
	@test -f $(SHAPES) || $(MAKE_SHAPES)

bench: build
	.build/$(CONFIG)/terrain-bench

# The README's screenshots (docs/figures/live-*.png, report-*.png): the live page of a running
# probe sweep, the live page and report of `make run`'s surface, in headless Chromium
# (installed with apt when missing).
screenshots: build
	@test -f $(OUT)/surface-mlp.sqlite || $(MAKE) run
	bash docs/screenshots.sh $(BIN) $(OUT)

clean:
	rm -rf .build $(OUT)
