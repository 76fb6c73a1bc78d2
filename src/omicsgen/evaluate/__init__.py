"""Evaluation: latent quality and fidelity metrics, one tidy table per model.

Every metric's docstring names its source. Rows are ``dataset, model, metric, value``.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from omicsgen import contract
from omicsgen.contract import RECONSTRUCTION_MSE, obs_labels
from omicsgen.evaluate.fidelity import (
    detection_auroc,
    matched_by_label,
    mean_correlation,
    mmd,
    reconstruction_error,
    variance_correlation,
)
from omicsgen.evaluate.latent import knn_accuracy, silhouette
from omicsgen.evaluate.metrics import METRICS, better, direction, shortfall
from omicsgen.evaluate.popgen import (
    af_correlation,
    ld_correlation,
    ld_pairs,
    pairwise_distance_wasserstein,
    pca_wasserstein,
)
from omicsgen.evaluate.privacy import (
    aats,
    adversarial_accuracies,
    distance_to_closest_record,
    membership_inference_auroc,
    n_identical,
    privacy_loss,
)
from omicsgen.evaluate.utility import PER_LABEL_COLUMNS, rare_labels, utility_metrics
from omicsgen.preprocess import metric_scale

COLUMNS = ["dataset", "model", "metric", "value"]


def comparison_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x model, one column per metric, from the tidy table.

    Rows keep the order in which datasets and models first appear; columns the order in
    which metrics first appear. A metric that does not apply to a model is empty (NaN).
    """
    rows = list(dict.fromkeys(zip(tidy["dataset"], tidy["model"])))
    wide = tidy.pivot(index=["dataset", "model"], columns="metric", values="value")
    wide = wide.reindex(
        index=pd.MultiIndex.from_tuples(rows, names=["dataset", "model"]), columns=tidy["metric"].unique()
    )
    return wide.reset_index().rename_axis(columns=None)


def tidy_metrics(wide: pd.DataFrame) -> pd.DataFrame:
    """The comparison table back in tidy form (:data:`COLUMNS`), row by row, empty cells left out."""
    tidy = wide.melt(id_vars=["dataset", "model"], var_name="metric", value_name="value", ignore_index=False)
    tidy = tidy.rename_axis("row").sort_values("row", kind="stable")  # row by row, metrics in column order
    return tidy.dropna(subset=["value"]).reset_index(drop=True)[COLUMNS]


__all__ = [
    "COLUMNS",
    "METRICS",
    "aats",
    "af_correlation",
    "ld_correlation",
    "pairwise_distance_wasserstein",
    "pca_wasserstein",
    "better",
    "comparison_table",
    "detection_auroc",
    "direction",
    "distance_to_closest_record",
    "evaluate_model",
    "evaluation_cells",
    "knn_accuracy",
    "matched_by_label",
    "mean_correlation",
    "mmd",
    "n_identical",
    "privacy_loss",
    "rare_labels",
    "reconstruction_error",
    "shortfall",
    "silhouette",
    "tidy_metrics",
    "utility_metrics",
    "variance_correlation",
]


def evaluation_cells(split: np.ndarray, labels: np.ndarray, max_cells: int, seed: int) -> np.ndarray:
    """Rows the metrics are computed on: every row, or on large data about ``max_cells`` test cells.

    Metrics with pairwise cost (MMD, AATS, DCR, silhouette, k-NN) are bounded this way on
    large data. With more than ``max_cells`` test cells, the training and test splits are
    subsampled by the same fraction ``max_cells / n_test``, label by label (``ceil`` of the
    fraction of each label's cells, drawn without replacement with
    ``numpy.random.default_rng(seed)``), so label proportions and the training-to-test ratio
    stay as they are, and validation cells (used by no metric) are left out.

    Parameters
    ----------
    split
        str ``(n_obs,)`` values ``"train"``, ``"val"``, ``"test"``.
    labels
        ``(n_obs,)`` labels (one value for all when unlabelled).
    max_cells
        Test cells to keep, >= 1 (up to one more per label, from rounding up).
    seed
        Seed of the subsample.

    Returns
    -------
    numpy.ndarray
        int64 sorted row indices.
    """
    n_test = int((split == "test").sum())
    if n_test <= max_cells:
        return np.arange(len(split), dtype=np.int64)
    fraction = max_cells / n_test
    rng = np.random.default_rng(seed)
    keep = []
    for name in ("train", "test"):
        for label in sorted(set(labels[split == name].tolist()), key=str):
            rows = np.flatnonzero((split == name) & (labels == label))
            n = int(np.ceil(fraction * len(rows)))
            keep.append(rows if n == len(rows) else rng.choice(rows, n, replace=False))
    return np.sort(np.concatenate(keep)).astype(np.int64)


