"""The real Snakemake workflow: end-to-end run on pbmc68k and its errors on bad input."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsgen.io import read_h5ad

from tests.conftest import REPO, TEST_CONFIG, snakemake, write_test_config

GENERATION = {
    "mean_correlation", "variance_correlation", "mmd", "detection_auroc",
    "aats", "privacy_loss", "dcr", "dcr_holdout", "n_identical_to_train",
    "trtr_accuracy", "tstr_accuracy", "real_macro_f1", "augmented_macro_f1", "augmentation_recall_gain",
}
METRICS = {
    "vae": {"reconstruction_error", "knn_accuracy", "silhouette"} | GENERATION,
    "pca": {"reconstruction_error", "knn_accuracy", "silhouette"},
    "marginals": GENERATION,
}


@pytest.mark.e2e
def test_lint():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.e2e
def test_outputs_content(run_dir):
    results = run_dir / "results" / "pbmc68k"
    real = read_h5ad(results / "preprocessed.h5ad")
    assert real.shape == (700, 300)
    prov = real.uns["omicsgen"]["provenance"]
    assert len(prov["inputs"]["input"]["sha256"]) == 64 and "torch" in prov["versions"]

    latent = read_h5ad(results / "vae" / "latent.h5ad")
    for key, dims in {"X_vae": 8, "X_vae_pca": 8, "X_vae_umap": 2}.items():
        assert latent.obsm[key].shape == (700, dims) and np.isfinite(latent.obsm[key]).all()
    assert read_h5ad(results / "pca" / "latent.h5ad").obsm["X_pca"].shape == (700, 8)

    for model in ("vae", "marginals"):
        synth = read_h5ad(results / model / "synthetic.h5ad")
        assert synth.n_obs == 20 * 10 and synth.n_vars == 300
        assert synth.obs["synthetic"].all() and (synth.obs["bulk_labels"].value_counts() == 20).all()

    history = pd.read_csv(results / "vae" / "history.csv")
    assert 1 <= len(history) <= 8 and history["val_loss"].notna().all()
    assert (results / "vae" / "model.ckpt").stat().st_size > 0


@pytest.mark.e2e
def test_metrics_table(run_dir):
    table = pd.read_csv(run_dir / "results" / "metrics.tsv", sep="\t")
    assert list(table.columns) == ["dataset", "model", "metric", "value"]
    assert not table.duplicated(["dataset", "model", "metric"]).any()
    for model, metrics in METRICS.items():
        assert set(table.loc[table["model"] == model, "metric"]) == metrics
    values = table.set_index(["model", "metric"])["value"]
    assert values.notna().all()
    for model in ("vae", "pca"):
        assert 0.1 < values[(model, "knn_accuracy")] <= 1  # 10 labels: chance is about 0.1-0.3
        assert -1 <= values[(model, "silhouette")] <= 1
        assert values[(model, "reconstruction_error")] > 0
    for model in ("vae", "marginals"):
        assert 0 <= values[(model, "detection_auroc")] <= 1
        assert -1 <= values[(model, "mean_correlation")] <= 1 and values[(model, "mean_correlation")] > 0.5
        assert values[(model, "mmd")] > -0.05
        assert 0 <= values[(model, "aats")] <= 1 and values[(model, "dcr")] > 0
        assert values[(model, "n_identical_to_train")] >= 0
        assert 0 < values[(model, "tstr_accuracy")] <= 1 and -1 <= values[(model, "augmentation_recall_gain")] <= 1


@pytest.mark.e2e
def test_report_is_self_contained(run_dir):
    html = (run_dir / "results" / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3  # training curves, latent UMAP, real vs synthetic PCA
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "knn_accuracy" in html and "detection_auroc" in html
    assert re.search(r"vae (beats|does NOT beat) pca on knn_accuracy", html)
    assert "http" not in html.replace("https://json-schema", "")  # nothing loaded from outside


@pytest.mark.e2e
def test_rerun_is_noop(run_dir):
    result = snakemake(run_dir, "--configfile", str(TEST_CONFIG), "-n")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "changes, message",
    [
        ({"vae.max_epochs": "ten"}, "config key 'vae.max_epochs': 'ten' is not of type 'integer'; see config/README.md"),
        ({"vae.n_latnt": 4}, "config key 'vae': Additional properties are not allowed ('n_latnt' was unexpected)"),
        ({"datasets.pbmc68k.path": "data/missing.h5ad"}, "config key 'datasets.pbmc68k.path': file 'data/missing.h5ad' not found"),
    ],
)
def test_bad_config_fails_fast(tmp_path, changes, message):
    result = snakemake(tmp_path, "-n", "--configfile", str(write_test_config(tmp_path, **changes)))
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


def _bad_h5ad(pbmc, kind: str, path: Path) -> None:
    bad = pbmc.copy()
    counts = bad.layers["counts"].toarray()
    if kind == "nan":
        counts[10, 20] = np.nan
    elif kind == "negative":
        counts[10, 20] = -3
    bad.layers["counts"] = counts
    bad.write_h5ad(path)


@pytest.mark.parametrize(
    "kind, changes, message",
    [
        ("nan", {}, "NaN or infinite value at cell"),
        ("negative", {"datasets.pbmc68k.likelihood": "nb"}, "negative value at cell"),
        ("ok", {"datasets.pbmc68k.label": "celltype"}, "label column 'celltype' not in obs"),
    ],
)
def test_bad_data_one_line_error_no_output(tmp_path, pbmc, kind, changes, message):
    data = tmp_path / "bad.h5ad"
    _bad_h5ad(pbmc, kind, data)
    config = write_test_config(tmp_path, **{"datasets.pbmc68k.path": str(data), **changes})
    result = snakemake(tmp_path, "results/pbmc68k/preprocessed.h5ad", "--configfile", str(config))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("omicsgen: error:")]
    assert len(lines) == 1 and message in lines[0] and str(data) in lines[0]
    # nothing half-written either: no output, no temporary file
    assert not list(tmp_path.glob("results/pbmc68k/*.h5ad")) and not list(tmp_path.glob("results/pbmc68k/.*.tmp"))
