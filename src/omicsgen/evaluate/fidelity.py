"""Fidelity of reconstructions and synthetic data against held-out real data.

All inputs are on the log1p-normalised scale (:func:`omicsgen.preprocess.log1p_normalized`),
``(n_cells, n_genes)`` float arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict


def reconstruction_error(cell_mse: np.ndarray) -> float:
    """Mean squared error between real and reconstructed values over cells and genes.

    ``cell_mse`` holds each held-out cell's mean over genes (``obs["reconstruction_mse"]``
    of the latent stage; every cell has the same genes, so their mean is the mean over cells
    and genes). The same measure for the VAE and the PCA baseline (PCA's reconstruction is
    its inverse transform), so the two are comparable.
    """
    return float(np.mean(np.asarray(cell_mse, dtype=np.float64)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(pearsonr(a, b)[0])


def mean_correlation(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Pearson r between per-gene means of real and synthetic cells.

    The per-gene mean/variance comparison of simulated vs real single-cell data
    (Splatter, Zappia et al. 2017; scVI and scGAN evaluations). NaN when either side has
    constant means.
    """
    return _pearson(real.mean(axis=0), synthetic.mean(axis=0))


def variance_correlation(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Pearson r between per-gene variances of real and synthetic cells (see :func:`mean_correlation`)."""
    return _pearson(real.var(axis=0), synthetic.var(axis=0))


def zero_fractions(cells) -> np.ndarray:
    """Fraction of cells in which each gene is 0 (no count), ``(n_genes,)`` float64, from
    ``(n_cells, n_genes)`` values (numpy or scipy sparse, read without a dense copy) on any scale
    that keeps 0 at 0 (counts, log1p-normalised)."""
    nonzero = np.asarray((cells != 0).sum(axis=0), dtype=np.float64).ravel()
    return 1.0 - nonzero / cells.shape[0]


def matched_zero_fractions(
    real, synthetic, real_labels: np.ndarray, synthetic_labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene fractions of zeros of real and synthetic cells at the real cells' label mix, ``(n_genes,)``
    float64 each.

    A gene's zeros depend on which cell types are counted, and generators draw a fixed number
    of cells per label: each side's fraction is the mean of its per-label fractions weighted by
    the real cells' label proportions, over the labels both sides hold. Inputs as
    :func:`zero_fractions`, labels ``(n_cells,)`` each.

    Raises
    ------
    ValueError
        No label is held by both sides.
    """
    shared, counts = np.unique(real_labels[np.isin(real_labels, synthetic_labels)], return_counts=True)
    if len(shared) == 0:
        raise ValueError("the real and synthetic cells share no label: their zero fractions cannot be matched")
    weights = counts / counts.sum()

    def mixed(cells, labels):
        return sum(w * zero_fractions(cells[np.flatnonzero(labels == label)]) for label, w in zip(shared, weights))

    return mixed(real, real_labels), mixed(synthetic, synthetic_labels)


def zero_fraction_correlation(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Pearson r between per-gene fractions of zeros in real and synthetic cells.

    The zeros-per-gene comparison of Splatter (Zappia et al. 2017): where the observation model's
    dispersion is wrong for a gene, or the data hold more zeros than a negative binomial gives
    (zero inflation; Svensson 2020 finds droplet data need none), that gene's synthetic zero
    fraction leaves the real one. NaN when either side has the same fraction for every gene
    (for example no zeros at all).
    """
    return _pearson(zero_fractions(real), zero_fractions(synthetic))


def most_variable(cells: np.ndarray, n: int = 100) -> np.ndarray:
    """Columns of the ``n`` highest variances of ``cells`` (``(n_cells, n_genes)``), in column order: int64."""
    variance = np.var(cells, axis=0)
    return np.sort(np.argsort(-variance, kind="stable")[: min(n, cells.shape[1])]).astype(np.int64)


def _centred_by_label(cells: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each cell minus the mean of its label's cells (float64)."""
    out = np.asarray(cells, dtype=np.float64).copy()
    for label in set(labels.tolist()):
        rows = labels == label
        out[rows] -= out[rows].mean(axis=0)
    return out


def gene_correlation(
    real: np.ndarray,
    synthetic: np.ndarray,
    real_labels: np.ndarray | None = None,
    synthetic_labels: np.ndarray | None = None,
) -> float:
    """Pearson r between the within-label gene-gene correlations of real and of synthetic cells.

    Each cell is centred on its label's mean, then the upper triangles of the two Pearson
    correlation matrices (genes x genes) are correlated, as scDesign2 (Sun et al. 2021) and
    scDesign3 (Song et al. 2024) compare gene-gene correlation structure. Centring within
    labels leaves the co-expression of genes inside a cell type: differences between cell
    types make genes correlate across all cells even when a label-conditional sampler draws
    them independently. Pairs with a constant gene on either side are left out. Near the
    real control: co-expression kept; about 0: genes vary independently within labels (the
    independent-marginals baseline). Cost: ``n_genes^2``, so pass a bounded set of genes
    (:func:`most_variable`).

    Parameters
    ----------
    real, synthetic
        ``(n_real, n_genes)`` and ``(n_synthetic, n_genes)``, the same genes.
    real_labels, synthetic_labels
        Labels of the cells (default: one label for all, plain correlations).
    """
    real_labels = np.zeros(len(real)) if real_labels is None else np.asarray(real_labels)
    synthetic_labels = np.zeros(len(synthetic)) if synthetic_labels is None else np.asarray(synthetic_labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.corrcoef(_centred_by_label(real, real_labels), rowvar=False)
        b = np.corrcoef(_centred_by_label(synthetic, synthetic_labels), rowvar=False)
    upper = np.triu_indices(real.shape[1], k=1)
    a, b = a[upper], b[upper]
    ok = np.isfinite(a) & np.isfinite(b)
    return _pearson(a[ok], b[ok]) if ok.sum() >= 3 else float("nan")


def mmd_kernel(
    real: np.ndarray, synthetic: np.ndarray, fit: np.ndarray | None = None, n_components: int = 50, seed: int = 0
) -> np.ndarray:
    """Gaussian kernel matrix of real and synthetic cells pooled, for :func:`mmd`.

    Both sets are projected on the first ``n_components`` principal components of ``fit``
    (training cells, so the space is not fitted on the cells compared; scGAN, Marouf et al.
    2020, compares cells in a reduced space); the kernel is ``exp(-d^2 / (2 sigma^2))`` with
    ``sigma`` the median pairwise distance of the pooled cells (the median heuristic of
    Gretton et al. 2012).

    Parameters
    ----------
    real, synthetic
        ``(n, n_genes)`` and ``(m, n_genes)``.
    fit
        ``(n_fit, n_genes)`` cells the PCA is fitted on (default: ``real``).
    n_components
        PCs (capped by cells and genes).
    seed
        ``random_state`` of the PCA.

    Returns
    -------
    numpy.ndarray
        float64 ``(n + m, n + m)``, real cells first.
    """
    fit = real if fit is None else fit
    pca = PCA(n_components=min(n_components, fit.shape[0] - 1, fit.shape[1]), random_state=seed).fit(fit)
    pooled = np.vstack([pca.transform(real), pca.transform(synthetic)]).astype(np.float64)
    sq = np.sum(pooled**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pooled @ pooled.T, 0.0)
    sigma2 = np.median(d2[np.triu_indices_from(d2, k=1)])
    return np.exp(-d2 / max(2.0 * sigma2, 1e-12))


def mmd_from_kernel(kernel: np.ndarray, n_real: int, real_rows=None, synthetic_rows=None) -> float:
    """Unbiased squared MMD (U-statistic, Gretton et al. 2012 eq. 3) from a pooled kernel.

    ``real_rows``/``synthetic_rows`` (positions within each set, with repeats) give the value
    on a bootstrap resample: pairs of one cell with itself, or with its own copy, are left out
    of the within-set terms, as the U-statistic leaves out the diagonal.
    """
    n = n_real
    m = kernel.shape[0] - n
    wx = np.bincount(np.arange(n) if real_rows is None else real_rows, minlength=n).astype(np.float64)
    wy = np.bincount(np.arange(m) if synthetic_rows is None else synthetic_rows, minlength=m).astype(np.float64)

    def within(block: np.ndarray, w: np.ndarray) -> float:
        same = float(np.sum(w**2))  # K(x, x) = 1 for every cell and its copies
        return (float(w @ block @ w) - same) / (w.sum() ** 2 - same)

    cross = float(wx @ kernel[:n, n:] @ wy) / (wx.sum() * wy.sum())
    return within(kernel[:n, :n], wx) + within(kernel[n:, n:], wy) - 2 * cross


def mmd(
    real: np.ndarray, synthetic: np.ndarray, fit: np.ndarray | None = None, n_components: int = 50, seed: int = 0
) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012, JMLR).

    The unbiased estimate (:func:`mmd_from_kernel`) on the kernel of :func:`mmd_kernel`
    (PCA of ``fit``, median-heuristic bandwidth). 0 = same distribution; the estimate
    scatters around 0 (it can be slightly negative) when the distributions agree, so the
    best value is 0, not the lowest.

    Parameters
    ----------
    real, synthetic
        ``(n_real, n_genes)`` and ``(n_synthetic, n_genes)``, at least two cells each.
    fit, n_components, seed
        As :func:`mmd_kernel`.
    """
    return mmd_from_kernel(mmd_kernel(real, synthetic, fit, n_components, seed), len(real))


def detection_scores(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    n_estimators: int = 500,
    n_folds: int = 5,
    seed: int = 0,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities of a random forest telling real from synthetic cells.

    The detection protocol of scGAN (Marouf et al. 2020, Nature Communications) and GRouNdGAN
    (Zinati et al. 2024): a random forest is trained to separate held-out real cells from as
    many synthetic cells, and stratified ``n_folds``-fold cross-validation gives every cell an
    out-of-fold P(synthetic); :func:`detection_auroc` is their AUROC.

    Parameters
    ----------
    real, synthetic
        ``(n, n_genes)`` each; pass equal numbers of the same labels
        (:func:`omicsgen.evaluate.sampling.matched`).
    n_estimators
        Trees.
    n_folds
        Folds (capped at the smaller class size).
    seed
        Seeds the folds and the forest.
    threads
        ``n_jobs`` of the forest.

    Returns
    -------
    is_synthetic, probability : numpy.ndarray
        ``(n_real + n_synthetic,)`` 0/1 classes (real first) and out-of-fold P(synthetic).

    Raises
    ------
    ValueError
        Fewer than two cells on a side.
    """
    if min(len(real), len(synthetic)) < 2:
        raise ValueError("detection_auroc needs at least two real and two synthetic cells")
    X = np.vstack([real, synthetic])
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    folds = StratifiedKFold(n_splits=min(n_folds, len(real), len(synthetic)), shuffle=True, random_state=seed)
    forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=threads)
    return y, cross_val_predict(forest, X, y, cv=folds, method="predict_proba")[:, 1]


def detection_auroc(real: np.ndarray, synthetic: np.ndarray, **options) -> float:
    """Cross-validated AUROC of a random forest telling real from synthetic cells (scGAN, GRouNdGAN).

    0.5 = indistinguishable, 1 = trivially detected. ``real``, ``synthetic`` and ``options``
    (``n_estimators``, ``n_folds``, ``seed``, ``threads``) and the errors are those of
    :func:`detection_scores`.
    """
    return float(roc_auc_score(*detection_scores(real, synthetic, **options)))
