"""Reruns: identical outputs from one config, minimal reruns on a change, resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsgen.evaluate import tidy_metrics
from omicsgen.io import read_h5ad
from tests.conftest import link_shipped_data, snakemake, snakemake_command, write_test_config

OUTPUTS = {
    "preprocessed.h5ad": ("X",),
    "vae/latent.h5ad": ("obsm:X_vae", "obsm:X_vae_pca", "obsm:X_vae_umap", "obs:reconstruction_mse"),
    "pca/latent.h5ad": ("obsm:X_pca", "obsm:X_pca_umap"),
    "vae/synthetic.h5ad": ("X",),
    "marginals/synthetic.h5ad": ("X",),
}


def _array(adata, where: str) -> np.ndarray:
    if where == "X":
        return adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    kind, key = where.split(":")
    return np.asarray(getattr(adata, kind)[key])


SMALLEST = {"datasets": ("pbmc68k",), "models": ["vae"]}  # the smallest DAG holding every file of OUTPUTS


def assert_same_outputs(run_a: Path, run_b: Path) -> None:
    """Contents (not timestamps) of pbmc68k's data outputs and metrics rows are identical.

    The runs may hold different datasets and models; the metrics of the models both ran are compared.
    """
    for name, parts in OUTPUTS.items():
        a, b = read_h5ad(run_a / "results" / "pbmc68k" / name), read_h5ad(run_b / "results" / "pbmc68k" / name)
        assert list(a.obs_names) == list(b.obs_names) and a.obs.equals(b.obs), name
        for part in parts:
            np.testing.assert_array_equal(_array(a, part), _array(b, part), err_msg=f"{name} {part}")
    # tidy form: the two runs may hold different datasets, hence different metric columns
    metrics_a, metrics_b = (
        tidy_metrics(pd.read_csv(run / "results" / "metrics.tsv", sep="\t")) for run in (run_a, run_b)
    )
    metrics_a, metrics_b = (m[m["dataset"] == "pbmc68k"] for m in (metrics_a, metrics_b))
    models = set(metrics_a["model"]) & set(metrics_b["model"])
    assert {"vae", "pca", "marginals"} <= models
    pd.testing.assert_frame_equal(
        metrics_a[metrics_a["model"].isin(models)].reset_index(drop=True),
        metrics_b[metrics_b["model"].isin(models)].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(run_a / "results" / "pbmc68k" / "vae" / "history.csv"),
        pd.read_csv(run_b / "results" / "pbmc68k" / "vae" / "history.csv"),
    )


@pytest.mark.e2e
def test_two_runs_from_scratch_are_identical(run_dir, tmp_path):
    result = snakemake(tmp_path, "--configfile", str(write_test_config(tmp_path, **SMALLEST)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_outputs(run_dir, tmp_path)


def planned_jobs(workdir: Path, config: Path) -> dict[str, int]:
    result = snakemake(workdir, "-n", "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    table = text.split("Job stats:")[1].split("total")[0]
    jobs = {}
    for line in table.splitlines()[3:]:
        name, count = line.split()
        jobs[name] = int(count)
    return jobs


@pytest.mark.e2e
def test_changed_hyperparameter_reruns_only_that_model(run_dir, tmp_path):
    config = write_test_config(tmp_path, **{"vae.n_hidden": 32})
    jobs = planned_jobs(run_dir, config)
    n = 4  # datasets in the test config; the two vcf datasets also rewrite the VAE's synthetic VCF
    assert jobs == {
        "train": n,
        "latent": n,
        "synthesize": n,
        "evaluate": n,
        "synthetic_vcf": 2,
        "aggregate_metrics": 1,
        "report": 1,
        "all": 1,
    }
    # a change that only the baselines see reruns the baselines, not the VAE training
    jobs = planned_jobs(run_dir, write_test_config(tmp_path, **{"latent.n_neighbors": 10}))
    # (the latent of both encoder models, ae and vae)
    assert "train" not in jobs and jobs["latent"] == 2 * n and jobs["baseline_pca"] == n


def _epochs_logged(csv: Path) -> int:
    try:
        return int(pd.read_csv(csv)["epoch"].max()) + 1
    except (FileNotFoundError, pd.errors.EmptyDataError, KeyError, ValueError):
        return 0


@pytest.mark.e2e
def test_killed_training_resumes_from_last_checkpoint(tmp_path):
    # long enough to be killed mid-run; no early stopping, so both runs end at max_epochs
    changes = {"vae.max_epochs": 120, "vae.patience": 1000}
    interrupted, uninterrupted = tmp_path / "interrupted", tmp_path / "uninterrupted"
    for workdir in (interrupted, uninterrupted):
        workdir.mkdir()
        link_shipped_data(workdir)
    target = "results/pbmc68k/vae/model.ckpt"
    training = interrupted / "results" / "pbmc68k" / "vae" / ".model_training"

    cmd = snakemake_command(interrupted, target, "--configfile", str(write_test_config(interrupted, **changes)))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    csv = training / "csv" / "version_0" / "metrics.csv"
    while _epochs_logged(csv) < 30 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "training finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _epochs_logged(csv)
    assert 30 <= killed_at < 120
    assert (training / "checkpoints" / "last.ckpt").exists() and not (interrupted / target).exists()

    config = str(write_test_config(interrupted, **changes))
    assert snakemake(interrupted, "--unlock", "--configfile", config).returncode == 0
    result = snakemake(interrupted, target, "--rerun-incomplete", "--configfile", config)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (interrupted / "results" / "logs" / "train" / "pbmc68k_vae.log").read_text()
    assert "resuming an interrupted run" in log
    assert not training.exists()  # the working folder is removed once training ends

    result = snakemake(uninterrupted, target, "--configfile", str(write_test_config(uninterrupted, **changes)))
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = pd.read_csv(interrupted / "results" / "pbmc68k" / "vae" / "history.csv")
    straight = pd.read_csv(uninterrupted / "results" / "pbmc68k" / "vae" / "history.csv")
    # every epoch once, the same number of epochs, and a final validation ELBO of the same quality
    assert resumed["epoch"].tolist() == list(range(120)) == straight["epoch"].tolist()
    assert resumed["val_loss"].notna().all()
    assert abs(resumed["val_loss"].min() - straight["val_loss"].min()) < 0.02 * straight["val_loss"].min()
