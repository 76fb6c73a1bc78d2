"""Real demo data that ships inside installed packages (no download), and data generated from it for tests of size."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

COUNTS_LAYER = "counts"


def pbmc68k_counts() -> ad.AnnData:
    """10x PBMC 68k subset shipped with scanpy, with integer counts rebuilt.

    ``scanpy.datasets.pbmc68k_reduced()`` (Zheng et al. 2017; 700 cells x 765 genes,
    ``obs["bulk_labels"]`` with 10 cell types) stores scaled values in ``X`` and
    ``log1p(counts / n_counts * 1e4)`` in ``.raw``. Counts are rebuilt as
    ``round(expm1(raw.X) * n_counts / 1e4)``; every value lies within 0.1 of an integer.

    Returns
    -------
    anndata.AnnData
        700 x 765; ``X`` float32 CSR log1p-normalised values (from ``.raw``),
        ``layers["counts"]`` float32 CSR integer counts; ``obs`` as shipped.

    Raises
    ------
    RuntimeError
        If the rebuilt counts are not within 0.1 of integers (the shipped data changed).
    """
    pbmc = sc.datasets.pbmc68k_reduced()
    log1p = pbmc.raw.X.toarray() if sp.issparse(pbmc.raw.X) else np.asarray(pbmc.raw.X)
    counts = np.expm1(log1p.astype(np.float64)) * pbmc.obs["n_counts"].to_numpy()[:, None] / 1e4
    rounded = np.round(counts)
    err = float(np.abs(counts - rounded).max())
    if err > 0.1:
        raise RuntimeError(f"pbmc68k_reduced: counts rebuilt from .raw are {err:.3f} from integers")
    out = ad.AnnData(
        X=sp.csr_matrix(log1p.astype(np.float32)),
        obs=pbmc.obs.copy(),
        var=pbmc.raw.var.copy(),
    )
    out.layers[COUNTS_LAYER] = sp.csr_matrix(rounded.astype(np.float32))
    out.uns["source"] = (
        "scanpy.datasets.pbmc68k_reduced() (10x Genomics PBMC 68k, Zheng et al. 2017); "
        "layers['counts'] = round(expm1(raw.X) * obs['n_counts'] / 1e4)"
    )
    return out


def pbmc_like_counts(n_cells: int, n_genes: int | None = None, seed: int = 0, chunk: int = 20_000) -> ad.AnnData:
    """Counts drawn from pbmc68k's per-cell-type gene profiles (generated, not real cells).

    Cell types in pbmc68k's proportions (:func:`pbmc68k_counts`, ``bulk_labels``); each cell's
    counts are Gamma-Poisson (negative binomial, inverse dispersion 2) around its type's mean
    proportions times a library size drawn from the log-normal of pbmc68k's library sizes.
    Generated ``chunk`` cells at a time: no dense cells x genes matrix is held, only one dense
    chunk beside the sparse blocks (stacked at the end, briefly twice their size).

    Parameters
    ----------
    n_cells
        Cells to draw.
    n_genes
        Genes; ``None`` for pbmc68k's 765. More genes are pbmc68k's gene profiles drawn with
        replacement (named ``gene<i>``), each cell type's proportions renormalised.
    seed
        Seed of ``numpy.random.default_rng``.
    chunk
        Cells generated at a time.

    Returns
    -------
    anndata.AnnData
        ``X`` float32 CSR counts ``(n_cells, n_genes)``, ``obs["cell_type"]``.
    """
    real = pbmc68k_counts()
    counts = real.layers[COUNTS_LAYER].toarray()
    labels = real.obs["bulk_labels"].astype(str).to_numpy()
    types, freq = np.unique(labels, return_counts=True)
    profiles = np.stack([counts[labels == t].sum(axis=0) / counts[labels == t].sum() for t in types])
    log_library = np.log(counts.sum(axis=1))
    rng = np.random.default_rng(seed)
    var = real.var[[]].copy()
    if n_genes is not None and n_genes != real.n_vars:
        genes = rng.choice(real.n_vars, size=n_genes, replace=n_genes > real.n_vars)
        profiles = profiles[:, genes] / profiles[:, genes].sum(axis=1, keepdims=True)
        var = pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)])
    drawn = rng.choice(len(types), size=n_cells, p=freq / freq.sum())
    library = np.exp(rng.normal(log_library.mean(), log_library.std(), size=n_cells))
    blocks = []
    for start in range(0, n_cells, chunk):
        rows = slice(start, min(start + chunk, n_cells))
        mean = profiles[drawn[rows]] * library[rows, None]
        blocks.append(sp.csr_matrix(rng.poisson(rng.gamma(2.0, mean / 2.0)).astype(np.float32)))
    obs = pd.DataFrame({"cell_type": pd.Categorical(types[drawn])}, index=[f"cell{i:07d}" for i in range(n_cells)])
    return ad.AnnData(X=sp.vstack(blocks, format="csr"), obs=obs, var=var)
