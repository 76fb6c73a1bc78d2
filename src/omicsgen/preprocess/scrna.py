"""Single-cell matrices (AnnData ``.h5ad``) to model-ready AnnData.

Output (data contract, :mod:`omicsgen.contract`): obs = cells, var = highly variable genes,
``X`` = counts (float32) or log-normalised values, ``obs["split"]``, the label column,
and ``uns["omicsgen"]`` with modality, encoding, likelihood and provenance.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from omicsgen.contract import set_model_ready
from omicsgen.errors import InputError
from omicsgen.preprocess.split import stratified_split

log = logging.getLogger(__name__)

ENCODING_OF_LIKELIHOOD = {"nb": "counts", "gaussian": "log1p"}  # what X holds for each likelihood
LIKELIHOODS = ("auto", *ENCODING_OF_LIKELIHOOD)
VALUES = ("auto", "counts", "normalized", "log1p")
TARGET_SUM = 1e4  # counts per cell after normalisation (scanpy's normalize_total default, Seurat's)
# log1p values above this would be expm1(30) ~ 1e13 per cell: values this large are not log-scale
LOG1P_MAX = 30.0


def log1p_normalized(X, encoding: str) -> np.ndarray:
    """Expression on the log1p-normalised scale used by every metric and plot.

    Parameters
    ----------
    X
        Array or sparse matrix ``(n_cells, n_genes)``.
    encoding
        ``"counts"``: ``log1p(counts / library_size * 1e4)``, as ``scanpy.pp.normalize_total``
        followed by ``scanpy.pp.log1p``; ``"log1p"``: ``X`` is already on that scale and is
        returned as is.

    Returns
    -------
    numpy.ndarray
        float32 array ``(n_cells, n_genes)``; cells with zero counts stay all zero.
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    X = X.astype(np.float32, copy=False)
    if encoding == "log1p":
        return X
    if encoding != "counts":
        raise ValueError(f"unknown encoding {encoding!r}; expected 'counts' or 'log1p'")
    library = X.sum(axis=1, keepdims=True)
    scale = np.divide(TARGET_SUM, library, out=np.zeros_like(library), where=library > 0)
    return np.log1p(X * scale)


def _first_bad(adata: ad.AnnData, mask_fn, matrix) -> tuple[str, str] | None:
    """Return (cell, gene) of the first entry where ``mask_fn(values)`` holds, else None."""
    if sp.issparse(matrix):
        coo = matrix.tocoo()
        bad = np.flatnonzero(mask_fn(coo.data))
        if bad.size == 0:
            return None
        return adata.obs_names[coo.row[bad[0]]], adata.var_names[coo.col[bad[0]]]
    rows, cols = np.nonzero(mask_fn(np.asarray(matrix)))
    if rows.size == 0:
        return None
    return adata.obs_names[rows[0]], adata.var_names[cols[0]]


def _values(matrix) -> np.ndarray:
    return matrix.data if sp.issparse(matrix) else np.asarray(matrix).ravel()


def detect_values(adata: ad.AnnData, matrix, source: str, values: str = "auto") -> str:
    """What the expression values are: raw counts, normalised, or log-normalised.

    ``"auto"`` decides from the values: non-negative integers are ``"counts"``; non-negative
    values with a maximum above :data:`LOG1P_MAX` (30, i.e. ``expm1(30)`` ~ 1e13 per cell:
    no log scale) are ``"normalized"`` (TPM, CPM or ``normalize_total`` without ``log1p``);
    other non-negative values are ``"log1p"`` (``log1p`` of normalised values, as
    ``scanpy.pp.log1p``). Negative values mean scaled or centred data (``scanpy.pp.scale``),
    which no expression likelihood fits.

    Parameters
    ----------
    adata
        The cells x genes the matrix belongs to (names cells and genes in errors).
    matrix
        float32 array or CSR matrix ``(n_cells, n_genes)``, finite.
    source
        File named in errors.
    values
        ``"auto"``, or what the user states (``"counts"``, ``"normalized"``, ``"log1p"``),
        which is checked against the values.

    Returns
    -------
    str
        ``"counts"``, ``"normalized"`` or ``"log1p"``.

    Raises
    ------
    InputError
        Negative values (scaled data), or values that contradict the stated ``values``.
    """
    if values not in VALUES:
        raise InputError(f"{source}: values {values!r} is not one of {VALUES}")
    data = _values(matrix)
    neg = _first_bad(adata, lambda v: v < 0, matrix) if data.size and data.min() < 0 else None
    if neg:
        raise InputError(
            f"{source}: negative value at cell {neg[0]!r}, gene {neg[1]!r}: the values look scaled or centred "
            "(scanpy.pp.scale), which no expression likelihood fits; point the dataset's 'layer' at the raw "
            "counts (or 'raw' for .raw.X, or a log-normalised layer)"
        )
    is_integer = bool(np.all(data == np.round(data)))
    top = float(data.max()) if data.size else 0.0
    found = "counts" if is_integer else ("normalized" if top > LOG1P_MAX else "log1p")
    if values == "auto" or values == found:
        return found
    if values == "counts":
        cell, gene = _first_bad(adata, lambda v: v != np.round(v), matrix)
        raise InputError(
            f"{source}: non-integer value at cell {cell!r}, gene {gene!r} but values: counts needs raw counts; "
            "point 'layer' at the counts or set values: auto"
        )
    if values == "log1p" and top > LOG1P_MAX:
        raise InputError(
            f"{source}: values up to {top:g} are not log1p-scale (at most {LOG1P_MAX:g}); "
            "set values: normalized (log1p is then applied) or auto"
        )
    return values  # integers stated as normalised or log1p: the user knows their scale


