"""Report figures for alignments: depth profiles of real vs synthetic data, as base64 PNG strings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from omicsgen.report.plots import to_base64_png  # noqa: E402

N_READ_CHANNELS = 5  # A, C, G, T, deletion: the channels that count reads


def _profile(X: np.ndarray, bam: dict) -> np.ndarray:
    """Mean over rows of what the plot shows: depth per position (pileup) or the value per bin (depth)."""
    X = np.asarray(X, dtype=np.float64)
    if bam["shape"] == "pileup":
        window, channels = bam["tensor_shape"]
        return X.reshape(len(X), window, channels)[:, :, :N_READ_CHANNELS].sum(axis=2).mean(axis=0)
    return X.mean(axis=0)


def depth_profiles(real: np.ndarray, synthetic: dict[str, np.ndarray], bam: dict) -> str:
    """Depth profile of held-out real rows and of each generator's synthetic rows.

    Pileup windows: mean read depth (A+C+G+T+deletions) at each position of the window.
    Depth matrices: mean value per bin (reads per bin, or log1p mean depth) in genome order.
    Inputs are ``X`` as stored (counts), ``(n, n_features)``.
    """
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x_label = "position in window (bp)" if bam["shape"] == "pileup" else "bin (genome order)"
    y_label = "mean read depth" if bam["shape"] == "pileup" else f"mean {bam['value']}"
    for name, values in {"real (test)": real, **synthetic}.items():
        ax.plot(_profile(values, bam), label=name, lw=1.2)
    ax.set(xlabel=x_label, ylabel=y_label, title="Depth profile, real vs synthetic")
    ax.legend()
    return to_base64_png(fig)
