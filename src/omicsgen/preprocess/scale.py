"""The scale every metric, plot and baseline works on, by the data's encoding."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from omicsgen.contract import GENOTYPE_ENCODINGS
from omicsgen.preprocess.scrna import log1p_normalized


def metric_scale(X, encoding: str) -> np.ndarray:
    """Values on the scale the metrics compare: log1p-normalised expression or allele counts.

    Parameters
    ----------
    X
        Array or sparse matrix ``(n_obs, n_vars)``.
    encoding
        ``"counts"`` or ``"log1p"`` (single-cell; see
        :func:`~omicsgen.preprocess.scrna.log1p_normalized`); ``"dosage"`` (alt-allele count
        0/1/2) or ``"haplotype"`` (allele 0/1), returned as they are.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_obs, n_vars)``.

    Raises
    ------
    ValueError
        Unknown encoding.
    """
    if encoding in GENOTYPE_ENCODINGS:
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
        return X.astype(np.float32)
    return log1p_normalized(X, encoding)
