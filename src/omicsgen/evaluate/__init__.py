"""Evaluation: latent quality and fidelity metrics, one tidy table per model.

Every metric's docstring names its source. Rows are ``dataset, model, metric, value``.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from omicsgen.evaluate.fidelity import (
    detection_auroc,
    matched_by_label,
    mean_correlation,
    mmd,
    reconstruction_error,
    variance_correlation,
)
from omicsgen.evaluate.latent import knn_accuracy, silhouette
from omicsgen.latent import RECONSTRUCTED
from omicsgen.preprocess import log1p_normalized
from omicsgen.synthesize import UNLABELLED

COLUMNS = ["dataset", "model", "metric", "value"]
# metric -> True when higher is better; the report uses it to compare models with baselines
HIGHER_IS_BETTER = {
    "reconstruction_error": False,
    "knn_accuracy": True,
    "silhouette": True,
    "mean_correlation": True,
    "variance_correlation": True,
    "mmd": False,
    "detection_auroc": False,
}

__all__ = [
    "COLUMNS", "HIGHER_IS_BETTER", "evaluate_model", "detection_auroc", "knn_accuracy",
    "matched_by_label", "mean_correlation", "mmd", "reconstruction_error", "silhouette",
    "variance_correlation",
]


def _labels(adata: ad.AnnData) -> np.ndarray:
    key = adata.uns["omicsgen"]["label_key"]
    return adata.obs[key].astype(str).to_numpy() if key else np.full(adata.n_obs, UNLABELLED)


def evaluate_model(
    real: ad.AnnData,
    *,
    dataset: str,
    model: str,
    latent: ad.AnnData | None = None,
    synthetic: ad.AnnData | None = None,
    k: int = 15,
    n_estimators: int = 500,
    seed: int = 0,
    threads: int = 1,
) -> pd.DataFrame:
    """All metrics that apply to one model on one dataset, on the held-out test split.

    Parameters
    ----------
    real
        Model-ready AnnData with ``obs["split"]``.
    dataset, model
        Names written in the table.
    latent
        Output of the latent stage (``obsm["X_<model>"]``, ``layers["reconstructed"]``):
        gives ``reconstruction_error`` and, when labelled, ``knn_accuracy`` and ``silhouette``.
    synthetic
        Synthetic AnnData: gives ``mean_correlation``, ``variance_correlation``, ``mmd``
        (against all test cells) and ``detection_auroc`` (test cells vs as many synthetic
        cells of the same labels).
    k
        Neighbours of ``knn_accuracy``.
    n_estimators
        Trees of the ``detection_auroc`` random forest.
    seed, threads
        Seed and CPU threads of the metrics that draw or fit.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per metric.
    """
    encoding = real.uns["omicsgen"]["encoding"]
    split = real.obs["split"].astype(str).to_numpy()
    test = split == "test"
    labels = _labels(real)
    expression = log1p_normalized(real.X, encoding)
    rows: list[tuple[str, float]] = []
    if latent is not None:
        rows.append(("reconstruction_error", reconstruction_error(expression[test], latent.layers[RECONSTRUCTED][test])))
        if real.uns["omicsgen"]["label_key"]:
            embedding = latent.obsm[latent.uns["omicsgen"]["latent_key"]]
            rows.append(("knn_accuracy", knn_accuracy(embedding, labels, split, k=k)))
            rows.append(("silhouette", silhouette(embedding, labels)))
    if synthetic is not None:
        synth = log1p_normalized(synthetic.X, encoding)
        rows.append(("mean_correlation", mean_correlation(expression[test], synth)))
        rows.append(("variance_correlation", variance_correlation(expression[test], synth)))
        rows.append(("mmd", mmd(expression[test], synth, seed=seed)))
        real_idx, synth_idx = matched_by_label(labels[test], _labels(synthetic), seed)
        rows.append((
            "detection_auroc",
            detection_auroc(expression[test][real_idx], synth[synth_idx], n_estimators=n_estimators, seed=seed, threads=threads),
        ))
    return pd.DataFrame([(dataset, model, name, value) for name, value in rows], columns=COLUMNS)
