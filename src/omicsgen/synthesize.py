"""Synthetic cells from a trained model, conditioned on labels, and the marginals baseline.

Every synthetic AnnData has the real data's ``var``, the label column, and
``obs["synthetic"] = True``; cells are named ``synthetic_<i>`` so they cannot be mistaken
for real ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from omicsgen.io import dense

if TYPE_CHECKING:  # torch is imported only by the functions that need it
    from omicsgen.models import VAE

UNLABELLED = "all"


def training_groups(adata: ad.AnnData) -> dict[str, np.ndarray]:
    """Indices of the training cells of each label (one group ``"all"`` when unlabelled)."""
    train = adata.obs["split"].to_numpy() == "train"
    key = adata.uns["omicsgen"]["label_key"]
    labels = adata.obs[key].astype(str).to_numpy() if key else np.full(adata.n_obs, UNLABELLED)
    return {label: np.flatnonzero(train & (labels == label)) for label in sorted(set(labels[train]))}


def _synthetic_anndata(adata: ad.AnnData, X: np.ndarray, labels: list[str], method: str) -> ad.AnnData:
    key = adata.uns["omicsgen"]["label_key"]
    obs = pd.DataFrame(index=[f"synthetic_{i}" for i in range(len(labels))])
    if key:
        obs[key] = pd.Categorical(labels, categories=adata.obs[key].cat.categories)
    obs["synthetic"] = True
    out = ad.AnnData(X=sp.csr_matrix(X.astype(np.float32)), obs=obs, var=adata.var.copy())
    out.uns["omicsgen"] = {**adata.uns["omicsgen"], "synthetic_method": method}
    return out


def synthesize_vae(adata: ad.AnnData, model: VAE, n_per_label: int, seed: int) -> ad.AnnData:
    """Sample ``n_per_label`` new cells per label from a trained VAE.

    Conditioning uses the aggregate posterior of each label: for a synthetic cell of label
    ``l`` a training cell ``i`` of that label is drawn uniformly, ``z ~ q(z | x_i)``, a library
    size is drawn from a log-normal fitted to the label's training library sizes (scVI's
    library prior), and ``x ~ p(x | z, library)``. The decoder itself is not given the
    label, so the latent keeps the label structure that :mod:`omicsgen.evaluate` scores.

    Parameters
    ----------
    adata
        Model-ready AnnData the model was trained on.
    model
        Trained VAE (eval mode).
    n_per_label
        Cells per label (in total when the data are unlabelled).
    seed
        Seeds numpy's choice of cells and torch's draws (inside ``torch.random.fork_rng``).

    Returns
    -------
    anndata.AnnData
        ``(n_labels * n_per_label, n_genes)`` float32 CSR, counts for the ``nb``
        likelihood, values on the input scale for ``gaussian``.
    """
    import torch

    rng = np.random.default_rng(seed)
    blocks, labels = [], []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for label, idx in training_groups(adata).items():
            picks = rng.choice(idx, size=n_per_label, replace=True)
            x = torch.from_numpy(dense(adata.X[picks]))
            mean_z, log_var = model.encode(x)
            z = mean_z + torch.exp(0.5 * log_var) * torch.randn_like(mean_z)
            log_library = np.log(dense(adata.X[idx]).sum(axis=1))
            library = np.exp(rng.normal(log_library.mean(), log_library.std(), size=(n_per_label, 1)))
            mean = model.decode(z, torch.from_numpy(library.astype(np.float32)))
            blocks.append(model.sample_observation(mean).numpy())
            labels += [label] * n_per_label
    return _synthetic_anndata(adata, np.concatenate(blocks), labels, "vae aggregate posterior per label")


def synthesize_marginals(adata: ad.AnnData, n_per_label: int, seed: int) -> ad.AnnData:
    """Independent-marginals baseline: every gene drawn on its own from its label's training values.

    For each synthetic cell of label ``l`` and each gene, the value of a uniformly drawn
    training cell of label ``l`` is taken, independently across genes. Per-gene
    distributions match the training data; gene-gene structure is lost (the
    independent-marginals baseline of synthcity and Yelmen et al. 2021).

    Parameters
    ----------
    adata
        Model-ready AnnData.
    n_per_label
        Cells per label (in total when unlabelled).
    seed
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    anndata.AnnData
        ``(n_labels * n_per_label, n_genes)`` float32 CSR.
    """
    rng = np.random.default_rng(seed)
    blocks, labels = [], []
    for label, idx in training_groups(adata).items():
        values = dense(adata.X[idx])
        rows = rng.integers(0, values.shape[0], size=(n_per_label, values.shape[1]))
        blocks.append(np.take_along_axis(values, rows, axis=0))
        labels += [label] * n_per_label
    return _synthetic_anndata(adata, np.concatenate(blocks), labels, "independent marginals per label")
