"""A user's own config with one dataset above 10,000 cells: every stage runs, and only that dataset.

Dependency releases have broken the workflow at this size unseen before (scanpy's k-NN graph
from 8,192 cells on), so the suite keeps one run of every stage above it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from omicsgen.datasets import pbmc_like_counts
from omicsgen.io import read_h5ad
from tests.conftest import REPO, snakemake

N_CELLS = 12_000


def _user_workdir(tmp_path: Path) -> Path:
    """A working directory as a user's clone has it: the default config/ beside their own config."""
    (tmp_path / "config").symlink_to(REPO / "config")
    return tmp_path


def _user_config(tmp_path: Path, data: Path) -> Path:
    """The user's config: their one dataset, short training, and training batches streamed from the
    preprocessed file as for a matrix larger than memory (the rest from config/config.yaml)."""
    config = {
        "datasets": {"big": {"modality": "h5ad", "path": str(data), "label": "cell_type", "n_top_genes": 200}},
        "vae": {"max_epochs": 2, "kl_warmup_epochs": 1, "patience": 2},
        "ae": {"max_epochs": 2, "patience": 2},
        "gan": {"max_steps": 10},
        "synthesize": {"n_per_label": 50},
        "evaluate": {"detection_trees": 50},
        "resources": {"stream": True},
    }
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _datasets_in_plan(stdout: str) -> set[str]:
    return set(re.findall(r"wildcards: dataset=([\w-]+)", stdout))


def test_plain_run_is_the_demo_and_a_user_config_only_its_datasets(tmp_path):
    workdir = _user_workdir(tmp_path)
    demo = snakemake(workdir, "-n")
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert _datasets_in_plan(demo.stdout) == {"pbmc68k", "eur_1kg", "simulated_ooa3", "na12878_chrM"}
    data = workdir / "cells.h5ad"
    pbmc_like_counts(200).write_h5ad(data)
    own = snakemake(workdir, "-n", "--configfile", str(_user_config(workdir, data)))
    assert own.returncode == 0, own.stderr[-2000:]
    assert _datasets_in_plan(own.stdout) == {"big"}


def test_ar_alone_has_the_hmm_that_phases_it_trained(tmp_path):
    """``models: [ar]`` with the default ``ar.phase: hmm``: the plan trains the HMM on the genotype datasets
    that may be unphased, to draw ``ar``'s haplotypes from, and neither evaluates nor reports it;
    ``phase: none`` and ``encoding: haplotype`` need no HMM."""
    workdir = _user_workdir(tmp_path)
    plan = snakemake(workdir, "-n", "--config", "models=[ar]")
    assert plan.returncode == 0, plan.stderr[-2000:]
    for dataset in ("eur_1kg", "simulated_ooa3"):  # ooa3's encoding is auto: not known before preprocessing
        assert f"results/{dataset}/hmm/model.ckpt" in plan.stdout and f"results/{dataset}/ar/model.ckpt" in plan.stdout
    assert "hmm/metrics.tsv" not in plan.stdout and "results/pbmc68k/hmm/" not in plan.stdout
    unphased = snakemake(workdir, "-n", "--config", "models=[ar]", "ar={'phase': 'none'}")
    assert unphased.returncode == 0 and "/hmm/" not in unphased.stdout, unphased.stderr[-2000:]
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["datasets"]["simulated_ooa3"]["encoding"] = "haplotype"
    (workdir / "haplotypes.yaml").write_text(yaml.safe_dump({**config, "models": ["ar"]}))
    haplotypes = snakemake(workdir, "-n", "--configfile", str(workdir / "haplotypes.yaml"))
    assert haplotypes.returncode == 0, haplotypes.stderr[-2000:]
    assert "results/eur_1kg/hmm/model.ckpt" in haplotypes.stdout
    assert "results/simulated_ooa3/hmm/" not in haplotypes.stdout


def test_a_latent_gan_alone_has_its_autoencoder_trained(tmp_path):
    """``models: [gan]`` with the default ``gan.space: latent``: the plan trains the AE the GAN plays in, and
    neither evaluates nor reports it."""
    workdir = _user_workdir(tmp_path)
    plan = snakemake(workdir, "-n", "--config", "models=[gan]")
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "results/pbmc68k/ae/model.ckpt" in plan.stdout and "results/pbmc68k/gan/model.ckpt" in plan.stdout
    assert "results/pbmc68k/ae/metrics.tsv" not in plan.stdout and "results/pbmc68k/vae/" not in plan.stdout
    data_space = snakemake(workdir, "-n", "--config", "models=[gan]", "gan={'space': 'data'}")
    assert data_space.returncode == 0, data_space.stderr[-2000:]
    assert "results/pbmc68k/ae/" not in data_space.stdout


@pytest.mark.e2e
def test_every_stage_above_10000_cells(tmp_path):
    workdir = _user_workdir(tmp_path)
    data = workdir / "cells.h5ad"
    pbmc_like_counts(N_CELLS).write_h5ad(data)
    result = snakemake(workdir, "--configfile", str(_user_config(workdir, data)), timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]

    results = workdir / "results"
    assert sorted(p.name for p in results.iterdir() if p.is_dir()) == ["benchmarks", "big", "logs"]
    real = read_h5ad(results / "big" / "preprocessed.h5ad")
    assert real.shape == (N_CELLS, 200) and real.uns["omicsgen"]["input_values"] == "counts"
    for model in ("ae", "vae", "pca"):
        latent = read_h5ad(results / "big" / model / "latent.h5ad")
        umap = latent.obsm[f"X_{model}_umap"]
        assert umap.shape == (N_CELLS, 2) and np.isfinite(umap).all()
    for model in ("ae", "vae", "gan"):
        training = json.loads((results / "big" / model / "training.json").read_text())
        assert training["streamed"] and training["n_train"] == (real.obs["split"] == "train").sum()
    n_types = real.obs["cell_type"].nunique()
    for model in ("ae", "vae", "gan", "marginals"):
        assert read_h5ad(results / "big" / model / "synthetic.h5ad").n_obs == 50 * n_types
    table = pd.read_csv(results / "metrics.tsv", sep="\t")
    assert set(table["dataset"]) == {"big"} and set(table["model"]) == {
        "ae",
        "vae",
        "gan",
        "pca",
        "marginals",
        "real",
        "copy",
    }
    # PCA of counts drawn from 10 cell-type profiles separates the types
    assert table.set_index("model").loc["pca", "knn_accuracy"] > 0.5
    assert "Dataset big" in (results / "report.html").read_text()
