"""Which samples each metric compares, the controls, and the bootstrap behind every interval.

Haplotype data: the halves keep a sample's two haplotypes together, but the matched draws and
the resamples are of rows (haplotypes), as the metrics compare haplotypes (Yelmen et al.
2021); the two haplotypes of one genome are treated as independent draws, which makes the
intervals of haplotype data slightly narrow where the two are correlated (related or inbred
samples).

The held-out test split is cut into two disjoint halves, label by label and sample by sample
(:func:`reference_halves`): the **reference** half is what every generator, baseline and
control is compared with; the other half is the ``real`` control's "synthetic" data, so each
metric's ceiling (real vs real at the same sizes) is in the table. The ``copy`` control
returns training samples as synthetic ones and shows what a leak looks like.
:func:`matched` draws equal-sized, label-matched sets from several pools at once, and
:func:`bootstrap_intervals` resamples them (within labels, seeded) to give every metric a 95%
interval (Efron & Tibshirani 1993).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from omicsgen.registry import CONTROLS

__all__ = [
    "CONTROLS",
    "ResampledNearest",
    "bootstrap_intervals",
    "centred_interval",
    "matched",
    "reference_halves",
    "resamples",
]
LEVEL = 0.95


def reference_halves(
    split: np.ndarray, labels: np.ndarray, units: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the test split into the reference half and the held-out half of the ``real`` control.

    Within each label the test split's units (samples: a diploid sample's two haplotype rows
    stay together) are shuffled with ``numpy.random.default_rng(seed)``; the first
    ``ceil(n / 2)`` form the reference, the rest the held-out half.

    Parameters
    ----------
    split
        str ``(n_obs,)`` ``"train"``, ``"val"``, ``"test"``.
    labels
        ``(n_obs,)`` labels (one value for all when unlabelled).
    units
        ``(n_obs,)`` sample of each row (rows of one sample go to the same half).
    seed
        Seed of the shuffle.

    Returns
    -------
    reference, holdout : numpy.ndarray
        int64 sorted row indices, disjoint, together the test split.
    """
    rng = np.random.default_rng(seed)
    test = np.flatnonzero(np.asarray(split) == "test")
    reference, holdout = [], []
    for label in sorted(set(labels[test].tolist()), key=str):
        rows = test[labels[test] == label]
        names = np.array(list(dict.fromkeys(units[rows].tolist())), dtype=object)
        rng.shuffle(names)
        first = set(names[: (len(names) + 1) // 2].tolist())
        in_first = np.array([u in first for u in units[rows].tolist()], dtype=bool)
        reference.append(rows[in_first])
        holdout.append(rows[~in_first])
    return np.sort(np.concatenate(reference)).astype(np.int64), np.sort(np.concatenate(holdout)).astype(np.int64)


def matched(pools: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Equal-sized sets with one label composition, drawn from several pools at once.

    For every label present in all pools, ``min`` over the pools of its count is drawn without
    replacement from each pool, so no comparison can be won on label proportions or set sizes.
    Labels missing from a pool are left out of every set. Each pool draws from its own stream
    (``numpy.random.default_rng([seed, k])`` for the k-th pool), so a pool's draw depends only
    on its labels and the counts: the reference set is the same for every model whose
    synthetic cells leave the counts as they are.

    Parameters
    ----------
    pools
        Name -> ``(n_pool,)`` labels of that pool's rows.
    seed
        Seed of the draws.

    Returns
    -------
    dict
        Name -> int64 indices into that pool, label by label (sorted labels), the same length
        for every pool.
    """
    streams = {name: np.random.default_rng([seed, k]) for k, name in enumerate(pools)}
    common = set.intersection(*(set(labels.tolist()) for labels in pools.values()))
    out: dict[str, list[np.ndarray]] = {name: [] for name in pools}
    for label in sorted(common, key=str):
        rows = {name: np.flatnonzero(labels == label) for name, labels in pools.items()}
        n = min(len(r) for r in rows.values())
        for name, r in rows.items():
            out[name].append(streams[name].choice(r, n, replace=False))
    return {
        name: np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64) for name, parts in out.items()
    }


def resamples(labels: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of row positions, within each label (stratified bootstrap).

    Returns
    -------
    numpy.ndarray
        int64 ``(reps, n)``: each row is a resample with replacement of ``0..n-1`` that keeps
        every label's count.
    """
    labels = np.asarray(labels)
    out = np.empty((reps, len(labels)), dtype=np.int64)
    for label in sorted(set(labels.tolist()), key=str):
        rows = np.flatnonzero(labels == label)
        out[:, rows] = rows[rng.integers(0, len(rows), size=(reps, len(rows)))]
    return out


def centred_interval(value: float, replicates: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The ``level`` percentile interval of bootstrap ``replicates``, re-centred on the estimate ``value``.

    Resampling with replacement repeats cells, which moves statistics that depend on the
    number of distinct cells (correlations of per-gene means, MMD, nearest-neighbour
    distances) away from the estimate on the full set; the percentile interval would then
    miss the estimate. The interval is shifted by ``median(replicates) - value`` so that it
    keeps the bootstrap's spread and skew around the estimate (the percentile interval when
    there is no shift; Efron & Tibshirani 1993, ch. 10 and 13). NaN when fewer than half of
    the replicates are finite.
    """
    values = np.asarray(replicates, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if not np.isfinite(value) or len(finite) < max(2, len(values) / 2):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, median, high = np.percentile(finite, [tail, 50, 100 - tail])
    shift = median - value
    return float(low - shift), float(high - shift)


def bootstrap_intervals(
    statistic: Callable[..., dict[str, float]],
    labels: Sequence[np.ndarray],
    reps: int,
    seed: int,
    value: dict[str, float] | None = None,
    record: dict[str, np.ndarray] | None = None,
) -> dict[str, tuple[float, float, float]]:
    """Metrics and their 95% intervals from stratified bootstrap resamples of the sets they compare.

    Parameters
    ----------
    statistic
        Called with one int array of row positions per set (a resample of each set's rows, with
        repeats); returns ``{metric: value}`` on those rows. Called once per replicate.
    labels
        Per set, ``(n_set,)`` labels to stratify its resamples by (each label keeps its count).
    reps
        Bootstrap replicates (0: no interval, NaN).
    seed
        Seed of the resamples: the same seed and sets give the same resamples, so the metrics of
        different models on one reference set are resampled alike.
    value
        The metrics on the full sets, where they are not ``statistic`` on every row (default:
        ``statistic`` on every row once).
    record
        When given, filled with ``{metric: float64 (reps,) replicate values}`` (nothing when
        ``reps`` is 0): two models evaluated on the same sets with the same seed have the same
        resamples of those sets, so their replicates pair (:mod:`omicsgen.evaluate.paired`).

    Returns
    -------
    dict
        ``{metric: (value, low, high)}``; the interval is :func:`centred_interval`.
    """
    if value is None:
        value = statistic(*(np.arange(len(set_labels)) for set_labels in labels))
    if reps <= 0:
        return {name: (float(v), float("nan"), float("nan")) for name, v in value.items()}
    rng = np.random.default_rng(seed)
    draws = [resamples(np.asarray(set_labels), reps, rng) for set_labels in labels]
    replicates = [statistic(*(d[r] for d in draws)) for r in range(reps)]
    if record is not None:
        record.update({name: np.array([rep[name] for rep in replicates], dtype=np.float64) for name in value})
    return {
        name: (float(v), *centred_interval(float(v), [rep[name] for rep in replicates])) for name, v in value.items()
    }


class ResampledNearest:
    """Distance from query rows to their nearest reference row, on bootstrap resamples of the reference.

    Nearest-neighbour metrics (AATS, membership inference) depend on which reference rows a
    resample holds: a query's nearest neighbour may be left out. The ``k`` nearest reference
    rows of every query are found once (scikit-learn ``NearestNeighbors``); on a resample, a
    query's nearest row is the first of them the resample holds. With ``k = 10`` a resample
    misses all ten with probability about ``0.368^10 = 4.6e-5``; the distance is then taken as
    the ``k``-th neighbour's (a lower bound of the true one).

    Parameters
    ----------
    reference, query
        ``(n_reference, n_features)``, ``(n_query, n_features)``.
    metric
        scikit-learn distance.
    same
        The query rows are the reference rows (``query is reference``): a row's own
        distance (and a resample's copies of it) are left out.
    k
        Neighbours kept per query (capped by the reference size).
    """

    def __init__(self, reference: np.ndarray, query: np.ndarray, metric: str, same: bool = False, k: int = 10):
        from sklearn.neighbors import NearestNeighbors

        n_neighbors = min(k + int(same), len(reference))
        distances, index = NearestNeighbors(n_neighbors=n_neighbors, metric=metric).fit(reference).kneighbors(query)
        if same:  # drop each row's own entry (first, or tied with an identical row)
            own = index == np.arange(len(query))[:, None]
            keep = ~own
            keep[own.sum(axis=1) == 0, -1] = False
            distances = distances[keep].reshape(len(query), -1)
            index = index[keep].reshape(len(query), -1)
        self.distances, self.index, self.n_reference = distances, index, len(reference)

    def nearest(self, reference_rows: np.ndarray | None = None) -> np.ndarray:
        """float64 ``(n_query,)`` distance of every query row to its nearest row among ``reference_rows``
        (positions, with repeats; default: every reference row)."""
        if reference_rows is None:
            return self.distances[:, 0]
        held = np.bincount(reference_rows, minlength=self.n_reference)[self.index] > 0
        first = np.where(held.any(axis=1), held.argmax(axis=1), held.shape[1] - 1)
        return self.distances[np.arange(len(self.distances)), first]
