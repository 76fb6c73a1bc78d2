"""Report figures for genotypes (Yelmen et al. 2021's panels), as base64 PNG strings.

Inputs are ``(n, n_sites)`` allele counts (dosage 0/1/2 or haplotype 0/1) with ``ploidy``
alleles per entry.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from omicsgen.evaluate.popgen import (  # noqa: E402
    allele_frequencies,
    ld_decay_comparison,
    ld_r2,
    pairwise_distances,
)
from omicsgen.report.plots import to_base64_png  # noqa: E402


def allele_frequency_scatter(real: np.ndarray, synthetic: dict[str, np.ndarray], ploidy: int) -> str:
    """Alt-allele frequency per site, synthetic vs real (held-out), one panel per generator."""
    af_real = allele_frequencies(real, ploidy)
    fig, axes = plt.subplots(1, len(synthetic), figsize=(4.2 * len(synthetic), 4), squeeze=False)
    for ax, (name, genotypes) in zip(axes[0], synthetic.items()):
        ax.scatter(af_real, allele_frequencies(genotypes, ploidy), s=4, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax.set(title=name, xlabel="AF real (test)", ylabel="AF synthetic", xlim=(0, 1), ylim=(0, 1))
    return to_base64_png(fig)


def ld_heatmaps(real: np.ndarray, synthetic: dict[str, np.ndarray], n_sites: int = 150) -> str:
    """LD r2 among the first ``n_sites`` sites: real (lower triangle) vs synthetic (upper), per generator."""
    n = min(n_sites, real.shape[1])
    i, j = np.triu_indices(n, k=1)
    fig, axes = plt.subplots(1, len(synthetic), figsize=(4.5 * len(synthetic), 4), squeeze=False)
    for ax, (name, genotypes) in zip(axes[0], synthetic.items()):
        matrix = np.full((n, n), np.nan)
        matrix[j, i] = ld_r2(real[:, :n], i, j)  # lower triangle: real
        matrix[i, j] = ld_r2(genotypes[:, :n], i, j)  # upper triangle: synthetic
        image = ax.imshow(matrix, cmap="Reds", vmin=0, vmax=1, interpolation="nearest")
        ax.set(title=f"{name}\nlower: real (test), upper: synthetic", xlabel="site", ylabel="site")
    fig.colorbar(image, ax=axes[0].tolist(), label="LD r2", shrink=0.8)
    return to_base64_png(fig)


def ld_decay_curves(
    real: np.ndarray,
    synthetic: dict[str, np.ndarray],
    pos: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    seed: int = 0,
) -> str:
    """Mean LD r2 against distance between sites (bp), real (held-out) and each generator, at one sample
    size, with the real data's 95% band (:func:`~omicsgen.evaluate.popgen.ld_decay_comparison`)."""
    table = ld_decay_comparison(real, synthetic, pos, i, j, seed)
    fig, ax = plt.subplots(figsize=(6, 4))
    x = table["distance_bp"]
    ax.fill_between(x, table["band_low"], table["band_high"], color="grey", alpha=0.3, label="real (test): 95% band")
    for name in table.columns[3:]:
        ax.plot(x, table[name], marker="o", label=name)
    ax.set(
        xscale="log",
        xlabel="distance between sites (bp)",
        ylabel="mean LD r2",
        title=f"LD decay ({table.attrs['genomes_per_curve']} genomes per curve)",
    )
    ax.legend()
    return to_base64_png(fig)


def pairwise_distance_histograms(real: np.ndarray, synthetic: dict[str, np.ndarray]) -> str:
    """Distributions of pairwise cityblock distances within real (held-out) and within each synthetic set."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, genotypes in {"real (test)": real, **synthetic}.items():
        ax.hist(pairwise_distances(genotypes), bins=60, histtype="step", density=True, label=name)
    ax.set(xlabel="pairwise distance (allele differences)", ylabel="density", title="Pairwise distances")
    ax.legend()
    return to_base64_png(fig)


def privacy_bars(metrics: pd.DataFrame) -> str:
    """AATS (ideal 0.5), privacy loss (ideal 0) and membership-inference AUROC (ideal 0.5) per generator and
    control, with their 95% intervals, from the tidy metrics (``value, low, high``) of one dataset."""
    panels = (("aats", 0.5), ("privacy_loss", 0.0), ("membership_inference_auroc", 0.5))
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.2))
    for ax, (metric, ideal) in zip(axes, panels):
        rows = metrics[metrics["metric"] == metric].dropna(subset=["value"])
        if len(rows):
            low, high = rows["low"].fillna(rows["value"]), rows["high"].fillna(rows["value"])
            yerr = np.vstack([rows["value"] - low, high - rows["value"]])
            ax.bar(rows["model"], rows["value"], yerr=yerr, capsize=3, color="tab:purple")
            ax.tick_params(axis="x", labelrotation=45)
        ax.axhline(ideal, color="grey", ls="--", lw=0.8)
        ax.set(title=f"{metric} (ideal {ideal:g})")
    fig.tight_layout()
    return to_base64_png(fig)
