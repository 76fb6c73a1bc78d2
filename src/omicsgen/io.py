"""Reading and writing AnnData files, with the checks and atomic writes omicsgen relies on."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

from omicsgen.errors import InputError


def read_h5ad(path: str | os.PathLike) -> ad.AnnData:
    """Read an AnnData ``.h5ad`` file into memory.

    Parameters
    ----------
    path
        Path to an ``.h5ad`` file.

    Returns
    -------
    anndata.AnnData
        The object, fully loaded (not backed).

    Raises
    ------
    InputError
        If the file does not exist or is not a readable ``.h5ad`` (HDF5) file.
    """
    return _open_h5ad(path, backed=None)


def _open_h5ad(path: str | os.PathLike, backed: str | None) -> ad.AnnData:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the dataset's 'path' in the config")
    try:
        return ad.read_h5ad(path, backed=backed)
    except (OSError, KeyError, ValueError) as err:
        raise InputError(
            f"{path}: not a readable .h5ad file ({type(err).__name__}: {err}); write it with anndata.AnnData.write_h5ad"
        ) from err


def read_h5ad_backed(path: str | os.PathLike) -> ad.AnnData:
    """Open an ``.h5ad`` file backed (read-only): ``obs``, ``var``, ``uns`` in memory, ``X`` on disk.

    Close it with ``adata.file.close()``.

    Raises
    ------
    InputError
        As :func:`read_h5ad`.
    """
    return _open_h5ad(path, backed="r")


def read_h5ad_rows(path: str | os.PathLike, select) -> ad.AnnData:
    """Read only some observations of an ``.h5ad`` file: the matrix is read backed, row by row.

    Parameters
    ----------
    path
        Path to an ``.h5ad`` file.
    select
        Function of the backed AnnData (``obs`` and ``uns`` are read; ``X`` is not) returning
        the int row indices to keep, sorted.

    Returns
    -------
    anndata.AnnData
        Those rows, in memory; ``uns``, ``var`` and ``obsm`` as in the file.

    Raises
    ------
    InputError
        As :func:`read_h5ad`.
    """
    backed = read_h5ad_backed(path)
    try:
        return backed[select(backed)].to_memory()
    finally:
        backed.file.close()


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> None:
    """Write ``adata`` to ``path`` atomically (temporary file, then rename).

    A failure part-way leaves no file at ``path``.

    Parameters
    ----------
    adata
        Object to write.
    path
        Destination ``.h5ad`` path; parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        adata.write_h5ad(tmp, compression="gzip")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically; parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (gzip or BGZF: ``.vcf.gz``, ``.fa.gz``, BCF)."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def dense(matrix) -> np.ndarray:
    """Return ``matrix`` (numpy array or scipy sparse matrix) as a dense float32 array.

    Parameters
    ----------
    matrix
        Array-like of shape ``(n_obs, n_vars)``.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(n_obs, n_vars)``.
    """
    if sp.issparse(matrix):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype=np.float32)
