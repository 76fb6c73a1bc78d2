"""The metric registry: every metric's name, what is best, its baseline, the models it applies to, its source.

The evaluation's ranking (:func:`shortfall`, :func:`better`, :func:`direction`), the report's
verdicts and metric list, and the README's metric table are read from or checked against
:data:`METRICS` (``tests/test_extension.py``). Descriptions may name evaluation settings in
braces (``{knn_k}``, ``{rare_fraction}``), filled in from the config by :func:`describe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HIGHER, LOWER = math.inf, -math.inf


@dataclass(frozen=True)
class Metric:
    """One metric of ``metrics.tsv``.

    Attributes
    ----------
    best
        What is best: :data:`HIGHER`, :data:`LOWER`, a target value (closer is better), or None
        for a descriptive metric that is reported but not ranked.
    baseline
        The baseline a model is judged against on this metric (``"pca"``, ``"marginals"``), or None.
    applies_to
        ``"encoders"`` (latent quality: models with an encoder) or ``"generators"`` (synthetic data).
    description
        What it measures, in the report's words (settings in braces).
    source
        Paper or tool the definition follows.
    baseline_keeps
        True where the baseline reproduces what the metric measures by construction (the
        ``marginals`` sampler keeps every feature's label-wise distribution: per-gene means,
        variances and zeros, allele frequencies), so that it ties the ``real`` control at any size.
    """

    best: float | None
    baseline: str | None
    applies_to: str
    description: str
    source: str
    baseline_keeps: bool = False


METRICS: dict[str, Metric] = {
    "reconstruction_error": Metric(
        LOWER, "pca", "encoders", "MSE of held-out cells on the log1p-normalised scale", "scVI, GenoCAE"
    ),
    "knn_accuracy": Metric(
        HIGHER,
        "pca",
        "encoders",
        "k-NN (k={knn_k}) label accuracy of test cells among training cells in the latent",
        "GenoCAE, scIB",
    ),
    "silhouette": Metric(
        HIGHER, "pca", "encoders", "mean silhouette width of labels in the latent, raw [-1, 1]", "Rousseeuw 1987, scIB"
    ),
    "mean_correlation": Metric(
        HIGHER,
        "marginals",
        "generators",
        "Pearson r of per-gene means, synthetic vs held-out real",
        "Splatter (Zappia et al. 2017)",
        baseline_keeps=True,
    ),
    "variance_correlation": Metric(
        HIGHER,
        "marginals",
        "generators",
        "Pearson r of per-gene variances, synthetic vs held-out real",
        "Splatter",
        baseline_keeps=True,
    ),
    "gene_correlation": Metric(
        HIGHER,
        "marginals",
        "generators",
        "Pearson r of within-label gene-gene correlations over the 100 most variable genes of the training cells, "
        "synthetic vs held-out real (about 0: genes drawn independently within labels)",
        "scDesign2 (Sun et al. 2021), scDesign3",
    ),
    "zero_fraction_correlation": Metric(
        HIGHER,
        "marginals",
        "generators",
        "Pearson r of per-gene fractions of zeros, synthetic vs held-out real (a gene whose dispersion, or "
        "zero inflation, the model gets wrong leaves the diagonal)",
        "Splatter (Zappia et al. 2017)",
        baseline_keeps=True,
    ),
    "mmd": Metric(
        0.0,
        "marginals",
        "generators",
        "unbiased squared MMD, Gaussian kernel of median-heuristic bandwidth, on 50 PCs of the training cells "
        "(0: same distribution; the estimate scatters around 0)",
        "Gretton et al. 2012",
    ),
    "detection_auroc": Metric(
        0.5,
        "marginals",
        "generators",
        "random-forest real-vs-synthetic AUROC, 5-fold CV, label-matched (0.5 = indistinguishable)",
        "scGAN, GRouNdGAN",
    ),
    "aats": Metric(
        0.5,
        "marginals",
        "generators",
        "nearest-neighbour adversarial accuracy, held-out real vs synthetic, Euclidean (cityblock on genotypes)",
        "Yale et al. 2020, Yelmen et al. 2021",
    ),
    "aa_truth": Metric(
        0.5,
        "marginals",
        "generators",
        "AATS component from the real side: real samples whose nearest real neighbour is closer than their "
        "nearest synthetic one (0.5 ideal; 1: synthetic data miss regions of the real ones)",
        "Yale et al. 2020, Yelmen et al. 2021",
    ),
    "aa_syn": Metric(
        0.5,
        "marginals",
        "generators",
        "AATS component from the synthetic side: synthetic samples whose nearest synthetic neighbour is closer "
        "than their nearest real one (0.5 ideal; 0: synthetic samples sit on real ones)",
        "Yale et al. 2020, Yelmen et al. 2021",
    ),
    "membership_inference_auroc": Metric(
        0.5,
        "marginals",
        "generators",
        "AUROC of telling training from held-out real samples by their distance to the closest synthetic "
        "sample (0.5: no leak of who was trained on; 1: copies)",
        "GAN-Leaks (Chen et al. 2020), synthcity",
    ),
    "privacy_loss": Metric(
        0.0,
        "marginals",
        "generators",
        "AATS against held-out real minus AATS against training real (about 0: no leak of the training set)",
        "Yelmen et al. 2021",
    ),
    "dcr": Metric(
        None,
        None,
        "generators",
        "median distance of synthetic cells to their closest training cell; compare with dcr_holdout",
        "synthcity",
    ),
    "dcr_holdout": Metric(
        None,
        None,
        "generators",
        "median distance of held-out real cells to their closest training cell (the DCR baseline)",
        "synthcity",
    ),
    "n_identical_to_train": Metric(
        LOWER, "marginals", "generators", "synthetic cells identical to a training cell", "synthcity"
    ),
    "trtr_accuracy": Metric(
        None,
        None,
        "generators",
        "accuracy on held-out real cells of a logistic regression trained on real training cells, as many of each "
        "label as TSTR's synthetic set (reference for TSTR)",
        "Esteban et al. 2017",
    ),
    "tstr_accuracy": Metric(
        HIGHER,
        "marginals",
        "generators",
        "the same classifier trained on synthetic cells only",
        "TSTR; Esteban et al. 2017",
    ),
    "real_macro_f1": Metric(
        None, None, "generators", "macro-F1 on held-out real cells, trained on real training cells", "ACTIVA, GARAGE"
    ),
    "augmented_macro_f1": Metric(
        HIGHER,
        "marginals",
        "generators",
        "macro-F1, trained on real cells + the synthetic cells of the rare labels",
        "ACTIVA, GARAGE protocol",
    ),
    "augmentation_recall_gain": Metric(
        HIGHER,
        "marginals",
        "generators",
        "mean recall gain from augmentation over labels with < {rare_fraction:.0%} of training cells and >= "
        "{min_label_test} test cells",
        "ACTIVA, GARAGE protocol",
    ),
    "af_correlation": Metric(
        HIGHER,
        "marginals",
        "generators",
        "Pearson r of alt-allele frequencies, synthetic vs held-out real genotypes",
        "Yelmen et al. 2021",
        baseline_keeps=True,
    ),
    "ld_correlation": Metric(
        HIGHER,
        "marginals",
        "generators",
        "Pearson r of LD r2 over the site pairs of plink's --ld-window {ld_window_sites} --ld-window-kb "
        "{ld_window_kb:g}, synthetic vs held-out real",
        "Yelmen et al. 2021",
    ),
    "pca_wasserstein": Metric(
        LOWER,
        "marginals",
        "generators",
        "Wasserstein distance on PC1 and PC2 (mean of the two) of a PCA fitted on real + synthetic genotypes",
        "Yelmen et al. 2021",
    ),
    "pairwise_distance_wasserstein": Metric(
        LOWER,
        "marginals",
        "generators",
        "Wasserstein distance between within-real and within-synthetic pairwise cityblock distances",
        "Yelmen et al. 2021",
    ),
}
BASELINES = frozenset(m.baseline for m in METRICS.values() if m.baseline)

# The values a bounded metric can take; its re-centred bootstrap interval is clipped to them
# (omicsgen.evaluate.sampling.centred_interval can overshoot a bound a value sits on).
UNIT = (0.0, 1.0)
CORRELATION = (-1.0, 1.0)
RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(
        ["knn_accuracy", "detection_auroc", "aats", "aa_truth", "aa_syn", "membership_inference_auroc"], UNIT
    ),
    **dict.fromkeys(["trtr_accuracy", "tstr_accuracy", "real_macro_f1", "augmented_macro_f1"], UNIT),
    **dict.fromkeys(["mean_correlation", "variance_correlation", "gene_correlation"], CORRELATION),
    "zero_fraction_correlation": CORRELATION,
    **dict.fromkeys(["af_correlation", "ld_correlation", "silhouette", "augmentation_recall_gain"], CORRELATION),
    "privacy_loss": CORRELATION,
}


def clipped(metric: str, low: float, high: float) -> tuple[float, float]:
    """An interval of ``metric`` clipped to the values it can take (:data:`RANGES`; others unchanged)."""
    if metric not in RANGES:
        return low, high
    lo, hi = RANGES[metric]
    return min(max(low, lo), hi), min(max(high, lo), hi)


# The report's scorecard groups, in its column order.
GROUPS: dict[str, tuple[str, ...]] = {
    "latent": ("reconstruction_error", "knn_accuracy", "silhouette"),
    "fidelity": (
        "mean_correlation",
        "variance_correlation",
        "gene_correlation",
        "zero_fraction_correlation",
        "af_correlation",
        "ld_correlation",
        "pca_wasserstein",
        "pairwise_distance_wasserstein",
        "mmd",
        "detection_auroc",
    ),
    "privacy": (
        "aats",
        "aa_truth",
        "aa_syn",
        "privacy_loss",
        "membership_inference_auroc",
        "dcr",
        "dcr_holdout",
        "n_identical_to_train",
    ),
    "utility": (
        "trtr_accuracy",
        "tstr_accuracy",
        "real_macro_f1",
        "augmented_macro_f1",
        "augmentation_recall_gain",
    ),
}


def group_of(metric: str) -> str:
    """The scorecard group of ``metric`` (:data:`GROUPS`)."""
    return next(group for group, names in GROUPS.items() if metric in names)


def ranked(metric: str) -> bool:
    """True when ``metric`` has a best value (models are ranked and judged on it)."""
    return metric in METRICS and METRICS[metric].best is not None


def shortfall(metric: str, value: float) -> float:
    """How far ``value`` is from the best of ``metric``, on a scale where lower is better.

    Raises
    ------
    KeyError
        ``metric`` is not ranked (:func:`ranked`).
    """
    if not ranked(metric):
        raise KeyError(f"metric {metric!r} is not ranked")
    target = METRICS[metric].best
    if math.isinf(target):
        return -value if target > 0 else value
    return abs(value - target)


def better(metric: str, a: float, b: float) -> bool:
    """True when value ``a`` of ``metric`` is strictly better than ``b``."""
    return bool(shortfall(metric, a) < shortfall(metric, b))


def shortfall_interval(metric: str, low: float, high: float) -> tuple[float, float]:
    """The interval ``[low, high]`` of ``metric`` on the shortfall scale (:func:`shortfall`, lower is better).

    For a target (``0.5``), an interval that holds the target starts at 0 and ends at its
    farther end's distance.
    """
    target = METRICS[metric].best
    if math.isinf(target):
        ends = sorted((shortfall(metric, low), shortfall(metric, high)))
        return ends[0], ends[1]
    near = 0.0 if low <= target <= high else min(abs(low - target), abs(high - target))
    return near, max(abs(low - target), abs(high - target))


def compare(metric: str, a: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    """Verdict of ``a`` against ``b``, each ``(value, low, high)``, from their 95% intervals.

    ``"better"`` or ``"worse"`` when the intervals, on the shortfall scale
    (:func:`shortfall_interval`), do not overlap; ``"indistinguishable"`` when they do; without
    intervals (NaN ends) the point values decide only when they are equal
    (``"indistinguishable"``), else ``"untested"``.

    Raises
    ------
    KeyError
        ``metric`` is not ranked.
    """
    if any(math.isnan(x) for x in (*a[1:], *b[1:])):
        return "indistinguishable" if a[0] == b[0] else "untested"
    a_low, a_high = shortfall_interval(metric, a[1], a[2])
    b_low, b_high = shortfall_interval(metric, b[1], b[2])
    if a_high < b_low:
        return "better"
    if b_high < a_low:
        return "worse"
    return "indistinguishable"


def direction(metric: str) -> str:
    """Plain words for what is better: ``"higher"``, ``"lower"`` or ``"closer to 0.5"``."""
    target = METRICS[metric].best
    if math.isinf(target):
        return "higher" if target > 0 else "lower"
    return f"closer to {target:g}"


def describe(metric: str, settings: dict) -> str:
    """``"<description>; <source> (<direction> is better)"`` with the evaluation ``settings``
    (config ``evaluate``: ``knn_k``, ``rare_fraction``, ``min_label_test``, ``ld_window_sites``,
    ``ld_window_kb``) filled in."""
    entry = METRICS[metric]
    text = f"{entry.description.format(**settings)}; {entry.source}"
    return f"{text} ({direction(metric)} is better)" if ranked(metric) else text
