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


def mmd(real: np.ndarray, synthetic: np.ndarray, n_components: int = 50, seed: int = 0) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012, JMLR).

    Both sets are projected on the first ``n_components`` principal components of the real
    cells (as scGAN, Marouf et al. 2020, compares cells in a reduced space); the kernel
    bandwidth is the median pairwise distance of the pooled cells (median heuristic); the
    unbiased U-statistic estimate is returned (it can be slightly negative when the
    distributions agree). 0 = same distribution.

    Parameters
    ----------
    real, synthetic
        ``(n_real, n_genes)`` and ``(n_synthetic, n_genes)``, at least two cells each.
    n_components
        PCs (capped by cells and genes).
    seed
        ``random_state`` of the PCA.
    """
    n_comp = min(n_components, real.shape[0] - 1, real.shape[1])
    pca = PCA(n_components=n_comp, random_state=seed).fit(real)
    x, y = pca.transform(real), pca.transform(synthetic)
    pooled = np.vstack([x, y])
    sq = np.sum(pooled**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pooled @ pooled.T, 0.0)
    bandwidth2 = np.median(d2[np.triu_indices_from(d2, k=1)])
    kernel = np.exp(-d2 / max(bandwidth2, 1e-12))
    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    term_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    term_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())


def detection_auroc(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    n_estimators: int = 500,
    n_folds: int = 5,
    seed: int = 0,
    threads: int = 1,
) -> float:
    """Cross-validated AUROC of a random forest telling real from synthetic cells.

    The protocol of scGAN (Marouf et al. 2020, Nature Communications) and GRouNdGAN
    (Zinati et al. 2024): a random forest is trained to separate held-out real cells from
    as many synthetic cells; out-of-fold probabilities of stratified ``n_folds``-fold
    cross-validation give the AUROC. 0.5 = indistinguishable, 1 = trivially detected.

    Parameters
    ----------
    real, synthetic
        ``(n, n_genes)`` each; pass equal numbers (see :func:`matched_by_label`).
    n_estimators
        Trees.
    n_folds
        Folds (capped at the smaller class size).
    seed
        Seeds the folds and the forest.
    threads
        ``n_jobs`` of the forest.

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
    proba = cross_val_predict(forest, X, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def matched_by_label(real_labels: np.ndarray, synthetic_labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of equal-sized real and synthetic sets with the same label composition.

    For every label, ``min(n_real, n_synthetic)`` cells are drawn without replacement from
    each side, so a detector cannot win on label proportions alone.

    Returns
    -------
    real_idx, synthetic_idx : numpy.ndarray
        int arrays of equal length.
    """
    rng = np.random.default_rng(seed)
    real_idx, synth_idx = [], []
    for label in sorted(set(real_labels.tolist()), key=str):
        r = np.flatnonzero(real_labels == label)
        s = np.flatnonzero(synthetic_labels == label)
        n = min(len(r), len(s))
        real_idx.append(rng.choice(r, n, replace=False))
        synth_idx.append(rng.choice(s, n, replace=False))
    return np.concatenate(real_idx).astype(int), np.concatenate(synth_idx).astype(int)