def evaluate_model(
    real: ad.AnnData,
    *,
    dataset: str,
    model: str,
    latent: ad.AnnData | None = None,
    synthetic: ad.AnnData | None = None,
    knn_k: int = 15,
    detection_trees: int = 500,
    seed: int = 0,
    threads: int = 1,
    ld_window_sites: int = 50,
    ld_window_kb: float = 1000,
    rare_fraction: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All metrics that apply to one model on one dataset, on the held-out test split.

    Every metric uses all the cells it is given: on large data, pass the rows of
    :func:`evaluation_cells` (the workflow's step reads only those), so that cost and memory
    stay bounded.

    Parameters
    ----------
    real
        Model-ready AnnData with ``obs["split"]``.
    dataset, model
        Names written in the table.
    latent
        Output of the latent stage (``obsm["X_<model>"]``, ``obs["reconstruction_mse"]``):
        gives ``reconstruction_error`` and, when labelled, ``knn_accuracy`` and ``silhouette``.
    synthetic
        Synthetic AnnData: gives ``mean_correlation``, ``variance_correlation``, ``mmd``
        (against all test cells); ``detection_auroc``, ``aats`` and ``privacy_loss`` (test
        cells vs as many synthetic cells of the same labels, and as many training cells of
        the same labels for the privacy loss); ``dcr`` and ``dcr_holdout`` (median distance
        of synthetic, and of held-out real, cells to their closest training cell) and
        ``n_identical_to_train`` (synthetic cells equal to a training cell). Distances are
        Euclidean on the log1p-normalised scale; for genotypes cityblock on allele counts
        (Yelmen et al. 2021), and the per-feature mean/variance correlations are replaced by
        ``af_correlation``, ``ld_correlation``, ``pca_wasserstein`` (mean over PC1 and PC2)
        and ``pairwise_distance_wasserstein`` of :mod:`omicsgen.evaluate.popgen`. With labels, also the
        classifier utility
        scores of :func:`~omicsgen.evaluate.utility.utility_metrics` (TSTR, augmentation of
        the labels with fewer than ``rare_fraction`` of the training cells).
    knn_k
        Neighbours of ``knn_accuracy``.
    detection_trees
        Trees of the ``detection_auroc`` random forest.
    seed, threads
        Seed and CPU threads of the metrics that draw or fit.
    ld_window_sites, ld_window_kb
        Site pairs of ``ld_correlation``: at most this many sites and kb apart.
    rare_fraction
        Labels with fewer than this fraction of the training cells are rare (their recall
        gain is ``augmentation_recall_gain``).

    Returns
    -------
    metrics : pandas.DataFrame
        Columns :data:`COLUMNS`, one row per metric.
    per_label : pandas.DataFrame
        ``dataset``, ``model`` and :data:`~omicsgen.evaluate.utility.PER_LABEL_COLUMNS`, one
        row per test label (the augmentation experiment); no rows without synthetic data or labels.
    """
    encoding = contract.encoding(real)
    split, labels = contract.split_of(real), obs_labels(real)
    labelled = bool(contract.info(real)["label_key"])
    expression = metric_scale(real.X, encoding)
    per_label = pd.DataFrame(columns=PER_LABEL_COLUMNS)
    rows: list[tuple[str, float]] = []
    if latent is not None:
        rows += _latent_rows(latent, labels, split, labelled, knn_k)
    if synthetic is not None:
        synth = metric_scale(synthetic.X, encoding)
        test, train = split == "test", split == "train"
        if contract.is_genotype(real):
            rows += _popgen_rows(real, expression[test], synth, ld_window_sites, ld_window_kb, seed)
        else:
            rows.append(("mean_correlation", mean_correlation(expression[test], synth)))
            rows.append(("variance_correlation", variance_correlation(expression[test], synth)))
        rows.append(("mmd", mmd(expression[test], synth, seed=seed)))
        real_idx, synth_idx = matched_by_label(labels[test], obs_labels(synthetic), seed)
        real_test, synth_matched = expression[test][real_idx], synth[synth_idx]
        rows.append(
            (
                "detection_auroc",
                detection_auroc(real_test, synth_matched, n_estimators=detection_trees, seed=seed, threads=threads),
            )
        )
        train_idx, _ = matched_by_label(labels[train], labels[test][real_idx], seed)
        distance = "cityblock" if contract.is_genotype(real) else "euclidean"
        rows += _privacy_rows(
            expression[train], expression[test], expression[train][train_idx], real_test, synth, synth_matched, distance
        )
        if labelled:
            scores, per_label = utility_metrics(
                expression[train],
                labels[train],
                expression[test],
                labels[test],
                synth,
                obs_labels(synthetic),
                rare=rare_labels(labels[train], rare_fraction),
                seed=seed,
            )
            rows.extend(scores.items())
    unknown = sorted({name for name, _ in rows} - set(METRICS))
    if unknown:
        raise KeyError(f"metrics {unknown} are not in omicsgen.evaluate.metrics.METRICS; register them there")
    table = pd.DataFrame([(dataset, model, name, value) for name, value in rows], columns=COLUMNS)
    return table, per_label.assign(dataset=dataset, model=model)[["dataset", "model", *PER_LABEL_COLUMNS]]


def _latent_rows(
    latent: ad.AnnData, labels: np.ndarray, split: np.ndarray, labelled: bool, knn_k: int
) -> list[tuple[str, float]]:
    """Latent quality: held-out reconstruction error and, with labels, k-NN accuracy and silhouette."""
    rows = [("reconstruction_error", reconstruction_error(latent.obs[RECONSTRUCTION_MSE].to_numpy()[split == "test"]))]
    if labelled:
        embedding = latent.obsm[latent.uns["omicsgen"]["latent_key"]]
        rows.append(("knn_accuracy", knn_accuracy(embedding, labels, split, k=knn_k)))
        rows.append(("silhouette", silhouette(embedding, labels)))
    return rows


def _privacy_rows(
    train: np.ndarray,
    test: np.ndarray,
    train_matched: np.ndarray,
    test_matched: np.ndarray,
    synthetic: np.ndarray,
    synthetic_matched: np.ndarray,
    distance: str,
) -> list[tuple[str, float]]:
    """Privacy: AATS and its components and the privacy loss on label-matched sets, membership inference
    (label-matched training vs held-out cells against all synthetic cells), DCR of synthetic and held-out
    cells, copies."""
    aa_truth, aa_syn = adversarial_accuracies(test_matched, synthetic_matched, distance)
    return [
        ("aats", 0.5 * (aa_truth + aa_syn)),
        ("aa_truth", aa_truth),
        ("aa_syn", aa_syn),
        ("privacy_loss", privacy_loss(train_matched, test_matched, synthetic_matched, distance)),
        ("membership_inference_auroc", membership_inference_auroc(train_matched, test_matched, synthetic, distance)),
        ("dcr", float(np.median(distance_to_closest_record(train, synthetic, distance)))),
        ("dcr_holdout", float(np.median(distance_to_closest_record(train, test, distance)))),
        ("n_identical_to_train", float(n_identical(train, synthetic))),
    ]


def _popgen_rows(
    real: ad.AnnData, real_test: np.ndarray, synthetic: np.ndarray, window_sites: int, window_kb: float, seed: int
) -> list[tuple[str, float]]:
    """Population-genetics fidelity of synthetic genotypes against the held-out real ones."""
    ploidy = contract.alleles_per_row(real)
    i, j = ld_pairs(real.var["chrom"].to_numpy(), real.var["pos"].to_numpy(), window_sites, int(window_kb * 1000))
    return [
        ("af_correlation", af_correlation(real_test, synthetic, ploidy)),
        ("ld_correlation", ld_correlation(real_test, synthetic, i, j)),
        ("pca_wasserstein", float(np.mean(pca_wasserstein(real_test, synthetic, seed)))),
        ("pairwise_distance_wasserstein", pairwise_distance_wasserstein(real_test, synthetic)),
    ]
