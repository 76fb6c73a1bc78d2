"""Real demo data that ships inside installed packages (no download)."""

from __future__ import annotations

import anndata as ad
import numpy as np
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
