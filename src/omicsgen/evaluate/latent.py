"""Latent-space quality: how well an embedding keeps the labels."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import silhouette_samples
from sklearn.neighbors import KNeighborsClassifier


def knn_correct(latent: np.ndarray, labels: np.ndarray, split: np.ndarray, k: int = 15) -> np.ndarray:
    """Whether each test cell's k-NN label (neighbours among training cells) is right: bool ``(n_test,)``,
    test cells in row order (see :func:`knn_accuracy`).

    Raises
    ------
    ValueError
        No training or no test cells.
    """
    train, test = split == "train", split == "test"
    if not train.any() or not test.any():
        raise ValueError("knn_accuracy needs training and test cells")
    clf = KNeighborsClassifier(n_neighbors=min(k, int(train.sum())))
    clf.fit(latent[train], labels[train])
    return clf.predict(latent[test]) == labels[test]


def knn_accuracy(latent: np.ndarray, labels: np.ndarray, split: np.ndarray, k: int = 15) -> float:
    """k-NN label accuracy on the test split, neighbours taken among training cells.

    A k-nearest-neighbour classifier (Euclidean, scikit-learn) is fitted on the ``train``
    cells' embedding and scored on the ``test`` cells, as the k-NN classification of
    embeddings in GenoCAE (Ausmees & Nettelblad 2022) and scIB (Luecken et al. 2022).

    Parameters
    ----------
    latent
        ``(n_cells, n_dims)`` float embedding.
    labels
        ``(n_cells,)`` labels.
    split
        ``(n_cells,)`` values ``"train"``, ``"val"``, ``"test"``.
    k
        Neighbours (capped at the number of training cells).

    Returns
    -------
    float
        Fraction of test cells whose predicted label is right, in [0, 1].

    Raises
    ------
    ValueError
        No training or no test cells.
    """
    return float(np.mean(knn_correct(latent, labels, split, k)))


def silhouette_widths(latent: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Silhouette width of every cell (Rousseeuw 1987; scikit-learn's ``silhouette_samples``, Euclidean):
    float64 ``(n_cells,)`` in [-1, 1]; see :func:`silhouette`."""
    return silhouette_samples(latent, labels, metric="euclidean")


def silhouette(latent: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette width of the labels in the embedding (Rousseeuw 1987).

    Euclidean distance, scikit-learn's silhouette widths; the raw value in [-1, 1] (scIB
    reports it rescaled to (s + 1) / 2). Higher: labels form tighter, better separated
    groups. :func:`omicsgen.evaluate.evaluate_model` passes the test split's cells only.
    Cost: all pairs of the cells given, so pass a bounded set.

    Parameters
    ----------
    latent
        ``(n_cells, n_dims)`` float embedding.
    labels
        ``(n_cells,)`` labels with at least two distinct values.
    """
    return float(np.mean(silhouette_widths(latent, labels)))
