# Shared by the job scripts of deploy/slurm/ (sourced, not run).
#
# Settings (environment, passed with `sbatch --export=ALL,…` or set before sbatch):
#   TERRAIN_SPEC         the sweep spec (required)
#   TERRAIN              the terrain binary (default: terrain on PATH)
#   TERRAIN_WORKDIR      shared directory for the endpoint file, keys and logs
#                        (default: the directory sbatch was run from)
#   TERRAIN_DATASET      the dataset (default: WORKDIR/<spec name>.sqlite); see deploy/README.md
#                        on filesystems: a network filesystem needs TERRAIN_ALLOW_NETWORK_FS=1
#   TERRAIN_GRACE        seconds running tasks get after a stop signal (default 60; keep it
#                        below the --signal lead time and SLURM's KillWait)
#   TERRAIN_GIVE_UP      seconds a worker waits for a coordinator (default 600)
#   TERRAIN_INSECURE=1   plaintext instead of CurveZMQ (only on a network you trust)
#   TERRAIN_COORDINATOR_OPTIONS, TERRAIN_WORKER_OPTIONS   further options, split at spaces

: "${TERRAIN_SPEC:?set TERRAIN_SPEC=path/to/sweep.yaml (sbatch --export=ALL,TERRAIN_SPEC=…)}"
TERRAIN=${TERRAIN:-terrain}
WORKDIR=${TERRAIN_WORKDIR:-${SLURM_SUBMIT_DIR:-$PWD}}
spec_name=$(basename "${TERRAIN_SPEC%.*}")
DATASET=${TERRAIN_DATASET:-$WORKDIR/$spec_name.sqlite}
GRACE=${TERRAIN_GRACE:-60}
GIVE_UP=${TERRAIN_GIVE_UP:-600}
ENDPOINT_FILE=${TERRAIN_ENDPOINT_FILE:-$WORKDIR/$spec_name.endpoint}
KEYS=$WORKDIR/keys
LOGS=$WORKDIR/logs
# One BLAS thread per process: parallelism comes from one worker per core.
export OPENBLAS_NUM_THREADS=1
mkdir -p "$LOGS"

# CurveZMQ keys, made on first use (one pair for the coordinator, one shared by the workers;
# the directory is readable by the owner only).
ensure_keys() {
    [[ ${TERRAIN_INSECURE:-0} == 1 ]] && return 0
    if [[ ! -f $KEYS/coordinator.key_secret ]]; then
        mkdir -p "$KEYS/workers" && chmod 700 "$KEYS"
        "$TERRAIN" keys generate coordinator --directory "$KEYS" >/dev/null
        "$TERRAIN" keys generate worker --directory "$KEYS" >/dev/null
        cp "$KEYS/worker.key" "$KEYS/workers/worker.key"
    fi
}

coordinator_security() {
    if [[ ${TERRAIN_INSECURE:-0} == 1 ]]; then echo --insecure; else echo --curve-key "$KEYS/coordinator" --allowed-keys "$KEYS/workers"; fi
}

log() { echo "[$(date -u +%FT%TZ)] $*"; }

# Starts the coordinator in the background (pid in $coordinator), its log in LOGS. The stale
# endpoint file of a previous run goes first, so that workers never read a dead endpoint.
start_coordinator() {
    local fs=()
    [[ ${TERRAIN_ALLOW_NETWORK_FS:-0} == 1 ]] && fs=(--allow-network-filesystem)
    rm -f "$ENDPOINT_FILE"
    # shellcheck disable=SC2046,SC2086
    "$TERRAIN" coordinator "$TERRAIN_SPEC" --dataset "$DATASET" --bind 'tcp://0.0.0.0:*' \
        --endpoint-file "$ENDPOINT_FILE" --advertise-host "${TERRAIN_HOST:-$(hostname)}" --grace "$GRACE" --quiet \
        $(coordinator_security) "${fs[@]}" ${TERRAIN_COORDINATOR_OPTIONS:-} >>"$LOGS/coordinator-$1.log" 2>&1 &
    coordinator=$!
    log "coordinator pid $coordinator (log $LOGS/coordinator-$1.log)"
}

# The command every srun task runs, in the array worker_cmd.
worker_cmd=("$TERRAIN" worker --connect "@$ENDPOINT_FILE" --give-up-after "$GIVE_UP" --grace "$GRACE")
if [[ ${TERRAIN_INSECURE:-0} != 1 ]]; then worker_cmd+=(--curve-key "$KEYS/worker" --server-key "$KEYS/coordinator.key"); fi
# shellcheck disable=SC2206
worker_cmd+=(${TERRAIN_WORKER_OPTIONS:-})
