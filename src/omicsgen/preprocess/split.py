"""Seeded train/validation/test split, stratified by label."""

from __future__ import annotations

import numpy as np

from omicsgen.contract import SPLITS
from omicsgen.errors import InputError

# What every stage needs: a training set, a validation loss to stop on, and test cells for the
# 5-fold real-vs-synthetic detection and the nearest-neighbour privacy metrics.
MIN_PER_SPLIT = {"train": 10, "val": 2, "test": 5}


def stratified_split(labels, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Assign each observation to ``train``, ``val`` or ``test``, per label.

    Within each label the observations are shuffled with ``numpy.random.default_rng(seed)``
    and ``round(n * test_fraction)`` go to test, ``round(n * val_fraction)`` to validation
    and the rest to train; a label with one or two observations keeps them in train so
    every label is seen in training. Rare labels keep their proportions, unlike a plain
    random split (scikit-learn's ``train_test_split(stratify=...)`` instead refuses labels
    with a single member).

    Parameters
    ----------
    labels
        Sequence of length ``n_obs`` (any hashable values); a constant for unlabelled data.
    val_fraction, test_fraction
        Fractions in ``[0, 1)`` with ``val_fraction + test_fraction < 1``.
    seed
        Seed of the shuffle.

    Returns
    -------
    numpy.ndarray
        Object array of shape ``(n_obs,)`` with values ``"train"``, ``"val"``, ``"test"``.

    Raises
    ------
    ValueError
        If the fractions are out of range.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"split fractions val={val_fraction}, test={test_fraction} must be in [0, 1) and sum to less than 1"
        )
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng(seed)
    split = np.full(labels.shape[0], "train", dtype=object)
    for label in sorted(set(labels.tolist()), key=str):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        n = idx.size
        if n < 3:
            continue
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        if n_test + n_val >= n:  # keep at least one observation of the label in train
            n_val = max(0, n - 1 - n_test)
        split[idx[:n_test]] = "test"
        split[idx[n_test : n_test + n_val]] = "val"
    return split


def check_split_sizes(split, source: str, kind: str) -> None:
    """Raise :class:`InputError` when a split is too small for training and evaluation.

    Parameters
    ----------
    split
        ``obs["split"]`` values, one per observation (``"train"``, ``"val"``, ``"test"``).
    source
        File named in the message.
    kind
        What the observations are (``"cells"``, ``"samples"``, ``"windows"``).

    Raises
    ------
    InputError
        Fewer than :data:`MIN_PER_SPLIT` observations in a split.
    """
    values = np.asarray(split, dtype=object)
    sizes = {name: int((values == name).sum()) for name in SPLITS}
    if all(sizes[name] >= MIN_PER_SPLIT[name] for name in SPLITS):
        return
    need = ", ".join(f"{n} {name}" for name, n in MIN_PER_SPLIT.items())
    raise InputError(
        f"{source}: {len(values)} {kind} split into {sizes['train']} train, {sizes['val']} val and {sizes['test']} "
        f"test (per label; labels with fewer than 3 {kind} stay in train); training and evaluation need at least "
        f"{need}: use more {kind} or raise split.val_fraction / split.test_fraction"
    )
