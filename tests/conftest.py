"""Shared fixtures: the real pbmc68k data (shipped with scanpy) and a small trained VAE."""

from __future__ import annotations

import numpy as np
import pytest

from omicsgen.datasets import pbmc68k_counts
from omicsgen.preprocess import prepare_scrna

FAST_VAE = {
    "n_latent": 6, "n_hidden": 64, "n_layers": 1, "dropout": 0.1, "lr": 1e-2, "weight_decay": 1e-6,
    "kl_warmup_epochs": 2, "lr_plateau_patience": 10, "batch_size": 128, "max_epochs": 6, "patience": 3,
}


@pytest.fixture(scope="session")
def pbmc():
    """pbmc68k_reduced with rebuilt counts: 700 cells x 765 genes, 10 cell types."""
    return pbmc68k_counts()


@pytest.fixture(scope="session")
def prepared(pbmc):
    """Model-ready pbmc68k: 300 highly variable genes, counts, stratified split."""
    return prepare_scrna(pbmc, "pbmc68k", layer="counts", label_key="bulk_labels", n_top_genes=300, seed=0)


@pytest.fixture(scope="session")
def trained(prepared, tmp_path_factory):
    """A VAE trained for a few epochs on ``prepared``, with its checkpoint and history paths."""
    from omicsgen.train import train_vae

    out = tmp_path_factory.mktemp("vae")
    model = train_vae(prepared, out / "model.ckpt", out / "history.csv", params=FAST_VAE, seed=0, threads=2)
    return model, out / "model.ckpt", out / "history.csv"


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
