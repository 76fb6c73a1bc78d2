"""Evaluation: latent quality, fidelity, privacy and utility metrics with 95% intervals, one tidy table per model.

Every metric's docstring names its source; which samples each metric compares, the ``real``
and ``copy`` controls and the bootstrap are in :mod:`omicsgen.evaluate.sampling`. Rows are
``dataset, model, metric, value, low, high``.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform
from scipy.stats import wasserstein_distance
from sklearn.metrics import roc_auc_score

from omicsgen import contract
from omicsgen.contract import RECONSTRUCTION_MSE, obs_labels
from omicsgen.evaluate.fidelity import (
    detection_auroc,
    detection_scores,
    gene_correlation,
    mean_correlation,
    mmd,
    mmd_from_kernel,
    mmd_kernel,
    most_variable,
    reconstruction_error,
    variance_correlation,
    zero_fraction_correlation,
)
from omicsgen.evaluate.latent import knn_accuracy, knn_correct, silhouette, silhouette_widths
from omicsgen.evaluate.metrics import METRICS, better, clipped, direction, shortfall
from omicsgen.evaluate.paired import pairing_key
from omicsgen.evaluate.popgen import (
    af_correlation,
    ld_correlation,
    ld_pairs,
    pairwise_distance_wasserstein,
    pca_scores,
    pca_wasserstein,
)
from omicsgen.evaluate.privacy import (
    AdversarialAccuracy,
    aats,
    distance_to_closest_record,
    identical_to_train,
    membership_inference_auroc,
    membership_scores,
    n_identical,
    privacy_loss,
)
from omicsgen.evaluate.sampling import CONTROLS, bootstrap_intervals, matched, reference_halves
from omicsgen.evaluate.utility import (
    PER_LABEL_COLUMNS,
    per_label_recalls,
    rare_labels,
    utility_predictions,
    utility_scores,
)
from omicsgen.preprocess import metric_scale

COLUMNS = ["dataset", "model", "metric", "value", "low", "high"]
VALUES = ["value", "low", "high"]
# Interval replicates of the LD and pairwise-distance metrics use at most this many pairs each
# (a seeded subset; the value itself uses all of them).
MAX_INTERVAL_PAIRS = 20_000
# gene_correlation compares the correlations of the training cells' most variable genes
CORRELATION_GENES = 100


def comparison_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x model, columns ``<metric>``, ``<metric>_low``, ``<metric>_high`` per metric.

    Rows keep the order in which datasets and models first appear; columns the order in
    which metrics first appear. A metric that does not apply to a model is empty (NaN).
    """
    rows = list(dict.fromkeys(zip(tidy["dataset"], tidy["model"])))
    metrics = list(tidy["metric"].unique())
    wide = tidy.pivot(index=["dataset", "model"], columns="metric", values=VALUES)
    wide.columns = [metric if part == "value" else f"{metric}_{part}" for part, metric in wide.columns]
    columns = [c for metric in metrics for c in (metric, f"{metric}_low", f"{metric}_high")]
    wide = wide.reindex(index=pd.MultiIndex.from_tuples(rows, names=["dataset", "model"]), columns=columns)
    return wide.reset_index().rename_axis(columns=None)


def tidy_metrics(wide: pd.DataFrame) -> pd.DataFrame:
    """The comparison table back in tidy form (:data:`COLUMNS`), row by row, empty cells left out."""
    metrics = [c for c in wide.columns[2:] if not c.endswith(("_low", "_high"))]
    parts = []
    for metric in metrics:
        part = wide[["dataset", "model", metric, f"{metric}_low", f"{metric}_high"]].copy()
        part.columns = ["dataset", "model", *VALUES]
        parts.append(part.assign(metric=metric, order=len(parts)))
    tidy = pd.concat(parts).rename_axis("row").reset_index()
    tidy = tidy.sort_values(["row", "order"], kind="stable").dropna(subset=["value"])
    return tidy.reset_index(drop=True)[COLUMNS]


