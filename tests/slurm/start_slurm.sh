#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (root, Debian/Ubuntu) for the SLURM test.
# Installs Debian's slurmctld, slurmd, slurm-client and munge when missing, writes
# /etc/slurm/slurm.conf (the jobstep plugin clears SLURM_CONF inside jobs, so the config must
# be at the default path), and starts munged, slurmctld and slurmd with state under $1.
# Usage: start_slurm.sh STATE_DIR     Stop with: stop_slurm.sh STATE_DIR
set -euo pipefail
state=${1:?usage: start_slurm.sh STATE_DIR}
mkdir -p "$state"/{spool,slurmd,log}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: authentication between the SLURM daemons and clients
mkdir -p /run/munge /etc/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || mungekey --force
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c "munged"

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
mkdir -p /etc/slurm
# keep a config that was there before; stop_slurm.sh puts it back (or removes ours: with a
# config naming a controller that is down, every SLURM client call, and so every snakemake
# start through the SLURM executor plugin's checks, waits about 9 s)
# (not one this script wrote in an earlier run that was never stopped)
if [ -f /etc/slurm/slurm.conf ] && ! grep -q '^ClusterName=omicsgen-test$' /etc/slurm/slurm.conf; then
  [ -f "$state/slurm.conf.before" ] || cp /etc/slurm/slurm.conf "$state/slurm.conf.before"
fi
touch "$state/slurm.conf.ours"
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=omicsgen-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
ReturnToService=2
StateSaveLocation=$state/spool
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -i
slurmd
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "slurm ready: node $host, $cpus CPUs, $mem_mb MB"
    exit 0
  fi
  sleep 0.5
done
echo "slurm did not become ready; see $state/log" >&2
exit 1
