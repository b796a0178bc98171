#!/usr/bin/env bash
# Tests the Slurm recipe of docs/SCALE-OUT.md for real on this machine: starts a
# single-node Slurm (munge, slurmctld, slurmd; Debian slurm-wlm), submits
# scripts/tern-array.sbatch as an array over a few hundred prompts, waits, merges the
# parts with scripts/merge-shards.py and checks every id appears exactly once. Then
# stops the daemons it started. Needs root (daemons) and the packages slurm-wlm, munge.
#   scripts/slurm-test.sh [BUILD_DIR]      (env: PROMPTS=300 TASKS=4)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tern=$build/tern
prompts=${PROMPTS:-300}
tasks=${TASKS:-4}
model=$root/models/tern-kjv.gguf
[ -x "$tern" ] || { echo "slurm-test: no $tern (build tern first)" >&2; exit 1; }
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || { echo "slurm-test: $tool missing: apt-get install slurmctld slurmd slurm-client munge (scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/tern-slurm.XXXXXX)
chmod 755 "$work"
host=$(hostname -s)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do  # give each a few seconds, then insist
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# munge: our own socket and key, so nothing else on the machine is touched.
mkdir -p "$work/munge"
chown munge:munge "$work/munge" && chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$work/munge/munge.key" && chmod 400 "$work/munge/munge.key"
mkdir -p "$work/munge-run"  # the socket's directory must be open to all, the key's not
chown munge:munge "$work/munge-run" && chmod 755 "$work/munge-run"
socket=$work/munge-run/munge.socket
runuser -u munge -- munged --key-file="$work/munge/munge.key" --socket="$socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" --foreground \
  2> "$work/munge/munged.out" &
pids+=($!)
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done

# Ports beside Slurm's defaults, so a real installation would not clash.
cat > "$work/slurm.conf" <<CONF
ClusterName=terntest
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=60 State=UP
CONF
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF=$work/slurm.conf
slurmctld -c -D > "$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D > "$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.2; done
sinfo -h -o "%P %D %t %c" | sed 's/^/slurm-test: node: /'
sinfo -h -o %t | grep -q idle || { echo "slurm-test: the node did not come up" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }

# A few hundred prompts in tern's JSONL format, a mix of string and number ids.
python3 - "$prompts" > "$work/prompts.jsonl" <<'PY'
import json, sys
starts = ["In the beginning", "And it came to pass", "The LORD is", "Blessed are", "And God said"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": f"p{i}" if i % 2 else i, "prompt": starts[i % 5], "n_predict": 8}))
PY

cd "$work"
start=$(date +%s)
job=$(TERN="$tern" sbatch --parsable --wait --array=0-$((tasks - 1)) \
        --export=ALL,TERN="$tern" "$root/scripts/tern-array.sbatch" "$model" "$work/prompts.jsonl" "$work/out") ||
  { echo "slurm-test: the array failed" >&2; tail -n 5 "$work"/tern-batch-*.log >&2; exit 1; }
echo "slurm-test: job $job: $tasks array tasks over $prompts prompts finished in $(( $(date +%s) - start )) s"
for f in "$work"/out/part-*.jsonl; do echo "slurm-test: $(basename "$f"): $(wc -l < "$f") records"; done
"$root/scripts/merge-shards.py" "$work/prompts.jsonl" "$work"/out/part-*.jsonl > "$work/results.jsonl"
echo "slurm-test: merged $(wc -l < "$work/results.jsonl") records: every id exactly once"
