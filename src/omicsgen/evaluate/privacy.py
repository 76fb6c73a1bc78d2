"""Privacy of synthetic data: nearest-neighbour adversarial accuracy and distance to closest record.

All inputs are ``(n, n_features)`` float arrays on one scale (log1p-normalised expression for
single-cell data).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


def _nearest(reference: np.ndarray, query: np.ndarray, metric: str, exclude_self: bool) -> np.ndarray:
    """Distance from each query row to its nearest reference row (skipping itself when the sets are one)."""
    k = 2 if exclude_self else 1
    distances, _ = NearestNeighbors(n_neighbors=k, metric=metric).fit(reference).kneighbors(query)
    return distances[:, k - 1]


def aats(real: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean") -> float:
    """Nearest-neighbour adversarial accuracy AA_TS (Yale et al. 2020; Yelmen et al. 2021).

    ``AA_TS = 0.5 * (mean[d_TS > d_TT] + mean[d_ST > d_SS])``: ``d_TS(i)`` is the distance of
    real sample ``i`` to its nearest synthetic sample, ``d_TT(i)`` to its nearest other real
    sample, and likewise from the synthetic side. 0.5: synthetic and real samples are each
    other's neighbours as often as their own (ideal); near 1: the synthetic data are
    distinguishable (underfitting); near 0: synthetic samples sit on real ones (overfitting,
    copying).

    Parameters
    ----------
    real, synthetic
        ``(n, n_features)`` each, the same ``n`` (at least 2).
    metric
        scikit-learn distance (Yelmen et al. use ``"cityblock"`` on genotypes).

    Raises
    ------
    ValueError
        The two sets differ in size or have fewer than two samples.
    """
    if len(real) != len(synthetic) or len(real) < 2:
        raise ValueError(f"aats needs two sets of equal size >= 2; got {len(real)} and {len(synthetic)}")
    d_ts = _nearest(synthetic, real, metric, exclude_self=False)
    d_tt = _nearest(real, real, metric, exclude_self=True)
    d_st = _nearest(real, synthetic, metric, exclude_self=False)
    d_ss = _nearest(synthetic, synthetic, metric, exclude_self=True)
    return float(0.5 * (np.mean(d_ts > d_tt) + np.mean(d_st > d_ss)))


def privacy_loss(train: np.ndarray, test: np.ndarray, synthetic: np.ndarray, metric: str = "euclidean") -> float:
    """``AA_TS(held-out real) - AA_TS(training real)`` (Yale et al. 2020; Yelmen et al. 2021).

    Positive: the synthetic data are closer to the training samples than to unseen ones of the
    same population, i.e. the model leaks its training set; about 0: no such leak.

    Parameters
    ----------
    train, test, synthetic
        ``(n, n_features)`` training, held-out real and synthetic samples, the same ``n``.
    metric
        Distance, as :func:`aats`.

    Raises
    ------
    ValueError
        The sets differ in size (see :func:`aats`).
    """
    return aats(test, synthetic, metric) - aats(train, synthetic, metric)


def distance_to_closest_record(train: np.ndarray, query: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance of each query sample to its closest training sample (DCR; synthcity, Park et al. 2018).

    Computed for synthetic samples and, as the baseline, for held-out real samples: synthetic
    DCRs well below the held-out ones mean the generator reproduces training records.

    Returns
    -------
    numpy.ndarray
        ``(n_query,)`` float distances; 0 for a sample identical to a training sample.
    """
    return _nearest(train, query, metric, exclude_self=False)


def n_identical(train: np.ndarray, synthetic: np.ndarray) -> int:
    """Number of synthetic samples equal, feature for feature, to some training sample.

    Exact comparison of rows (hashing their bytes), free of the rounding error of distance
    computations.
    """
    seen = {row.tobytes() for row in np.ascontiguousarray(train, dtype=np.float32)}
    return sum(row.tobytes() in seen for row in np.ascontiguousarray(synthetic, dtype=np.float32))