def prepare_scrna(
    adata: ad.AnnData,
    source: str,
    *,
    layer: str | None = None,
    label_key: str | None = None,
    n_top_genes: int = 2000,
    likelihood: str = "auto",
    values: str = "auto",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ad.AnnData:
    """Turn a single-cell AnnData into the model-ready AnnData of the data contract.

    Steps: take the matrix from ``layer`` (``None``: ``X``; ``"raw"``: ``adata.raw.X``),
    check it (finite; non-negative integers for a count likelihood), keep the
    ``n_top_genes`` highly variable genes (``scanpy.pp.highly_variable_genes``, Seurat flavour,
    on log1p-normalised values; Satija et al. 2015), drop cells left with zero counts
    (their number is logged and stored in ``uns``), and draw a label-stratified split.

    The genes are chosen on all cells, before the split, as scanpy's and scvi-tools'
    tutorials do: the choice uses no label, and every model, baseline and evaluation control
    sees the same genes, so it shifts no comparison; what it lets through from the test
    cells is which genes vary most, not their values.

    Parameters
    ----------
    adata
        Input cells x genes.
    source
        File the data came from; named in every error message.
    layer
        Layer holding the values to model; ``None`` for ``X``, ``"raw"`` for ``adata.raw.X``.
    label_key
        ``obs`` column with cell labels (cell type), or ``None`` for unlabelled data.
    n_top_genes
        Number of highly variable genes to keep; all genes when the data have fewer.
    likelihood
        ``"nb"`` (negative binomial on counts, as scVI; Lopez et al. 2018),
        ``"gaussian"`` (on log-normalised values) or ``"auto"``: ``"nb"`` on counts, else
        ``"gaussian"``.
    values
        What the values are (:func:`detect_values`): ``"auto"`` (decided from them),
        ``"counts"``, ``"normalized"`` (not log-transformed: ``log1p`` is applied) or
        ``"log1p"``. Stored in ``uns["omicsgen"]["input_values"]``.
    val_fraction, test_fraction
        Fractions of cells per label for validation and test (see :func:`stratified_split`).
    seed
        Seed of the split.

    Returns
    -------
    anndata.AnnData
        ``X`` float32 ``(n_cells, n_hvg)`` (CSR when the input is sparse): counts when the
        likelihood is ``"nb"`` (``uns["omicsgen"]["encoding"] == "counts"``), else the input
        values (``"log1p"``). ``obs``: the label column (categorical) and ``split``.

    Raises
    ------
    InputError
        Duplicate cell names, missing layer or label column, labels missing for some cells,
        NaN or infinite values, negative (scaled) values, non-integer values where counts are
        required, values that contradict ``values``, no cell left.
    """
    if likelihood not in LIKELIHOODS:
        raise InputError(f"{source}: likelihood {likelihood!r} is not one of {LIKELIHOODS}")
    if layer is None:
        matrix = adata.X
    elif layer == "raw":
        if adata.raw is None:
            raise InputError(
                f"{source}: layer 'raw' asked for but the file has no .raw; "
                f"set layer to one of {list(adata.layers)} or null for X"
            )
        matrix = adata.raw.X
        adata = ad.AnnData(X=matrix, obs=adata.obs, var=adata.raw.var)
    elif layer in adata.layers:
        matrix = adata.layers[layer]
    else:
        raise InputError(
            f"{source}: layer {layer!r} not found (layers: {sorted(adata.layers)}); "
            "set the dataset's 'layer' to one of them, 'raw', or null for X"
        )
    if matrix is None or adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(f"{source}: the matrix is empty ({adata.n_obs} cells x {adata.n_vars} genes)")
    duplicated = adata.obs_names[adata.obs_names.duplicated()]
    if len(duplicated):
        raise InputError(
            f"{source}: {len(duplicated)} duplicate cell names in obs (first: {duplicated[0]!r}), so cells cannot be "
            "told apart in the outputs; make them unique (adata.obs_names_make_unique(), or "
            "anndata.concat(..., index_unique='-') when joining samples)"
        )
    matrix = matrix.astype(np.float32) if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float32)
    if sp.issparse(matrix):
        matrix = sp.csr_matrix(matrix)

    bad = _first_bad(adata, lambda v: ~np.isfinite(v), matrix)
    if bad:
        raise InputError(
            f"{source}: NaN or infinite value at cell {bad[0]!r}, gene {bad[1]!r}; "
            "remove or impute such values before running omicsgen"
        )
    values = detect_values(adata, matrix, source, values)
    is_counts = values == "counts"
    if values == "normalized":  # to the log1p scale the Gaussian and every metric work on
        matrix = matrix.log1p() if sp.issparse(matrix) else np.log1p(matrix)
    if likelihood == "auto":  # the likelihood that models these values
        likelihood = "nb" if is_counts else "gaussian"
    encoding = ENCODING_OF_LIKELIHOOD[likelihood]
    if encoding == "counts" and not is_counts:
        frac = _first_bad(adata, lambda v: v != np.round(v), matrix)
        where = f"non-integer value at cell {frac[0]!r}, gene {frac[1]!r}" if frac else f"values stated as {values}"
        raise InputError(
            f"{source}: {where} but likelihood {likelihood!r} needs raw counts ({values} values); "
            "point 'layer' at the counts or set likelihood: gaussian"
        )

    labels = None
    if label_key is not None:
        if label_key not in adata.obs.columns:
            raise InputError(
                f"{source}: label column {label_key!r} not in obs (columns: {list(adata.obs.columns)}); "
                "set the dataset's 'label' to one of them, or null for unlabelled data"
            )
        labels = adata.obs[label_key]
        if labels.isna().any():
            cell = labels.index[labels.isna()][0]
            raise InputError(
                f"{source}: label column {label_key!r} is missing for {int(labels.isna().sum())} cells "
                f"(first: {cell!r}); fill or remove those cells"
            )

    out = ad.AnnData(X=matrix, obs=pd.DataFrame(index=adata.obs_names.astype(str)), var=adata.var.copy())
    out.var_names = adata.var_names.astype(str)
    if not out.var_names.is_unique:
        log.warning(
            "%s: %d duplicate gene names (first: %r) made unique with suffixes -1, -2, ...",
            source,
            int(out.var_names.duplicated().sum()),
            out.var_names[out.var_names.duplicated()][0],
        )
        out.var_names_make_unique()
    if labels is not None:
        out.obs[label_key] = pd.Categorical(labels.astype(str).values)

    n_genes_in = out.n_vars
    if n_top_genes < out.n_vars:
        import scanpy as sc  # imported here: every stage reads this module, only preprocessing needs scanpy

        # scored on log1p-normalised values, sparse when the input is (no dense cells x genes copy)
        matrix = out.X.astype(np.float32) if sp.issparse(out.X) else sp.csr_matrix(out.X, dtype=np.float32)
        scored = ad.AnnData(X=matrix, obs=out.obs[[]], var=out.var[[]])
        if encoding == "counts":
            sc.pp.normalize_total(scored, target_sum=TARGET_SUM)
            sc.pp.log1p(scored)
        sc.pp.highly_variable_genes(scored, n_top_genes=n_top_genes, flavor="seurat")
        out = out[:, scored.var["highly_variable"].values].copy()

    n_dropped = 0
    if encoding == "counts":
        library = np.asarray(out.X.sum(axis=1)).ravel()
        keep = library > 0
        n_dropped = int((~keep).sum())
        if n_dropped:
            log.warning("%s: dropping %d cells with zero counts over the %d genes kept", source, n_dropped, out.n_vars)
            out = out[keep].copy()
    if out.n_obs == 0:
        raise InputError(f"{source}: no cell left after keeping {out.n_vars} highly variable genes")

    group = out.obs[label_key].values if label_key else np.zeros(out.n_obs)
    set_model_ready(
        out,
        stratified_split(group, val_fraction, test_fraction, seed),
        modality="scrna",
        encoding=encoding,
        likelihood=likelihood,
        label_key=label_key,
        input_values=values if values != "normalized" else "normalized (log1p applied)",
        n_genes_input=int(n_genes_in),
        n_cells_dropped_zero_counts=n_dropped,
        hvg_flavor="seurat" if n_top_genes < n_genes_in else "all genes kept",
    )
    return out
