"""Training budgets from the data's size (scVI's rule) and the evaluation's cap on cells."""

from __future__ import annotations

import numpy as np
import pytest

from omicsgen.budget import MIN_GENERATOR_STEPS, epoch_budget, gan_epochs, generator_step_budget
from omicsgen.evaluate import evaluation_cells
from omicsgen.train import training_budget


def test_epoch_budget_follows_scvi_and_bounds_cells_seen():
    # scvi-tools: min(400, round(20000 / n_cells * 400))
    assert [epoch_budget(n) for n in (700, 20_000, 100_000, 1_000_000, 10_000_000)] == [400, 400, 80, 8, 1]
    for n in (50_000, 100_000, 1_000_000):
        assert epoch_budget(n) * n == pytest.approx(8e6, rel=0.07)  # cells seen stay about constant
    assert epoch_budget(1_000_000, 3) == 3
    for bad in (0, -1, 2.5, "ten", True):
        with pytest.raises(ValueError, match="max_epochs must be a positive integer or 'auto'"):
            epoch_budget(1000, bad)
    with pytest.raises(ValueError, match="n_train must be positive"):
        epoch_budget(0)


def test_gan_budget_in_generator_steps():
    # 2,000 cells, batches of 64: 32 batches an epoch, 400 epochs, one generator step per 5 batches
    assert generator_step_budget(2000, 64, 5) == 2560 and gan_epochs(2000, 64, 5, 2560) == 400
    # 130 cells would give 3 batches x 400 epochs / 5 = 240 steps: small data get the floor of generator steps
    assert generator_step_budget(130, 64, 5) == MIN_GENERATOR_STEPS == 600
    assert gan_epochs(130, 64, 5, 600) == 1000
    # large data: the same passes over the data as the VAE's budget, so steps grow sublinearly
    assert generator_step_budget(1_000_000, 64, 5) == 8 * 15625 // 5
    assert generator_step_budget(488, 64, 5, 100) == 100 and gan_epochs(488, 64, 5, 100) == 63
    with pytest.raises(ValueError, match="max_steps must be a positive integer or 'auto'"):
        generator_step_budget(488, 64, 5, 0)


def test_training_budget_caps_kl_warmup_at_half_the_epochs():
    params = {"max_epochs": "auto", "patience": 30, "kl_warmup_epochs": 50}
    assert training_budget("vae", 1_000_000, params) == {
        "rule": "auto",
        "max_epochs": 8,
        "patience": 30,
        "kl_warmup_epochs": 4,
    }
    assert training_budget("vae", 700, params)["kl_warmup_epochs"] == 50
    gan = training_budget("gan", 488, {"max_steps": "auto", "n_critic": 5, "batch_size": 64})
    assert gan == {"rule": "auto", "generator_steps": 640, "max_epochs": 400}


def test_evaluation_cells_subsample_both_splits_by_one_fraction_per_label():
    split = np.array(["train"] * 900 + ["val"] * 50 + ["test"] * 300)
    labels = np.array((["a"] * 3 + ["b"]) * 225 + ["a"] * 50 + ["a", "b", "b"] * 100)
    kept = evaluation_cells(split, labels, 100, seed=0)  # a third of the test cells
    counts = {
        (s, lab): int(((split[kept] == s) & (labels[kept] == lab)).sum()) for s in ("train", "test") for lab in "ab"
    }
    assert counts == {("train", "a"): 225, ("train", "b"): 75, ("test", "a"): 34, ("test", "b"): 67}
    assert not (split[kept] == "val").any() and np.all(np.diff(kept) > 0)
    np.testing.assert_array_equal(kept, evaluation_cells(split, labels, 100, seed=0))  # from the seed
    assert not np.array_equal(kept, evaluation_cells(split, labels, 100, seed=1))
    every = evaluation_cells(split, labels, 300, seed=0)
    np.testing.assert_array_equal(every, np.arange(len(split)))  # at or under the cap: every row, validation too


def test_cluster_requests_of_the_site_ordered_families_cover_their_measured_chromosome_scale_cost():
    from omicsgen.registry import training_resources

    # benchmarks/README.md, genotype_scale.py on 2 threads, 1,998 genomes: peak RSS above imports
    # and the default budget's time (ar: 400 epochs of 80.6 s at 100k sites; hmm: 40 EM
    # iterations of 365.5 s at 50k and 719.0 s at 100k); the imports take under 1,000 MB
    measured = {
        ("ar", 100_000): (2_039, 400 * 80.6 / 60),
        ("hmm", 50_000): (1_229, 40 * 365.5 / 60),
        ("hmm", 100_000): (2_163, 40 * 719.0 / 60),
    }
    for (family, sites), (peak_mb, minutes) in measured.items():
        mem_mb, runtime = training_resources(family, 1_998, sites)
        assert mem_mb >= peak_mb + 1_000 and runtime >= minutes
        assert runtime < 2 * minutes  # not a blanket 24 h
    assert training_resources("hmm", 379, 2_000) == (2_080, 62)  # eur_1kg: the base request
    # one thread: twice the time; the config's budget over the default: 2.5x the EM iterations,
    # 4x the cluster pairs; an integer ar budget of 100 epochs: a quarter
    default = training_resources("hmm", 1_998, 50_000)[1] - 60
    assert training_resources("hmm", 1_998, 50_000, threads=1)[1] - 60 == pytest.approx(2 * default, abs=1)
    scaled = training_resources("hmm", 1_998, 50_000, params={"max_epochs": 100, "n_clusters": 32})[1]
    assert scaled == 1_440  # 10x the default's 279 minutes over the hour: capped at 24 h
    ar = training_resources("ar", 1_998, 100_000, params={"max_epochs": 100, "context": "auto"})[1] - 60
    assert ar == pytest.approx((training_resources("ar", 1_998, 100_000)[1] - 60) / 4, abs=1)
    assert training_resources("ar", 10**5, 10**6)[1] == 1_440  # at most 24 h
    assert training_resources("vae", 1_998, 100_000) is None  # the file-size rule
