"""Names and label lookups of the data contract that every stage shares.

A model-ready AnnData carries ``obs["split"]``, ``uns["omicsgen"]`` (``label_key``,
``likelihood``, ``encoding``, ...) and, in a latent output, ``obs["reconstruction_mse"]``.
This module holds only what several stages read; it imports numpy and nothing heavy, so a
job that only evaluates or writes files does not pay for torch or scanpy.
"""

from __future__ import annotations

import anndata as ad
import numpy as np

UNLABELLED = "all"  # the one group of an unlabelled dataset
RECONSTRUCTION_MSE = "reconstruction_mse"  # obs column of a latent output: each cell's MSE, log1p-normalised scale


def obs_labels(adata: ad.AnnData) -> np.ndarray:
    """str ``(n_obs,)`` label of each observation; :data:`UNLABELLED` for all when the dataset has none."""
    key = adata.uns["omicsgen"]["label_key"]
    return adata.obs[key].astype(str).to_numpy() if key else np.full(adata.n_obs, UNLABELLED)


def label_categories(adata: ad.AnnData) -> list[str]:
    """The label categories a conditional model is given, in code order; empty when unlabelled."""
    key = adata.uns["omicsgen"]["label_key"]
    return [str(c) for c in adata.obs[key].cat.categories] if key else []


def label_codes(adata: ad.AnnData, categories: list[str]) -> np.ndarray:
    """int64 ``(n_obs,)`` codes of each observation's label in ``categories`` (zeros when there are none).

    Raises
    ------
    ValueError
        A label of ``adata`` is not among ``categories`` (the model was trained on other labels).
    """
    if not categories:
        return np.zeros(adata.n_obs, dtype=np.int64)
    labels = obs_labels(adata)
    unknown = sorted(set(labels) - set(categories))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's labels {categories}; retrain on these data")
    code = {label: i for i, label in enumerate(categories)}
    return np.array([code[label] for label in labels], dtype=np.int64)
