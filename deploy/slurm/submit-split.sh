#!/usr/bin/env bash
# Submits the split form: the coordinator job, then ARRAYS worker arrays of TASKS workers each
# that start once the coordinator has started (--dependency=after:). More arrays can be
# submitted later with the printed command (elastic); cancelling one hands its tasks back.
#
#   TERRAIN_SPEC=sweep.yaml deploy/slurm/submit-split.sh [ARRAY_SIZE] [TASKS_PER_JOB] [SBATCH OPTIONS…]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
size=${1:-4}
tasks=${2:-4}
shift $(( $# >= 2 ? 2 : $# ))
: "${TERRAIN_SPEC:?set TERRAIN_SPEC=path/to/sweep.yaml}"
export TERRAIN_SPEC=$(realpath "$TERRAIN_SPEC")
export TERRAIN_SLURM_DIR=$here
coordinator=$(sbatch --parsable --export=ALL "$@" "$here/terrain-coordinator.sbatch")
workers=$(sbatch --parsable --export=ALL --dependency="after:$coordinator" --array="0-$((size - 1))" --ntasks="$tasks" "$@" "$here/terrain-workers.sbatch")
echo "coordinator job $coordinator, worker array $workers"
echo "more workers: TERRAIN_SPEC=$TERRAIN_SPEC sbatch --export=ALL --dependency=after:$coordinator --array=0-3 $here/terrain-workers.sbatch"
