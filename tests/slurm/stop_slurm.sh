#!/usr/bin/env bash
# Stop the daemons start_slurm.sh started (by their pid files under STATE_DIR) and put back the
# /etc/slurm/slurm.conf that was there before (none: remove the one start_slurm.sh wrote).
set -u
state=${1:?usage: stop_slurm.sh STATE_DIR}
for daemon in slurmd slurmctld; do
  [ -f "$state/$daemon.pid" ] && kill "$(cat "$state/$daemon.pid")" 2>/dev/null
done
if [ -f "$state/slurm.conf.before" ]; then
  cp "$state/slurm.conf.before" /etc/slurm/slurm.conf
elif [ -f "$state/slurm.conf.ours" ]; then
  rm -f /etc/slurm/slurm.conf
fi
exit 0
