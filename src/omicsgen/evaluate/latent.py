"""Latent-space quality: how well an embedding keeps the labels."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import silhouette_score
from sklearn.neighbors import KNeighborsClassifier


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
    train, test = split == "train", split == "test"
    if not train.any() or not test.any():
        raise ValueError("knn_accuracy needs training and test cells")
    clf = KNeighborsClassifier(n_neighbors=min(k, int(train.sum())))
    clf.fit(latent[train], labels[train])
    return float(np.mean(clf.predict(latent[test]) == labels[test]))


def silhouette(latent: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette width of the labels in the embedding (Rousseeuw 1987).

    Euclidean distance, all cells, scikit-learn's ``silhouette_score``; the raw value in
    [-1, 1] (scIB reports it rescaled to (s + 1) / 2). Higher: labels form tighter,
    better separated groups.

    Parameters
    ----------
    latent
        ``(n_cells, n_dims)`` float embedding.
    labels
        ``(n_cells,)`` labels with at least two distinct values.
    """
    return float(silhouette_score(latent, labels, metric="euclidean"))
