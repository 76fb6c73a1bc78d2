"""The workflow on a real single-node SLURM cluster, through profiles/slurm.

Starts Debian's slurmctld/slurmd with munge on this machine (tests/slurm/start_slurm.sh; needs
root and Debian's package registry), runs the fast test config's pbmc68k dataset (the executor,
not the models, is under test) with the SLURM executor, and
checks that every job ran as a SLURM job and that the outputs equal a local run's.
Deselect with ``-m "not slurm"`` where there is no root.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, snakemake, write_test_config
from tests.test_reproducibility import SMALLEST, assert_same_outputs, planned_jobs

SLURM_SCRIPTS = Path(__file__).parent / "slurm"


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm_state")
    started = subprocess.run(
        ["bash", str(SLURM_SCRIPTS / "start_slurm.sh"), str(state)], capture_output=True, text=True, timeout=600
    )
    assert started.returncode == 0, started.stdout + started.stderr
    yield state
    subprocess.run(["bash", str(SLURM_SCRIPTS / "stop_slurm.sh"), str(state)], check=False)


@pytest.mark.slurm
@pytest.mark.e2e
def test_workflow_runs_as_slurm_jobs(slurm_cluster, run_dir, tmp_path):
    config = write_test_config(tmp_path, **SMALLEST)
    n_jobs = sum(planned_jobs(tmp_path, config).values()) - 1
    result = snakemake(
        tmp_path,
        "--workflow-profile",
        str(REPO / "profiles" / "slurm"),
        # the test cluster: its partition, no GPU, no accounting database (status from squeue)
        "--default-resources",
        "slurm_partition='debug'",
        "slurm_account='omicsgen'",
        "mem_mb=2000",
        "runtime=30",
        "--set-resources",
        "train:gpu=0",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-keep-successful-logs",
        "--configfile",
        str(config),
        timeout=1500,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", output)
    # every job but the local target rule `all` went through sbatch
    assert len(submitted) == n_jobs, output[-4000:]
    assert len({job_id for job_id, _ in submitted}) == n_jobs
    for job_id, log in submitted:
        text = Path(log).read_text()
        assert Path(log).stem == job_id and text.strip(), log
    assert "training on cpu" in (tmp_path / "results" / "logs" / "train" / "pbmc68k_vae.log").read_text()
    assert_same_outputs(run_dir, tmp_path)
