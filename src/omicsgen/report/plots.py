"""Report figures (matplotlib), returned as base64 PNG strings for embedding in HTML."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def to_base64_png(fig) -> str:
    """Render a matplotlib figure to a base64-encoded PNG (96 dpi) and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def training_curves(curves: dict[str, tuple[pd.DataFrame, list[str], str]]) -> str:
    """Per-epoch training curves, one panel per model: ``model -> (history, columns, y label)``, the
    columns and label each family declares (``TrainingPlan.curves``, kept in ``training.json``)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5), squeeze=False)
    for ax, (model, (history, columns, ylabel)) in zip(axes[0], curves.items()):
        for column in columns:
            if column in history:
                ax.plot(history["epoch"], history[column], label=column)
        ax.set(title=model, xlabel="epoch", ylabel=ylabel)
        ax.legend()
    return to_base64_png(fig)


def embedding_scatter(embeddings: dict[str, np.ndarray], labels: np.ndarray, label_name: str) -> str:
    """2-D embeddings (UMAP) coloured by label, one panel per model; ``(n_cells, 2)`` each."""
    categories = sorted(set(labels.tolist()), key=str)
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(categories), 2)))
    fig, axes = plt.subplots(1, len(embeddings), figsize=(5.5 * len(embeddings), 4.5), squeeze=False)
    for ax, (name, xy) in zip(axes[0], embeddings.items()):
        for colour, category in zip(colours, categories):
            mask = labels == category
            ax.scatter(xy[mask, 0], xy[mask, 1], s=6, color=colour, label=category)
        ax.set(title=name, xticks=[], yticks=[])
    axes[0][-1].legend(title=label_name, bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=7, markerscale=2)
    return to_base64_png(fig)


def real_vs_synthetic_pca(real_pcs: np.ndarray, synthetic_pcs: dict[str, np.ndarray]) -> str:
    """PC1 vs PC2 of held-out real cells overlaid with each generator's synthetic cells."""
    fig, axes = plt.subplots(1, len(synthetic_pcs), figsize=(5 * len(synthetic_pcs), 4), squeeze=False)
    for ax, (name, pcs) in zip(axes[0], synthetic_pcs.items()):
        ax.scatter(pcs[:, 0], pcs[:, 1], s=6, alpha=0.4, label="synthetic", color="tab:orange")
        ax.scatter(real_pcs[:, 0], real_pcs[:, 1], s=8, alpha=0.8, label="real (test)", color="tab:blue")
        ax.set(title=name, xlabel="PC1", ylabel="PC2")
        ax.legend()
    return to_base64_png(fig)


def zero_fraction_scatter(zeros: dict[str, tuple[np.ndarray, np.ndarray]], genes: np.ndarray, n_named: int = 3) -> str:
    """Per-gene fraction of zeros, synthetic (y) against held-out real (x), one panel per generator:
    ``name -> (real, synthetic)``, ``(n_genes,)`` float each at one label mix
    (:func:`omicsgen.evaluate.fidelity.matched_zero_fractions`). The ``n_named`` genes furthest
    from the diagonal are named with both fractions: the genes whose dispersion or zero inflation
    the model gets wrong (Splatter's zeros-per-gene check)."""
    fig, axes = plt.subplots(1, len(zeros), figsize=(4.5 * len(zeros), 4.2), squeeze=False)
    for ax, (name, (real, synthetic)) in zip(axes[0], zeros.items()):
        ax.scatter(real, synthetic, s=5, alpha=0.5, color="tab:blue")
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        for g in np.argsort(-np.abs(synthetic - real))[:n_named]:
            ax.annotate(
                f"{genes[g]} ({real[g]:.0%} / {synthetic[g]:.0%})", (real[g], synthetic[g]), fontsize=7, color="tab:red"
            )
        ax.set(title=name, xlabel="zeros, real (test)", ylabel="zeros, synthetic", xlim=(0, 1), ylim=(0, 1))
    return to_base64_png(fig)
