"""Paired comparisons: the difference between two models' metrics on shared bootstrap resamples.

Every model, baseline and control of a dataset is compared with the same reference cells, and
:func:`~omicsgen.evaluate.sampling.bootstrap_intervals` draws the same resamples of them for
every model (one seed, one set of reference labels). A metric's replicates of two models are
then paired: the spread that comes from which reference cells a resample holds is common to
both and cancels in their difference. Two 95% intervals that overlap can therefore still hold
a difference whose own interval excludes 0; judging by overlap is conservative (Schenker &
Gentleman 2001, The American Statistician 55:182) and the paired bootstrap of the difference
is the test (Efron & Tibshirani 1993, ch. 16; Koehn 2004, EMNLP, for paired bootstrap
comparisons of two systems on one test set).

Replicates pair only when both were drawn on the same reference cells with the same seed and
number of replicates: each metric carries a ``pairing`` key (:func:`pairing_key`) and
differences are computed only between equal keys. Two evaluations have other reference sets
when their synthetic label counts differ (a generator that drew fewer samples of a label, or
none, caps the matched sets); they are then compared by overlap. Every statistic draws its
resamples of the reference cells first (the sets after them, such as the synthetic pool of
``dcr`` and ``n_identical_to_train``, may differ in size between models), and a statistic's own
random draws must not depend on the model: this is what keeps the resamples equal.
Metrics computed on the synthetic pool alone (``dcr``, ``n_identical_to_train``) gain nothing
from pairing; their paired interval is that of two independent bootstraps.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from omicsgen.evaluate.metrics import HIGHER, METRICS, ranked
from omicsgen.evaluate.sampling import centred_interval

KEYS = ["dataset", "model", "metric", "pairing"]
COMPARISON_COLUMNS = ["dataset", "model", "other", "metric", "difference", "low", "high", "verdict"]


def pairing_key(cells: Iterable[str], seed: int, reps: int) -> str:
    """A digest of the cells a metric's resamples are drawn from, the seed and the replicate count.

    Parameters
    ----------
    cells
        Names (``obs_names``) of the reference cells, in the order the resamples index them.
    seed, reps
        Seed and number of the bootstrap replicates.

    Returns
    -------
    str
        16 hexadecimal characters; equal keys mean equal resamples of the reference cells.
    """
    digest = hashlib.sha1(f"{seed}\t{reps}".encode())
    for name in cells:
        digest.update(b"\t" + str(name).encode())
    return digest.hexdigest()[:16]


def replicate_table(dataset: str, model: str, replicates: dict[str, tuple[str, np.ndarray]]) -> pd.DataFrame:
    """One row per metric: ``dataset, model, metric, pairing`` and the replicates ``rep_0 .. rep_<n-1>``.

    Parameters
    ----------
    replicates
        Metric -> ``(pairing key, float64 (n_bootstrap,) replicate values)``, as filled by
        :func:`omicsgen.evaluate.evaluate_model` (one ``n_bootstrap`` for all).
    """
    rows = [[dataset, model, metric, key, *values] for metric, (key, values) in replicates.items()]
    n = len(rows[0]) - len(KEYS) if rows else 0
    return pd.DataFrame(rows, columns=[*KEYS, *(f"rep_{r}" for r in range(n))])


def paired_verdict(
    metric: str, a: float, b: float, a_replicates: np.ndarray, b_replicates: np.ndarray
) -> tuple[float, float, float, str]:
    """Verdict of value ``a`` against ``b`` of ``metric`` from their paired bootstrap replicates.

    The difference is ``a - b``, or, for a metric with a target value (AA_truth, detection
    AUROC: 0.5), ``|a - target| - |b - target|``, the difference of their distances to it; its
    95% interval is :func:`~omicsgen.evaluate.sampling.centred_interval` of the replicate-wise
    differences. ``"better"`` when the interval lies on ``a``'s good side of 0 (above 0 where
    higher is better, below 0 where lower or closer is better), ``"worse"`` on the other side,
    else ``"indistinguishable"``; ``"untested"`` without enough finite replicates.

    Parameters
    ----------
    metric
        A ranked metric of :data:`~omicsgen.evaluate.metrics.METRICS`.
    a, b
        The two values on the full sets.
    a_replicates, b_replicates
        float ``(n_bootstrap,)`` each, replicate ``r`` of both on the same resample.

    Returns
    -------
    difference, low, high, verdict
        The difference and its 95% interval (NaN without replicates), and the verdict.

    Raises
    ------
    KeyError
        ``metric`` is not ranked.
    ValueError
        The replicate arrays differ in length.
    """
    if not ranked(metric):
        raise KeyError(f"metric {metric!r} is not ranked")
    a_replicates, b_replicates = np.asarray(a_replicates, float), np.asarray(b_replicates, float)
    if a_replicates.shape != b_replicates.shape:
        raise ValueError(f"{metric}: {len(a_replicates)} and {len(b_replicates)} replicates do not pair")
    best = METRICS[metric].best

    def scale(x):
        return x if math.isinf(best) else np.abs(x - best)

    difference = float(scale(a) - scale(b))
    low, high = centred_interval(difference, scale(a_replicates) - scale(b_replicates))
    if np.isnan(low):
        verdict = "indistinguishable" if a == b else "untested"
    elif best == HIGHER:
        verdict = "better" if low > 0 else "worse" if high < 0 else "indistinguishable"
    else:
        verdict = "better" if high < 0 else "worse" if low > 0 else "indistinguishable"
    return difference, low, high, verdict


def paired_comparisons(metrics: pd.DataFrame, replicates: pd.DataFrame) -> pd.DataFrame:
    """Every ordered pair of a dataset's models, baselines and controls whose replicates pair, per ranked metric.

    Parameters
    ----------
    metrics
        Tidy metrics, columns ``dataset, model, metric, value`` (``low``, ``high`` ignored).
    replicates
        Rows of :func:`replicate_table`.

    Returns
    -------
    pandas.DataFrame
        :data:`COMPARISON_COLUMNS`: ``model`` against ``other`` on ``metric``: the difference
        ``model - other`` (of the distances to the target, for a target metric) with its paired
        95% interval, and the verdict (:func:`paired_verdict`).
    """
    values = metrics.set_index(["dataset", "model", "metric"])["value"]
    reps = [c for c in replicates.columns if c.startswith("rep_")]
    rows = []
    for (dataset, metric, _), group in replicates.groupby(["dataset", "metric", "pairing"], sort=False):
        if not ranked(metric):
            continue
        entries = [
            (row["model"], values[(dataset, row["model"], metric)], row[reps].to_numpy(float))
            for _, row in group.iterrows()
            if pd.notna(values.get((dataset, row["model"], metric), np.nan))
        ]
        for model, a, a_reps in entries:
            for other, b, b_reps in entries:
                if other != model:
                    rows.append([dataset, model, other, metric, *paired_verdict(metric, a, b, a_reps, b_reps)])
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
