"""Population-genetics fidelity of synthetic genotypes (Yelmen et al. 2021, PLOS Genetics).

Definitions follow the artificial-genome evaluation of Yelmen et al. 2021 and their public
code: allele-frequency and LD comparisons, PCA of real and synthetic genomes together, and
distributions of pairwise distances. Inputs are ``(n, n_sites)`` allele counts (float or int):
dosage 0/1/2 (``ploidy=2``) or haplotype alleles 0/1 (``ploidy=1``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from scipy.stats import pearsonr, wasserstein_distance
from sklearn.decomposition import PCA

LD_DECAY_BINS_BP = (0, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


def allele_frequencies(genotypes: np.ndarray, ploidy: int) -> np.ndarray:
    """Alt-allele frequency per site: mean allele count / ploidy; ``(n_sites,)`` float64."""
    return np.asarray(genotypes, dtype=np.float64).mean(axis=0) / ploidy


def af_correlation(real: np.ndarray, synthetic: np.ndarray, ploidy: int) -> float:
    """Pearson r of per-site alt-allele frequencies, synthetic vs real (Yelmen et al. 2021, Fig 2)."""
    return float(pearsonr(allele_frequencies(real, ploidy), allele_frequencies(synthetic, ploidy))[0])


def ld_pairs(chrom: np.ndarray, pos: np.ndarray, window_sites: int, window_bp: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, of sites on one chromosome within a window.

    Pairs as plink 1.9's ``--r2 --ld-window N --ld-window-kb K`` (``N = window_sites``,
    ``K = window_bp / 1000``): fewer than ``N - 1`` sites between them (``j - i <= N - 1`` in
    file order; plink ignores pairs "with at least N - 1 variants between them") and at most
    ``window_bp`` bp apart. ``tests/evaluate/test_popgen.py`` checks the pair set against plink.

    Returns
    -------
    i, j : numpy.ndarray
        int64 arrays of equal length.
    """
    chrom, pos = np.asarray(chrom), np.asarray(pos, dtype=np.int64)
    firsts, seconds = [], []
    n = len(pos)
    for offset in range(1, min(window_sites - 1, n - 1) + 1):
        i = np.arange(n - offset)
        j = i + offset
        ok = (chrom[i] == chrom[j]) & (np.abs(pos[j] - pos[i]) <= window_bp)
        firsts.append(i[ok])
        seconds.append(j[ok])
    if not firsts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def ld_r2(genotypes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Squared Pearson correlation of allele counts between sites ``i`` and ``j``.

    On haplotypes this is the classic LD r2; on unphased dosages the genotype r2 that plink's
    ``--r2`` reports for unphased data. NaN where a site is monomorphic in ``genotypes``.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_pairs,)``.
    """
    g = np.asarray(genotypes, dtype=np.float64)
    centred = g - g.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = centred / norm
        r = np.einsum("ij,ij->j", z[:, i], z[:, j])
    return r**2


def lag_r2(genotypes: np.ndarray, lags: int) -> np.ndarray:
    """Mean LD r2 (:func:`ld_r2`) between sites ``t`` apart, for ``t = 1..lags``: float64 ``(lags,)``.

    ``genotypes`` is ``(n, n_sites)`` allele counts in site order. Pairs with a monomorphic site
    are left out; a lag with none left (or beyond the last site) is 0. The LD check that
    ``ar.select: ld`` runs each epoch (:meth:`omicsgen.models.ar.Autoregressive.ld_gap`).
    """
    n_sites = np.shape(genotypes)[1]
    out = np.zeros(lags)
    for t in range(1, min(lags, n_sites - 1) + 1):
        i = np.arange(n_sites - t)
        r2 = ld_r2(genotypes, i, i + t)
        if np.isfinite(r2).any():
            out[t - 1] = np.nanmean(r2)
    return out


def ld_correlation(real: np.ndarray, synthetic: np.ndarray, i: np.ndarray, j: np.ndarray) -> float:
    """Pearson r between real and synthetic LD r2 over the same site pairs (Yelmen et al. 2021, Fig 3).

    Pairs with a monomorphic site on either side are left out. NaN when fewer than three
    pairs remain.
    """
    a, b = ld_r2(real, i, j), ld_r2(synthetic, i, j)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(pearsonr(a[ok], b[ok])[0])


def ld_decay(
    genotypes: np.ndarray, pos: np.ndarray, i: np.ndarray, j: np.ndarray, bins_bp: tuple[int, ...] = LD_DECAY_BINS_BP
) -> pd.DataFrame:
    """Mean LD r2 by distance between sites (bp bins): the LD-decay curve.

    Returns
    -------
    pandas.DataFrame
        ``distance_bp`` (bin midpoint), ``mean_r2``, ``n_pairs``, one row per non-empty bin.
    """
    r2 = ld_r2(genotypes, i, j)
    distance = np.abs(np.asarray(pos)[j] - np.asarray(pos)[i])
    ok = np.isfinite(r2)
    table = pd.DataFrame({"bin": pd.cut(distance[ok], bins=list(bins_bp), include_lowest=True), "r2": r2[ok]})
    grouped = table.groupby("bin", observed=True)["r2"].agg(["mean", "size"]).reset_index()
    return pd.DataFrame(
        {
            "distance_bp": [interval.mid for interval in grouped["bin"]],
            "mean_r2": grouped["mean"].to_numpy(),
            "n_pairs": grouped["size"].to_numpy(),
        }
    )


def ld_decay_comparison(
    real: np.ndarray,
    synthetic: dict[str, np.ndarray],
    pos: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    seed: int = 0,
    n_draws: int = 50,
    real_name: str = "real (test)",
) -> pd.DataFrame:
    """LD-decay curves of real and synthetic sets at one sample size, with the real data's 95% band.

    Sample r2 is biased upwards by about ``1 / m`` on ``m`` genomes, so curves of sets of
    different sizes do not compare: every curve is computed on ``m`` genomes, half the real
    ones (at least 2), drawn without replacement with ``seed``. The band holds 95% of the curves
    of ``n_draws`` random sets of ``m`` real genomes (the real-vs-real control's spread). Each
    set's curve (real and synthetic) is the median, bin by bin, of the curves of ``n_draws``
    random sets of ``m`` of its genomes, so that which ``m`` genomes one draw picked does not
    move a curve in or out of the band; where a generator's curve leaves it, its LD differs from
    the real data's by more than sampling noise.

    Parameters
    ----------
    real
        ``(n_real, n_sites)`` allele counts of the held-out genomes.
    synthetic
        Name -> ``(n, n_sites)`` allele counts of a synthetic set.
    pos, i, j
        Site positions (bp) and the site pairs (:func:`ld_pairs`).
    seed, n_draws
        Seed of the draws, and the number of random sets of ``m`` genomes drawn from each set
        (real: the band and its median curve; each synthetic set: its median curve).
    real_name
        Column name of the real curve.

    Returns
    -------
    pandas.DataFrame
        One row per distance bin (:data:`LD_DECAY_BINS_BP`): ``distance_bp`` (bin midpoint, bp),
        ``band_low`` and ``band_high`` (2.5% and 97.5% of the real draws' mean r2), then the
        median over draws of the mean r2 of ``real_name`` and of each synthetic set; ``m`` in
        ``attrs["genomes_per_curve"]``.
    """
    rng = np.random.default_rng(seed)
    m = max(2, len(real) // 2)

    def draws(genotypes: np.ndarray):
        """The curves of ``n_draws`` random sets of ``m`` of the genomes, grouped by distance bin."""
        size = min(m, len(genotypes))
        curves = [
            ld_decay(genotypes[rng.choice(len(genotypes), size=size, replace=False)], pos, i, j) for _ in range(n_draws)
        ]
        return pd.concat(curve.set_index("distance_bp")["mean_r2"] for curve in curves).groupby(level=0)

    real_draws = draws(real)
    band = real_draws.quantile([0.025, 0.975]).unstack()
    table = pd.DataFrame({"band_low": band[0.025], "band_high": band[0.975], real_name: real_draws.median()})
    for name, genotypes in synthetic.items():
        table[name] = draws(genotypes).median()
    table = table.rename_axis("distance_bp").reset_index()
    table.attrs["genomes_per_curve"] = m
    return table


def pca_scores(real: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> np.ndarray:
    """PC1 and PC2 scores of real and synthetic genomes, PCA fitted on both together
    (Yelmen et al. 2021, Fig 1): float64 ``(n_real + n_synthetic, 2)``, real rows first."""
    return PCA(n_components=2, random_state=seed).fit_transform(np.vstack([real, synthetic]).astype(np.float64))


def pca_wasserstein(real: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Wasserstein distance between real and synthetic scores on PC1 and on PC2.

    PCA is fitted on real and synthetic genomes together (:func:`pca_scores`), as in Yelmen
    et al. 2021 (Fig 1) and their evaluation code; 0 = the two clouds coincide along that
    component. Units are those of the PC scores (allele counts).

    Returns
    -------
    pc1, pc2 : float
    """
    scores = pca_scores(real, synthetic, seed)
    n = len(real)
    return (
        float(wasserstein_distance(scores[:n, 0], scores[n:, 0])),
        float(wasserstein_distance(scores[:n, 1], scores[n:, 1])),
    )


def pairwise_distances(genotypes: np.ndarray) -> np.ndarray:
    """Cityblock (allele-count) distances of all pairs of rows; ``(n * (n - 1) / 2,)`` float64.

    The pairwise-difference distribution of Yelmen et al. 2021 (Fig 2): on haplotypes the
    number of differing alleles.
    """
    return pdist(np.asarray(genotypes, dtype=np.float64), metric="cityblock")


def pairwise_distance_wasserstein(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Wasserstein distance between the within-real and within-synthetic pairwise-distance distributions.

    0 = synthetic genomes differ from each other as much as real ones do; a generator that
    collapses to a few genomes, or adds noise, moves it up.
    """
    return float(wasserstein_distance(pairwise_distances(real), pairwise_distances(synthetic)))