__all__ = [
    "COLUMNS",
    "CONTROLS",
    "METRICS",
    "aats",
    "af_correlation",
    "better",
    "comparison_table",
    "detection_auroc",
    "direction",
    "distance_to_closest_record",
    "evaluate_model",
    "evaluation_cells",
    "gene_correlation",
    "knn_accuracy",
    "ld_correlation",
    "mean_correlation",
    "membership_inference_auroc",
    "mmd",
    "n_identical",
    "pairwise_distance_wasserstein",
    "pca_wasserstein",
    "privacy_loss",
    "rare_labels",
    "reconstruction_error",
    "shortfall",
    "silhouette",
    "tidy_metrics",
    "variance_correlation",
    "zero_fraction_correlation",
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
    control: str | None = None,
    knn_k: int = 15,
    detection_trees: int = 500,
    seed: int = 0,
    threads: int = 1,
    ld_window_sites: int = 50,
    ld_window_kb: float = 1000,
    rare_fraction: float = 0.05,
    n_bootstrap: int = 200,
    min_label_test: int = 10,
    replicates: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All metrics that apply to one model (or control) on one dataset, each with its 95% interval.

    The cells given bound the cost: on large data, pass the rows of :func:`evaluation_cells`
    (the workflow's step reads only those).

    Which cells are compared (:mod:`omicsgen.evaluate.sampling`): latent metrics use the test
    split. Generation metrics use the test split's reference half (:func:`reference_halves`)
    and a candidate set of the same size and label mix (:func:`matched`, one draw over the
    reference half, the other half, the synthetic cells and the training cells): the synthetic
    cells (a model or baseline), the other half of the test split (``control="real"``: the
    ceiling, real vs real at the same sizes) or training cells (``control="copy"``: a
    generator that returns its training data). Every interval is a stratified bootstrap over
    the cells compared (``n_bootstrap`` replicates, seeded); metrics that fit a classifier or a
    PCA are resampled on its out-of-fold scores, predictions or PC scores, not refitted.
    Resamples are stratified by label, and by class (real/synthetic, member/non-member) for
    ``detection_auroc`` and ``membership_inference_auroc``. The intervals are conditional on
    the one seeded matched draw: they measure the noise of the cells compared, not of which
    cells were drawn.

    Parameters
    ----------
    real
        Model-ready AnnData with ``obs["split"]``.
    dataset, model
        Names written in the table.
    latent
        Output of the latent stage (``obsm["X_<model>"]``, ``obs["reconstruction_mse"]``):
        gives ``reconstruction_error`` and, when labelled, ``knn_accuracy`` and ``silhouette``
        (on the test split).
    synthetic
        Synthetic AnnData: gives the fidelity metrics (``mean_correlation``,
        ``variance_correlation``, ``gene_correlation`` (over the :data:`CORRELATION_GENES` most
        variable genes of the training cells), ``zero_fraction_correlation`` (single-cell counts
        only), ``mmd``, ``detection_auroc``; for genotypes
        ``af_correlation``, ``ld_correlation``, ``pca_wasserstein`` (mean over PC1 and PC2) and
        ``pairwise_distance_wasserstein`` of :mod:`omicsgen.evaluate.popgen` in place of the
        per-feature correlations), the privacy metrics (``aats``, ``aa_truth``, ``aa_syn``,
        ``privacy_loss`` against label-matched training cells; ``membership_inference_auroc``
        of those training cells against the reference half, scored by their distance to the
        closest candidate cell; ``dcr`` and ``dcr_holdout``, median distance of synthetic and of
        reference cells to their closest training cell; ``n_identical_to_train``) and, with
        labels, the classifier utility of :mod:`omicsgen.evaluate.utility` (TSTR on the
        candidate set, TRTR on the training cells matched to it; augmentation with every
        synthetic cell of the labels with fewer than ``rare_fraction`` of the training cells,
        its gain averaged over those with at least ``min_label_test`` reference cells).
        Distances are Euclidean on the log1p-normalised scale; for genotypes cityblock on
        allele counts (Yelmen et al. 2021).
    control
        ``"real"`` or ``"copy"`` (:data:`CONTROLS`) in place of synthetic cells. ``synthetic``,
        when given with a control, only sets the sizes: the control's sets are capped at its
        label counts, so that controls and generators (which all draw the same counts) are
        compared on the same cells at the same sizes.
    knn_k
        Neighbours of ``knn_accuracy``.
    detection_trees
        Trees of the ``detection_auroc`` random forest.
    seed, threads
        Seed of every draw, fit and resample; CPU threads of the metrics that fit.
    ld_window_sites, ld_window_kb
        Site pairs of ``ld_correlation``: plink's ``--ld-window`` and ``--ld-window-kb``.
    rare_fraction
        Labels with fewer than this fraction of the training cells are rare.
    n_bootstrap
        Bootstrap replicates of every interval (0: no intervals).
    min_label_test
        Rare labels with fewer reference test cells are reported as too few to judge
        (``per_label["judged"]``) and left out of ``augmentation_recall_gain``.
    replicates
        When given, filled with ``{metric: (pairing, float64 (n_bootstrap,) replicates)}``
        (nothing when ``n_bootstrap`` is 0). ``pairing`` is
        :func:`~omicsgen.evaluate.paired.pairing_key` of the reference cells (the test split for
        latent metrics, the reference set for generation metrics): two models' replicates with
        one key were drawn on the same resamples of those cells and pair
        (:func:`~omicsgen.evaluate.paired.paired_comparisons`).

    Returns
    -------
    metrics : pandas.DataFrame
        Columns :data:`COLUMNS`, one row per metric.
    per_label : pandas.DataFrame
        ``dataset``, ``model`` and :data:`~omicsgen.evaluate.utility.PER_LABEL_COLUMNS`, one
        row per reference label (the augmentation experiment); no rows without synthetic data or labels.

    Raises
    ------
    ValueError
        An unknown ``control``, or fewer than two test cells left to compare.
    """
    if control is not None and control not in CONTROLS:
        raise ValueError(f"control {control!r} is not one of {CONTROLS}")
    encoding = contract.encoding(real)
    split, labels = contract.split_of(real), obs_labels(real)
    labelled = bool(contract.info(real)["label_key"])
    expression = metric_scale(real.X, encoding)
    boot = {"reps": n_bootstrap, "seed": seed, "record": replicates}
    per_label = pd.DataFrame(columns=PER_LABEL_COLUMNS)
    rows: list[tuple[str, float, float, float]] = []
    if latent is not None:
        boot["pairing"] = pairing_key(real.obs_names[split == "test"], seed, n_bootstrap)
        rows += _latent_rows(latent, labels, split, labelled, knn_k, boot)
    if synthetic is not None or control is not None:
        sets = _comparison_sets(real, expression, labels, split, synthetic, control, seed)
        boot["pairing"] = pairing_key(sets["reference_names"], seed, n_bootstrap)
        genotype = contract.is_genotype(real)
        if genotype:
            rows += _popgen_rows(real, sets, ld_window_sites, ld_window_kb, boot)
        rows += _fidelity_rows(sets, genotype, contract.is_cell_counts(real), detection_trees, threads, boot)
        rows += _privacy_rows(sets, "cityblock" if genotype else "euclidean", boot)
        if labelled:
            utility, per_label = _utility_rows(
                sets, rare_labels(sets["train_labels"], rare_fraction), min_label_test, boot
            )
            rows += utility
    unknown = sorted({row[0] for row in rows} - set(METRICS))
    if unknown:
        raise KeyError(f"metrics {unknown} are not in omicsgen.evaluate.metrics.METRICS; register them there")
    table = pd.DataFrame([(dataset, model, *row) for row in rows], columns=COLUMNS)
    return table, per_label.assign(dataset=dataset, model=model)[["dataset", "model", *PER_LABEL_COLUMNS]]


def _estimates(
    statistic, labels: list[np.ndarray], boot: dict, value: dict | None = None
) -> list[tuple[str, float, float, float]]:
    """``(metric, value, low, high)`` rows of :func:`~omicsgen.evaluate.sampling.bootstrap_intervals`, each
    interval clipped to the values its metric can take (:func:`~omicsgen.evaluate.metrics.clipped`); the
    replicates go to ``boot["record"]`` (when not None) under ``boot["pairing"]``."""
    record = None if boot["record"] is None else {}
    intervals = bootstrap_intervals(statistic, labels, boot["reps"], boot["seed"], value, record)
    if record:
        boot["record"].update({name: (boot["pairing"], values) for name, values in record.items()})
    return [(name, value, *clipped(name, low, high)) for name, (value, low, high) in intervals.items()]


def _comparison_sets(
    real: ad.AnnData,
    expression: np.ndarray,
    labels: np.ndarray,
    split: np.ndarray,
    synthetic: ad.AnnData | None,
    control: str | None,
    seed: int,
) -> dict:
    """The cells generation metrics compare (see :func:`evaluate_model`), on the metric scale.

    Keys: ``reference`` (reference half, matched; its ``obs_names``: ``reference_names``), ``candidate``
    (synthetic or control cells, matched to it; the attacker's data of membership inference),
    ``train_matched`` (training cells, matched; for the ``copy`` control the candidate itself),
    ``pool`` (every synthetic cell, or the other half of the test split, or for ``copy`` the candidate: DCR, copies and
    the augmentation's source), ``train`` (every training cell), with ``*_labels``; ``copy``.
    """
    units = real.obs["sample"].astype(str).to_numpy() if "sample" in real.obs else np.arange(real.n_obs).astype(str)
    reference_rows, holdout_rows = reference_halves(split, labels, units, seed)
    train_rows = np.flatnonzero(split == "train")
    if control == "real":
        pool, pool_labels = expression[holdout_rows], labels[holdout_rows]
    elif control == "copy":
        pool, pool_labels = expression[train_rows], labels[train_rows]
    else:  # a model or baseline
        pool, pool_labels = metric_scale(synthetic.X, contract.encoding(real)), obs_labels(synthetic)
    pools = {
        "reference": labels[reference_rows],
        "holdout": labels[holdout_rows],
        "candidate": pool_labels,
        "train": labels[train_rows],
    }
    if synthetic is not None:  # the generators' label counts bound every set, controls' included
        pools["sizes"] = obs_labels(synthetic)
    draw = matched(pools, seed)
    if len(draw["reference"]) < 2:
        raise ValueError(
            "fewer than two test cells share a label with the synthetic and training cells; "
            "raise split.test_fraction or synthesize more labels"
        )
    reference = expression[reference_rows][draw["reference"]]
    if control == "copy":  # the copies are the training cells compared, and all there is of them
        pool, pool_labels = expression[train_rows][draw["train"]], labels[train_rows][draw["train"]]
        candidate = np.arange(len(pool))
    else:
        candidate = draw["candidate"]
    return {
        "copy": control == "copy",
        "reference": reference,
        "reference_labels": labels[reference_rows][draw["reference"]],
        "reference_names": real.obs_names[reference_rows][draw["reference"]],
        "candidate": pool[candidate],
        "candidate_labels": pool_labels[candidate],
        "train_matched": expression[train_rows][draw["train"]],
        "train_matched_labels": labels[train_rows][draw["train"]],
        "pool": pool,
        "pool_labels": pool_labels,
        "train": expression[train_rows],
        "train_labels": labels[train_rows],
    }


def _latent_rows(
    latent: ad.AnnData, labels: np.ndarray, split: np.ndarray, labelled: bool, knn_k: int, boot: dict
) -> list[tuple[str, float, float, float]]:
    """Latent quality on the test split: reconstruction error and, with labels, k-NN accuracy and silhouette."""
    test = split == "test"
    mse = latent.obs[RECONSTRUCTION_MSE].to_numpy()[test]
    per_cell = {"reconstruction_error": mse}
    if labelled:
        embedding = latent.obsm[latent.uns["omicsgen"]["latent_key"]]
        per_cell["knn_accuracy"] = knn_correct(embedding, labels, split, k=knn_k).astype(np.float64)
        if len(set(labels[test].tolist())) > 1:
            per_cell["silhouette"] = silhouette_widths(embedding[test], labels[test])

    def statistic(rows):
        return {name: float(np.mean(values[rows])) for name, values in per_cell.items()}

    return _estimates(statistic, [labels[test]], boot)


def _fidelity_rows(sets: dict, genotype: bool, counts: bool, detection_trees: int, threads: int, boot: dict) -> list:
    """Mean, variance and gene-gene correlation (not for genotypes: LD instead), zeros per gene (single-cell
    counts only, ``counts``), MMD and detection AUROC, reference vs candidate."""
    reference, candidate = sets["reference"], sets["candidate"]
    pair = [sets["reference_labels"], sets["candidate_labels"]]
    kernel = mmd_kernel(reference, candidate, fit=sets["train"], seed=boot["seed"])
    genes = most_variable(sets["train"], CORRELATION_GENES)
    reference_genes, candidate_genes = reference[:, genes], candidate[:, genes]

    def statistic(i, j):
        out = (
            {}
            if genotype
            else {
                "mean_correlation": mean_correlation(reference[i], candidate[j]),
                "variance_correlation": variance_correlation(reference[i], candidate[j]),
                "gene_correlation": gene_correlation(reference_genes[i], candidate_genes[j], pair[0][i], pair[1][j]),
            }
        )
        if counts:
            out["zero_fraction_correlation"] = zero_fraction_correlation(reference[i], candidate[j])
        out["mmd"] = mmd_from_kernel(kernel, len(reference), i, j)
        return out

    rows = _estimates(statistic, pair, boot)
    is_synthetic, probability = detection_scores(
        reference, candidate, n_estimators=detection_trees, seed=boot["seed"], threads=threads
    )
    rows += _estimates(
        lambda k: {"detection_auroc": roc_auc_score(is_synthetic[k], probability[k])}, [is_synthetic], boot
    )
    return rows


def _privacy_rows(sets: dict, distance: str, boot: dict) -> list:
    """AATS and its components, privacy loss, membership inference, DCRs and copies (see :func:`evaluate_model`).

    AATS looks the nearest neighbours up again on every bootstrap resample
    (:class:`~omicsgen.evaluate.privacy.AdversarialAccuracy`): which samples a set holds moves it
    more than which samples are scored. For the ``copy`` control the candidate set is the matched
    training set, resampled alike.
    """
    real, synthetic, train = sets["reference"], sets["candidate"], sets["train_matched"]
    against_test = AdversarialAccuracy(real, synthetic, distance)
    against_train = AdversarialAccuracy(train, synthetic, distance)

    def adversarial(i, j, k):
        aa_truth, aa_syn = against_test(i, j)
        aats_test = 0.5 * (aa_truth + aa_syn)
        aats_train = 0.5 * sum(against_train(j if sets["copy"] else k, j))
        return {"aats": aats_test, "aa_truth": aa_truth, "aa_syn": aa_syn, "privacy_loss": aats_test - aats_train}

    rows = _estimates(adversarial, [sets["reference_labels"], sets["candidate_labels"], sets["candidate_labels"]], boot)
    # the scored samples are resampled, the attacker's synthetic set is not (a resample with repeats would
    # hold fewer distinct synthetic samples)
    is_member, score = membership_scores(train, real, synthetic, distance)
    rows += _estimates(
        lambda k: {"membership_inference_auroc": roc_auc_score(is_member[k], score[k])}, [is_member], boot
    )
    dcr_holdout = distance_to_closest_record(sets["train"], real, distance)
    dcr = distance_to_closest_record(sets["train"], sets["pool"], distance)
    identical = identical_to_train(sets["train"], sets["pool"]).astype(np.float64)

    def closest(i, j):
        return {
            "dcr": float(np.median(dcr[j])),
            "dcr_holdout": float(np.median(dcr_holdout[i])),
            "n_identical_to_train": float(identical[j].sum()),
        }

    return rows + _estimates(closest, [sets["reference_labels"], sets["pool_labels"]], boot)


def _popgen_rows(real: ad.AnnData, sets: dict, window_sites: int, window_kb: float, boot: dict) -> list:
    """Population-genetics fidelity of the candidate genotypes against the reference half (Yelmen et al. 2021)."""
    reference, candidate = sets["reference"], sets["candidate"]
    ploidy = contract.alleles_per_row(real)
    rng = np.random.default_rng(boot["seed"])
    i_all, j_all = ld_pairs(
        real.var["chrom"].to_numpy(), real.var["pos"].to_numpy(), window_sites, int(window_kb * 1000)
    )
    subset = np.sort(rng.choice(len(i_all), min(len(i_all), MAX_INTERVAL_PAIRS), replace=False))
    scores = pca_scores(reference, candidate, boot["seed"])
    scores_ref, scores_cand = scores[: len(reference)], scores[len(reference) :]
    d_ref, d_cand = squareform(pdist(reference, "cityblock")), squareform(pdist(candidate, "cityblock"))
    full = {
        "af_correlation": af_correlation(reference, candidate, ploidy),
        "ld_correlation": ld_correlation(reference, candidate, i_all, j_all),
        "pca_wasserstein": float(np.mean([wasserstein_distance(scores_ref[:, c], scores_cand[:, c]) for c in (0, 1)])),
        "pairwise_distance_wasserstein": pairwise_distance_wasserstein(reference, candidate),
    }

    def statistic(i, j):
        return {
            "af_correlation": af_correlation(reference[i], candidate[j], ploidy),
            "ld_correlation": ld_correlation(reference[i], candidate[j], i_all[subset], j_all[subset]),
            "pca_wasserstein": float(
                np.mean([wasserstein_distance(scores_ref[i, c], scores_cand[j, c]) for c in (0, 1)])
            ),
            "pairwise_distance_wasserstein": wasserstein_distance(
                _distinct_pairs(d_ref, i, rng), _distinct_pairs(d_cand, j, rng)
            ),
        }

    return _estimates(statistic, [sets["reference_labels"], sets["candidate_labels"]], boot, value=full)


def _distinct_pairs(distances: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distances of up to :data:`MAX_INTERVAL_PAIRS` random pairs of a resample's positions that are two
    different samples (a sample drawn twice is not a pair of genomes at distance 0)."""
    a = rng.integers(0, len(rows), 2 * MAX_INTERVAL_PAIRS)
    b = rng.integers(0, len(rows), 2 * MAX_INTERVAL_PAIRS)
    keep = rows[a] != rows[b]
    return distances[rows[a][keep], rows[b][keep]][:MAX_INTERVAL_PAIRS]


def _utility_rows(sets: dict, rare: list[str], min_label_test: int, boot: dict) -> tuple[list, pd.DataFrame]:
    """TSTR and augmentation (:mod:`omicsgen.evaluate.utility`), tested on the reference half."""
    test_labels = sets["reference_labels"]
    augment = np.isin(sets["pool_labels"], rare)
    predictions = utility_predictions(
        sets["train"],
        sets["train_labels"],
        sets["reference"],
        sets["candidate"],
        sets["candidate_labels"],
        sets["pool"][augment],
        sets["pool_labels"][augment],
        sets["train_matched"],
        sets["train_matched_labels"],
        seed=boot["seed"],
    )
    per_label = per_label_recalls(
        sets["train_labels"], test_labels, sets["pool_labels"], predictions, rare, min_label_test
    )
    judged = per_label.loc[per_label["rare"] & per_label["judged"], "label"].tolist()
    rows = _estimates(
        lambda k: utility_scores(test_labels[k], {name: p[k] for name, p in predictions.items()}, judged),
        [test_labels],
        boot,
    )
    return rows, per_label
