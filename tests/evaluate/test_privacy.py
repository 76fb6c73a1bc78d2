"""Privacy metrics with known answers on real cells: held-out real cells as a perfect generator, and
training cells returned as "synthetic" (a generator that copies)."""

from __future__ import annotations

import numpy as np
import pytest

from omicsgen.evaluate.privacy import (
    AdversarialAccuracy,
    aats,
    adversarial_accuracies,
    membership_inference_auroc,
    privacy_loss,
)
from omicsgen.preprocess import metric_scale


@pytest.fixture(scope="module")
def splits(prepared):
    """log1p-normalised training and held-out pbmc68k cells, 130 each (seeded draw)."""
    X = metric_scale(prepared.X, "counts")
    split = prepared.obs["split"].to_numpy()
    rng = np.random.default_rng(0)
    train = X[rng.choice(np.flatnonzero(split == "train"), size=260, replace=False)]
    test = X[split == "test"][:130]
    return train[:130], train[130:], test


def test_a_perfect_generator_leaks_nothing(splits):
    members, other_train, test = splits
    # "synthetic" = real training cells the attack does not target: the same population, no member
    aa_truth, aa_syn = adversarial_accuracies(test, other_train)
    assert abs(aa_truth - 0.5) < 0.12 and abs(aa_syn - 0.5) < 0.12
    assert aats(test, other_train) == pytest.approx(0.5 * (aa_truth + aa_syn))
    assert abs(membership_inference_auroc(members, test, other_train) - 0.5) < 0.12


def test_a_copying_generator_is_caught(splits):
    members, _, test = splits
    copies = members.copy()
    assert membership_inference_auroc(members, test, copies) == pytest.approx(1.0)
    # against the training set both components collapse to 0; against held-out cells they stay near 0.5
    assert adversarial_accuracies(members, copies) == (0.0, 0.0)
    assert privacy_loss(members, test, copies) > 0.35
    # swapping members and non-members turns the attack around
    assert membership_inference_auroc(test, members, copies) == pytest.approx(0.0)


def test_membership_inference_equals_a_direct_computation(splits):
    """The attack by hand: distances of every candidate to every synthetic cell, and the AUROC as the
    Mann-Whitney probability that a member lies closer than a non-member (ties count half)."""
    from scipy.spatial.distance import cdist

    members, other_train, test = splits
    members, test, synthetic = members[:40], test[:40], other_train[:60]
    closest_member, closest_other = cdist(members, synthetic).min(axis=1), cdist(test, synthetic).min(axis=1)
    closer = (closest_member[:, None] < closest_other[None, :]).mean()
    ties = (closest_member[:, None] == closest_other[None, :]).mean()
    assert membership_inference_auroc(members, test, synthetic) == pytest.approx(closer + 0.5 * ties, abs=1e-12)
    assert membership_inference_auroc(members, test, synthetic) == pytest.approx(0.53125)  # stored reference


def test_adversarial_accuracy_on_resamples(splits):
    """A resample is scored on the samples it holds: a permutation changes nothing, a copy stays a copy
    of its resampled original, and a sample's own repeats are not its neighbours."""
    members, other_train, test = splits
    accuracy = AdversarialAccuracy(test, other_train)
    rng = np.random.default_rng(0)
    assert (
        accuracy(rng.permutation(130), rng.permutation(130)) == accuracy() == adversarial_accuracies(test, other_train)
    )
    rows = rng.integers(0, 130, 130)  # with repeats
    assert AdversarialAccuracy(members, members.copy())(rows, rows) == (0.0, 0.0)
    truth, syn = accuracy(rows, rng.integers(0, 130, 130))
    assert 0.25 < truth < 0.75 and 0.25 < syn < 0.75
