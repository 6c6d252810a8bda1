#!/usr/bin/env bash
# A private SLURM cluster on this machine: munged, slurmctld and two emulated nodes (n1, n2)
# with their own ports, state and logs under DIR — to try the job scripts of this directory
# (and for the project's cluster test). Root only; Debian's slurm-wlm and munge must be
# installed (`apt-get install slurm-wlm munge`).
#
#   deploy/slurm/local-cluster.sh start DIR [CPUS_PER_NODE]   # prints `export SLURM_CONF=…`
#   deploy/slurm/local-cluster.sh stop DIR
#
# Nodes declare CPUS_PER_NODE CPUs (default 4) whatever the machine has
# (SlurmdParameters=config_overrides). Steps on either node run on this host, so job
# scripts must advertise `hostname` (or an address), never the node name.
# SLURM_CTLD_PORT (default 16817) and SLURM_NODE_PORT (default 16818, +1 for n2) pick ports.
set -euo pipefail

usage() { echo "usage: local-cluster.sh start|stop DIR [CPUS_PER_NODE]" >&2; exit 64; }
[[ $# -ge 2 ]] || usage
action=$1
dir=$(realpath -m "$2")
cpus=${3:-4}
ctld_port=${SLURM_CTLD_PORT:-16817}
node_port=${SLURM_NODE_PORT:-16818}
conf=$dir/slurm.conf

start() {
    [[ $(id -u) -eq 0 ]] || { echo "local-cluster: needs root" >&2; exit 1; }
    # The daemons must hold no descriptor of our caller's beyond 0-2 (a caller waiting for an
    # end-of-file on one — as Foundation's Process does to see its child exit — would wait
    # for them).
    local fd
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        [[ $fd -gt 2 ]] && eval "exec $fd>&-" 2>/dev/null
    done
    command -v slurmctld >/dev/null && command -v munged >/dev/null ||
        { echo "local-cluster: install slurm-wlm and munge first" >&2; exit 1; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    local host
    host=$(hostname)
    cat >"$conf" <<CONF
ClusterName=terrainlocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
KillWait=30
MinJobAge=600
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$node_port CPUs=$cpus State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((node_port + 1)) CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
    # munged: started as its own user, once per machine.
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        install -d -o munge -g munge -m 0755 /run/munge
        runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1
        touch "$dir/started-munged"
    fi
    export SLURM_CONF=$conf
    # Daemons keep no descriptor of the caller's (a caller reading our output to its end
    # would otherwise wait for them).
    slurmctld -f "$conf" </dev/null >/dev/null 2>&1
    slurmd -f "$conf" -N n1 </dev/null >/dev/null 2>&1
    slurmd -f "$conf" -N n2 </dev/null >/dev/null 2>&1
    for _ in $(seq 100); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qx idle && [[ $(sinfo -h -N -o '%T' | grep -c idle) -eq 2 ]]; then
            echo "export SLURM_CONF=$conf"
            return 0
        fi
        sleep 0.2
    done
    echo "local-cluster: the nodes did not become idle; see $dir/log" >&2
    sinfo -N >&2 || true
    exit 1
}

stop() {
    export SLURM_CONF=$conf
    [[ -f $conf ]] && scancel --quiet --full --signal=KILL --user=root 2>/dev/null || true
    local f pid
    for f in "$dir"/slurmd-n1.pid "$dir"/slurmd-n2.pid "$dir"/slurmctld.pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    if [[ -f $dir/started-munged ]]; then
        pid=$(cat /run/munge/munged.pid 2>/dev/null || true)
        [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
        rm -f "$dir/started-munged"
    fi
}

case $action in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
