#!/usr/bin/env bash
# Run a sweep on this machine with separate `terrain coordinator` and `terrain worker`
# processes on a private ipc:// socket — like `terrain run`, but with the coordinator's own
# options (--grace, --dataset, --bind for extra endpoints …) and worker logs kept.
#
#   deploy/run-local.sh [-n WORKERS] SPEC.yaml [COORDINATOR OPTIONS…]
#
#   -n WORKERS   worker processes (default: the number of cores)
#   TERRAIN      the terrain binary (default: `terrain` on PATH, else .build/release/terrain)
#   LOG_DIR      keep worker-N.log here (default: a temporary directory, removed at exit)
#
# Ctrl-C (or SIGTERM) stops gracefully: the coordinator stops dispatching and waits for
# running tasks (--grace), the workers hand in their current task. A second Ctrl-C kills.
# Exit status: the coordinator's (0 finished, 130 stopped, 1 error; 137 after a second Ctrl-C).
set -uo pipefail

usage() { echo "usage: run-local.sh [-n WORKERS] SPEC.yaml [COORDINATOR OPTIONS…]" >&2; exit 64; }

workers=$(nproc)
while getopts ":n:h" opt; do
    case $opt in
        n) workers=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || usage
[[ $workers =~ ^[1-9][0-9]*$ ]] || { echo "run-local: -n needs a positive number" >&2; exit 64; }
spec=$1
shift

if [[ -z ${TERRAIN:-} ]]; then
    if command -v terrain >/dev/null; then
        TERRAIN=terrain
    else
        TERRAIN=$(cd "$(dirname "$0")/.." && pwd)/.build/release/terrain
    fi
fi
[[ -x $(command -v "$TERRAIN") ]] || { echo "run-local: no terrain binary at $TERRAIN (set TERRAIN=…)" >&2; exit 1; }

# A short private directory: ipc:// paths are limited to ~107 bytes, and the socket's
# directory decides who may connect.
dir=$(mktemp -d /tmp/terrain-local.XXXXXX)
socket=$dir/coordinator.sock
endpoint=ipc://$socket
log_dir=${LOG_DIR:-$dir}
mkdir -p "$log_dir"
export OPENBLAS_NUM_THREADS=1

coordinator=
worker_pids=()
interrupts=0

cleanup() {
    local pid
    for pid in "${worker_pids[@]}" $coordinator; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT

stop() {
    interrupts=$((interrupts + 1))
    if ((interrupts == 1)); then
        echo "run-local: stopping (Ctrl-C again to kill)" >&2
        kill -TERM $coordinator "${worker_pids[@]}" 2>/dev/null
    else
        kill -KILL $coordinator "${worker_pids[@]}" 2>/dev/null
    fi
}
trap stop INT TERM

"$TERRAIN" coordinator "$spec" --bind "$endpoint" "$@" &
coordinator=$!

# Wait until the coordinator has bound its socket (or has exited: bad spec, other sweep …).
for _ in $(seq 300); do
    [[ -S $socket ]] && break
    if ! kill -0 "$coordinator" 2>/dev/null; then
        wait "$coordinator"
        exit $?
    fi
    sleep 0.1
done
[[ -S $socket ]] || { echo "run-local: the coordinator did not bind $endpoint within 30 s" >&2; exit 1; }

for i in $(seq "$workers"); do
    "$TERRAIN" worker --connect "$endpoint" 2>"$log_dir/worker-$i.log" &
    worker_pids+=($!)
done
echo "run-local: coordinator $coordinator and $workers workers on $endpoint" >&2

# `wait` returns early when a trapped signal arrives; wait again until the coordinator is gone.
while kill -0 "$coordinator" 2>/dev/null; do wait "$coordinator"; done
wait "$coordinator"
status=$?

# A finished coordinator has told the workers to leave; a stopped one has not.
for _ in $(seq 50); do
    alive=0
    for pid in "${worker_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
done
for pid in "${worker_pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null; done
for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null; done
exit "$status"
