"""Shared fixtures: the real pbmc68k data (shipped with scanpy) and a small trained VAE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from omicsgen.datasets import pbmc68k_counts
from omicsgen.preprocess import prepare_scrna

REPO = Path(__file__).resolve().parents[1]
TEST_CONFIG = REPO / ".test" / "config.yaml"
SHIPPED = ("eur_1kg", "na12878_chrM")  # real data kept in the repository under resources/
FAST_VAE = {
    "n_latent": 6,
    "n_hidden": 64,
    "n_layers": 1,
    "dropout": 0.1,
    "lr": 1e-2,
    "weight_decay": 1e-6,
    "kl_warmup_epochs": 2,
    "lr_plateau_patience": 10,
    "conditional_decoder": True,
    "batch_size": 128,
    "max_epochs": 6,
    "patience": 3,
}
FAST_AE = {key: value for key, value in FAST_VAE.items() if key != "kl_warmup_epochs"}


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
    from omicsgen.train import train_model

    out = tmp_path_factory.mktemp("vae")
    model = train_model(prepared, "vae", out / "model.ckpt", out / "history.csv", params=FAST_VAE, seed=0, threads=2)
    return model, out / "model.ckpt", out / "history.csv"


@pytest.fixture()
def rng():
    return np.random.default_rng(0)


def link_shipped_data(workdir: Path) -> None:
    """Link the repository's real data (:data:`SHIPPED`) into ``workdir``: configs name it relative to the
    working directory."""
    for name in SHIPPED:
        link = Path(workdir) / "resources" / name
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(REPO / "resources" / name)


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The command line that runs the repository's workflow in ``workdir`` with 2 cores."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir)] + [
        "--cores",
        "2",
        *args,
    ]


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` with 2 cores; output captured as text.

    The repository's shipped data is linked into ``workdir`` first (:func:`link_shipped_data`).
    """
    link_shipped_data(workdir)
    return subprocess.run(snakemake_command(workdir, *args), capture_output=True, text=True, timeout=timeout)


def write_test_config(
    tmp_path: Path, datasets: tuple[str, ...] | None = None, models: list[str] | None = None, **changes
) -> Path:
    """Write the fast test config with dotted-key ``changes`` (``vae.max_epochs=3``) to ``tmp_path``.

    ``datasets`` keeps only the named datasets (all when None); ``models`` replaces the model families.
    """
    config = yaml.safe_load(TEST_CONFIG.read_text())
    if datasets is not None:
        config["datasets"] = {name: config["datasets"][name] for name in datasets}
    if models is not None:
        config["models"] = models
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A finished local run of the workflow on the fast test config."""
    workdir = tmp_path_factory.mktemp("e2e")
    result = snakemake(workdir, "--configfile", str(TEST_CONFIG))
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir
