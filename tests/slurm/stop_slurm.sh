#!/usr/bin/env bash
# Stop the daemons start_slurm.sh started (by their pid files under STATE_DIR).
set -u
state=${1:?usage: stop_slurm.sh STATE_DIR}
for daemon in slurmd slurmctld; do
  [ -f "$state/$daemon.pid" ] && kill "$(cat "$state/$daemon.pid")" 2>/dev/null
done
exit 0
