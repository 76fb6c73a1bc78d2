"""Utility of synthetic data for a downstream classifier: TSTR and augmentation of rare labels.

Protocols: train-on-synthetic, test-on-real (TSTR; Esteban et al. 2017) and augmentation of
the real training set with synthetic cells of the rare labels, tested on real held-out cells
(ACTIVA, Heydari et al. 2022; GARAGE docs). The classifier is scikit-learn's multinomial logistic regression on
standardised log1p-normalised expression, the same for every training set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _fit_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return clf.fit(X_train, y_train).predict(X_test)


def rare_labels(train_labels: np.ndarray, fraction: float = 0.05) -> list[str]:
    """Labels holding fewer than ``fraction`` of the training cells, rarest first."""
    values, counts = np.unique(train_labels, return_counts=True)
    order = np.argsort(counts, kind="stable")
    return [str(values[i]) for i in order if counts[i] < fraction * len(train_labels)]


PER_LABEL_COLUMNS = [
    "label",
    "n_train",
    "n_synthetic",
    "n_test",
    "recall_real",
    "recall_augmented",
    "recall_synthetic_only",
    "rare",
    "judged",
]


def utility_predictions(
    real_train: np.ndarray,
    train_labels: np.ndarray,
    real_test: np.ndarray,
    synthetic: np.ndarray,
    synthetic_labels: np.ndarray,
    augmentation: np.ndarray,
    augmentation_labels: np.ndarray,
    matched_train: np.ndarray,
    matched_labels: np.ndarray,
    *,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Predicted labels of the test cells from classifiers trained on real, synthetic, and augmented cells.

    Parameters
    ----------
    real_train, real_test, synthetic, augmentation, matched_train
        ``(n, n_genes)`` log1p-normalised expression (allele counts for genotypes).
        ``augmentation``: the cells added to ``real_train`` for the augmented classifier, only
        those of rare labels (ACTIVA augments the rare class; adding every label would measure
        class rebalancing instead). ``matched_train``: training cells with the size and label
        composition of ``synthetic``, the real-trained reference of TSTR (a classifier trained
        on more cells, or on other label proportions, would win on that alone).
    train_labels, synthetic_labels, augmentation_labels, matched_labels
        Labels of each set.
    seed
        ``random_state`` of the classifier.

    Returns
    -------
    dict
        ``"real"`` (all training cells), ``"real_matched"``, ``"synthetic"``, ``"augmented"``
        -> ``(n_test,)`` predicted labels.
    """
    return {
        "real": _fit_predict(real_train, train_labels, real_test, seed),
        "real_matched": _fit_predict(matched_train, matched_labels, real_test, seed),
        "synthetic": _fit_predict(synthetic, synthetic_labels, real_test, seed),
        "augmented": _fit_predict(
            np.vstack([real_train, augmentation]), np.concatenate([train_labels, augmentation_labels]), real_test, seed
        ),
    }


def utility_scores(test_labels: np.ndarray, predictions: dict[str, np.ndarray], judged_rare: list[str]) -> dict:
    """Accuracy and macro-F1 of :func:`utility_predictions` on the test cells, and the rare labels' recall gain.

    Parameters
    ----------
    test_labels
        ``(n_test,)`` true labels.
    predictions
        Output of :func:`utility_predictions` (the same rows).
    judged_rare
        Rare labels with enough test cells to judge a gain.

    Returns
    -------
    dict
        ``trtr_accuracy`` (trained on the matched real cells), ``tstr_accuracy`` (trained on
        synthetic), ``real_macro_f1`` and ``augmented_macro_f1`` (trained on real, and on real + rare
        synthetic), ``augmentation_recall_gain``: mean over ``judged_rare`` of
        recall(augmented) - recall(real); NaN when there is none.
    """
    labels = sorted(set(test_labels.tolist()))
    gain = float("nan")
    if judged_rare:
        recall = {
            name: recall_score(test_labels, predictions[name], labels=judged_rare, average=None, zero_division=0)
            for name in ("real", "augmented")
        }
        gain = float(np.mean(recall["augmented"] - recall["real"]))
    return {
        "trtr_accuracy": float(accuracy_score(test_labels, predictions["real_matched"])),
        "tstr_accuracy": float(accuracy_score(test_labels, predictions["synthetic"])),
        "real_macro_f1": float(
            f1_score(test_labels, predictions["real"], labels=labels, average="macro", zero_division=0)
        ),
        "augmented_macro_f1": float(
            f1_score(test_labels, predictions["augmented"], labels=labels, average="macro", zero_division=0)
        ),
        "augmentation_recall_gain": gain,
    }


def per_label_recalls(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    synthetic_labels: np.ndarray,
    predictions: dict[str, np.ndarray],
    rare: list[str],
    min_test: int,
) -> pd.DataFrame:
    """One row per test label (:data:`PER_LABEL_COLUMNS`): training, synthetic and test counts, the recall
    of the classifiers of :func:`utility_predictions` trained on all real, synthetic and augmented cells,
    whether the label is rare, and whether it has at least ``min_test`` test cells (``judged``; a recall on
    fewer cells is too noisy to call a gain)."""
    labels = sorted(set(test_labels.tolist()))
    recall = {
        f"recall_{column}": recall_score(test_labels, predictions[name], labels=labels, average=None, zero_division=0)
        for column, name in (("real", "real"), ("augmented", "augmented"), ("synthetic_only", "synthetic"))
    }
    n_test = [int(np.sum(test_labels == label)) for label in labels]
    return pd.DataFrame(
        {
            "label": labels,
            "n_train": [int(np.sum(train_labels == label)) for label in labels],
            "n_synthetic": [int(np.sum(synthetic_labels == label)) for label in labels],
            "n_test": n_test,
            **recall,
            "rare": [label in rare for label in labels],
            "judged": [n >= min_test for n in n_test],
        }
    )[PER_LABEL_COLUMNS]
