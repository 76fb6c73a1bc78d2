"""Latent space: encode cells, reduce the latent with PCA and UMAP, and the PCA baseline.

Results go into AnnData the scverse way: ``obsm["X_<model>"]`` (latent),
``obsm["X_<model>_pca"]`` and ``obsm["X_<model>_umap"]`` (its reductions), and
``obs["reconstruction_mse"]`` (each cell's mean squared reconstruction error on the
log1p-normalised scale). Cells are encoded and reconstructed a batch at a time: no dense copy
of the matrix or of its reconstruction is held.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import scanpy as sc
from sklearn.decomposition import PCA

from omicsgen import contract
from omicsgen.contract import RECONSTRUCTION_MSE, label_codes
from omicsgen.io import dense
from omicsgen.preprocess import metric_scale

if TYPE_CHECKING:  # torch is imported only by the functions that need it
    from omicsgen.models.base import TrainingPlan

log = logging.getLogger(__name__)


def cache_umap_compilation() -> int:
    """Let numba cache umap-learn's compiled functions on disk, so later jobs load them instead of compiling.

    umap-learn's ``numba.njit`` functions are compiled in every process (umap-learn 0.5
    declares no ``cache=True``): 10-20 s of each latent job on small data. This enables
    numba's on-disk cache (``Dispatcher.enable_caching``, what ``cache=True`` does) for
    those of ``umap.umap_`` and ``umap.layouts``; numba keeps it next to the package or in
    ``NUMBA_CACHE_DIR``, keyed by source and CPU, so a changed install recompiles. Results
    are unchanged. Returns how many functions were switched; 0 (with a log line) if
    numba's dispatcher API has changed.
    """
    import umap.layouts
    import umap.umap_

    try:
        from numba.core.caching import NullCache
        from numba.core.registry import CPUDispatcher
    except ImportError:
        log.info("numba's dispatcher API has changed: umap-learn's functions are compiled in this job")
        return 0
    switched = 0
    for module in (umap.umap_, umap.layouts):
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                value.enable_caching()
                switched += 1
    return switched


PCA_FIT_CELLS = 50_000  # training cells the PCA baseline is fitted on at most
SPECTRAL_INIT_CELLS = 100_000  # UMAP starts from the graph's spectral layout up to this many cells, else from PCA


def _row_mse(real: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """float32 ``(n,)`` mean over genes of (real - reconstructed)^2, both ``(n, n_genes)`` on the metric scale."""
    return np.mean((real - reconstructed) ** 2, axis=1).astype(np.float32)


def encoder_latent(adata: ad.AnnData, model: TrainingPlan, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes and reconstruction errors of every cell by a model with an encoder (AE, VAE).

    Parameters
    ----------
    adata
        Model-ready AnnData the model was trained on (same features and labels).
    model
        Trained AE or VAE (eval mode); a conditional decoder gets each cell's own label.
    batch_size
        Cells per forward pass.

    Returns
    -------
    latent : numpy.ndarray
        float32 ``(n_cells, n_latent)``: the mean of ``q(z | x)`` (VAE) or the code (AE).
    reconstruction_mse : numpy.ndarray
        float32 ``(n_cells,)``: mean over genes of the squared difference between the cell
        and the decoded mean at its latent, both on the log1p-normalised scale (for counts,
        ``log1p(mean / library * 1e4)``).

    Raises
    ------
    ValueError
        The model has no encoder (the GAN).
    """
    import torch

    if not model.has_encoder:
        raise ValueError(f"{type(model).__name__} has no encoder, so no latent of real cells")
    codes = torch.from_numpy(label_codes(adata, model.labels))
    encoding = contract.encoding(adata)
    latent, mse = [], []
    with torch.no_grad():
        for start in range(0, adata.n_obs, batch_size):
            x = torch.from_numpy(dense(adata.X[start : start + batch_size]))
            y = model.conditioning(codes[start : start + batch_size])
            mean_z, _ = model.encode(x)
            library = x.sum(dim=1, keepdim=True)
            latent.append(mean_z.numpy())
            decoded = model.decode(mean_z, y, library).numpy()
            mse.append(_row_mse(metric_scale(x.numpy(), encoding), metric_scale(decoded, encoding)))
    return np.concatenate(latent), np.concatenate(mse)


