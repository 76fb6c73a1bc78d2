"""Utility of synthetic data for a downstream classifier: TSTR and augmentation of rare labels.

Protocols: train-on-synthetic, test-on-real (TSTR; Esteban et al. 2017) and augmentation of
the real training set with synthetic cells, tested on real held-out cells (ACTIVA, Heydari et
al. 2022; GARAGE docs). The classifier is scikit-learn's multinomial logistic regression on
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
]


def utility_metrics(
    real_train: np.ndarray,
    train_labels: np.ndarray,
    real_test: np.ndarray,
    test_labels: np.ndarray,
    synthetic: np.ndarray,
    synthetic_labels: np.ndarray,
    *,
    rare: list[str],
    seed: int = 0,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Classifier scores on real test cells for three training sets: real, synthetic, real + synthetic.

    Parameters
    ----------
    real_train, real_test, synthetic
        ``(n, n_genes)`` log1p-normalised expression.
    train_labels, test_labels, synthetic_labels
        Labels of each set.
    rare
        Labels whose recall gain is averaged (see :func:`rare_labels`).
    seed
        ``random_state`` of the classifier.

    Returns
    -------
    scores : dict
        ``trtr_accuracy`` (trained on real), ``tstr_accuracy`` (trained on synthetic),
        ``real_macro_f1`` and ``augmented_macro_f1`` (trained on real, and on real +
        synthetic), and ``augmentation_recall_gain``: mean over the ``rare`` labels present
        in the test set of recall(augmented) - recall(real); NaN when there is none.
    per_label : pandas.DataFrame
        One row per test label (:data:`PER_LABEL_COLUMNS`): training, synthetic and test
        counts, recall of the three classifiers, and whether the label is rare.
    """
    real_pred = _fit_predict(real_train, train_labels, real_test, seed)
    synth_pred = _fit_predict(synthetic, synthetic_labels, real_test, seed)
    aug_pred = _fit_predict(
        np.vstack([real_train, synthetic]), np.concatenate([train_labels, synthetic_labels]), real_test, seed
    )
    labels = sorted(set(test_labels.tolist()))
    recall = {
        name: recall_score(test_labels, pred, labels=labels, average=None, zero_division=0)
        for name, pred in (
            ("recall_real", real_pred),
            ("recall_augmented", aug_pred),
            ("recall_synthetic_only", synth_pred),
        )
    }
    per_label = pd.DataFrame(
        {
            "label": labels,
            "n_train": [int(np.sum(train_labels == label)) for label in labels],
            "n_synthetic": [int(np.sum(synthetic_labels == label)) for label in labels],
            "n_test": [int(np.sum(test_labels == label)) for label in labels],
            **recall,
            "rare": [label in rare for label in labels],
        }
    )[PER_LABEL_COLUMNS]
    rare_rows = per_label[per_label["rare"]]
    gain = float((rare_rows["recall_augmented"] - rare_rows["recall_real"]).mean()) if len(rare_rows) else float("nan")
    scores = {
        "trtr_accuracy": float(accuracy_score(test_labels, real_pred)),
        "tstr_accuracy": float(accuracy_score(test_labels, synth_pred)),
        "real_macro_f1": float(f1_score(test_labels, real_pred, labels=labels, average="macro", zero_division=0)),
        "augmented_macro_f1": float(f1_score(test_labels, aug_pred, labels=labels, average="macro", zero_division=0)),
        "augmentation_recall_gain": gain,
    }
    return scores, per_label
