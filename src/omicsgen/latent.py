"""Latent space: encode cells, reduce the latent with PCA and UMAP, and the PCA baseline.

Results go into AnnData the scverse way: ``obsm["X_<model>"]`` (latent),
``obsm["X_<model>_pca"]`` and ``obsm["X_<model>_umap"]`` (its reductions), and
``layers["reconstructed"]`` (reconstruction on the log1p-normalised scale).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import scanpy as sc
from sklearn.decomposition import PCA

from omicsgen.contract import RECONSTRUCTED, label_codes
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

def encoder_latent(adata: ad.AnnData, model: TrainingPlan, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes and reconstructions of every cell by a model with an encoder (AE, VAE).

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
    reconstructed : numpy.ndarray
        float32 ``(n_cells, n_genes)``: decoded mean at that latent on the
        log1p-normalised scale (for counts, ``log1p(mean / library * 1e4)``).

    Raises
    ------
    ValueError
        The model has no encoder (the GAN).
    """
    import torch

    if not hasattr(model, "encode"):
        raise ValueError(f"{type(model).__name__} has no encoder, so no latent of real cells")
    codes = torch.from_numpy(label_codes(adata, model.labels))
    latent, recon = [], []
    with torch.no_grad():
        for start in range(0, adata.n_obs, batch_size):
            x = torch.from_numpy(dense(adata.X[start : start + batch_size]))
            y = model.conditioning(codes[start : start + batch_size])
            mean_z, _ = model.encode(x)
            library = x.sum(dim=1, keepdim=True)
            latent.append(mean_z.numpy())
            recon.append(model.decode(mean_z, y, library).numpy())
    encoding = adata.uns["omicsgen"]["encoding"]
    return np.concatenate(latent), metric_scale(np.concatenate(recon), encoding)


def pca_latent(adata: ad.AnnData, n_components: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA baseline: components fitted on the training split of log1p-normalised values.

    Parameters
    ----------
    adata
        Model-ready AnnData with ``obs["split"]``.
    n_components
        Dimensions, the same as the model's latent for a fair comparison.
    seed
        ``random_state`` of scikit-learn's PCA.

    Returns
    -------
    latent : numpy.ndarray
        float32 ``(n_cells, n_components)`` PC scores of every cell.
    reconstructed : numpy.ndarray
        float32 ``(n_cells, n_genes)`` inverse transform, log1p-normalised scale.
    """
    expression = metric_scale(adata.X, adata.uns["omicsgen"]["encoding"])
    train = adata.obs["split"].to_numpy() == "train"
    pca = PCA(n_components=n_components, random_state=seed).fit(expression[train])
    latent = pca.transform(expression).astype(np.float32)
    return latent, pca.inverse_transform(latent).astype(np.float32)


def embed(
    adata: ad.AnnData,
    latent: np.ndarray,
    reconstructed: np.ndarray,
    model_name: str,
    *,
    n_neighbors: int = 15,
    seed: int = 0,
) -> ad.AnnData:
    """Copy ``adata`` with the latent, its PCA and UMAP, and the reconstruction added.

    UMAP (McInnes et al. 2018) via ``scanpy.pp.neighbors`` and ``scanpy.tl.umap`` on the
    latent; PCA of the latent with scikit-learn (all its dimensions, ordered by variance).

    Parameters
    ----------
    adata
        Model-ready AnnData ``(n_cells, n_genes)``.
    latent
        ``(n_cells, n_latent)`` float32.
    reconstructed
        ``(n_cells, n_genes)`` float32, log1p-normalised scale.
    model_name
        Key stem: writes ``obsm["X_<name>"]``, ``obsm["X_<name>_pca"]``, ``obsm["X_<name>_umap"]``.
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
    sc.pp.neighbors(out, use_rep=key, n_neighbors=min(n_neighbors, out.n_obs - 1), random_state=seed, key_added=model_name)
    sc.tl.umap(out, neighbors_key=model_name, random_state=seed)
    out.obsm[f"{key}_umap"] = out.obsm.pop("X_umap").astype(np.float32)
    out.layers[RECONSTRUCTED] = reconstructed.astype(np.float32)
    out.uns["omicsgen"] = {**out.uns["omicsgen"], "latent_key": key, "reconstructed_scale": "log1p-normalised"}
    return out