def pca_latent(
    adata: ad.AnnData, n_components: int, seed: int, batch_size: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """PCA baseline: components fitted on the training split of log1p-normalised values.

    Fitted on at most :data:`PCA_FIT_CELLS` training cells (a seeded random subset beyond
    that, so the dense copy stays bounded); cells are projected and reconstructed
    ``batch_size`` at a time.

    Parameters
    ----------
    adata
        Model-ready AnnData with ``obs["split"]``.
    n_components
        Dimensions, the same as the model's latent for a fair comparison.
    seed
        ``random_state`` of scikit-learn's PCA and seed of the subset it is fitted on.
    batch_size
        Cells projected at a time.

    Returns
    -------
    latent : numpy.ndarray
        float32 ``(n_cells, n_components)`` PC scores of every cell.
    reconstruction_mse : numpy.ndarray
        float32 ``(n_cells,)`` mean squared error of the inverse transform, log1p-normalised scale.
    """
    encoding = contract.encoding(adata)
    train = np.flatnonzero(adata.obs["split"].to_numpy() == "train")
    if len(train) > PCA_FIT_CELLS:
        train = np.sort(np.random.default_rng(seed).choice(train, PCA_FIT_CELLS, replace=False))
    pca = PCA(n_components=n_components, random_state=seed).fit(metric_scale(adata.X[train], encoding))
    latent, mse = [], []
    for start in range(0, adata.n_obs, batch_size):
        expression = metric_scale(adata.X[start : start + batch_size], encoding)
        scores = pca.transform(expression)
        latent.append(scores.astype(np.float32))
        mse.append(_row_mse(expression, pca.inverse_transform(scores)))
    return np.concatenate(latent), np.concatenate(mse)


def embed(
    adata: ad.AnnData,
    latent: np.ndarray,
    reconstruction_mse: np.ndarray,
    model_name: str,
    *,
    n_neighbors: int = 15,
    seed: int = 0,
) -> ad.AnnData:
    """Copy ``adata`` with the latent, its PCA and UMAP, and each cell's reconstruction error added.

    UMAP (McInnes et al. 2018) via ``scanpy.pp.neighbors`` and ``scanpy.tl.umap`` on the
    latent; PCA of the latent with scikit-learn (all its dimensions, ordered by variance).
    UMAP starts from the spectral layout of the k-NN graph (umap-learn's and scanpy's
    default) up to :data:`SPECTRAL_INIT_CELLS` cells; above, from the first two PCs of the
    latent, since ARPACK's eigendecomposition of a million-cell graph takes longer than the
    rest of the stage and ever more memory (PCA initialisation keeps the global structure as
    well; Kobak & Linderman 2021, Nature Biotechnology).

    Parameters
    ----------
    adata
        Model-ready AnnData ``(n_cells, n_genes)``.
    latent
        ``(n_cells, n_latent)`` float32.
    reconstruction_mse
        ``(n_cells,)`` float32, each cell's reconstruction MSE (log1p-normalised scale).
    model_name
        Key stem: writes ``obsm["X_<name>"]``, ``obsm["X_<name>_pca"]``, ``obsm["X_<name>_umap"]``
        and ``obs["reconstruction_mse"]``.
    n_neighbors
        Neighbours of the k-NN graph behind UMAP.
    seed
        ``random_state`` of PCA, the neighbour graph and UMAP.

    Returns
    -------
    anndata.AnnData
        The copy; ``uns["omicsgen"]["latent_key"]`` names the latent.
    """
    cache_umap_compilation()
    out = adata.copy()
    key = f"X_{model_name}"
    out.obsm[key] = latent.astype(np.float32)
    n_pcs = min(latent.shape[1], latent.shape[0])
    out.obsm[f"{key}_pca"] = PCA(n_components=n_pcs, random_state=seed).fit_transform(latent).astype(np.float32)
    sc.pp.neighbors(
        out, use_rep=key, n_neighbors=min(n_neighbors, out.n_obs - 1), random_state=seed, key_added=model_name
    )
    init = "spectral"
    if out.n_obs > SPECTRAL_INIT_CELLS and n_pcs >= 2:
        init = "X_umap_init"  # scanpy takes an obsm key; the embedding has as many columns as it
        out.obsm[init] = out.obsm[f"{key}_pca"][:, :2]
    sc.tl.umap(out, neighbors_key=model_name, random_state=seed, init_pos=init)
    out.obsm.pop("X_umap_init", None)
    out.obsm[f"{key}_umap"] = out.obsm.pop("X_umap").astype(np.float32)
    out.obs[RECONSTRUCTION_MSE] = np.asarray(reconstruction_mse, dtype=np.float32)
    out.uns["omicsgen"] = {**out.uns["omicsgen"], "latent_key": key, "reconstruction_scale": "log1p-normalised"}
    return out
