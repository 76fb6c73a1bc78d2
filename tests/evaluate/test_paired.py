"""Paired comparisons: which evaluations share resamples, and what their difference's interval says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsgen.evaluate import evaluate_model
from omicsgen.evaluate.metrics import compare
from omicsgen.evaluate.paired import paired_comparisons, paired_verdict, replicate_table
from omicsgen.evaluate.sampling import centred_interval
from omicsgen.preprocess import prepare_genotypes
from omicsgen.synthesize import synthesize_marginals
from tests.conftest import REPO

FAST = {"detection_trees": 50, "threads": 2, "n_bootstrap": 100}


@pytest.fixture(scope="module")
def eur():
    """Real EUR genotypes, the marginals sampler's genomes and the evaluations of both and the real control."""
    genotypes = prepare_genotypes(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz", seed=0)
    synthetic = synthesize_marginals(genotypes, 60, seed=0)
    out = {}
    for name, seed, control in (("marginals", 0, None), ("real", 0, "real"), ("other_seed", 1, "real")):
        replicates: dict = {}
        table, _ = evaluate_model(
            genotypes,
            dataset="eur",
            model=name,
            synthetic=synthetic,
            control=control,
            seed=seed,
            replicates=replicates,
            **FAST,
        )
        out[name] = (table, replicates)
    return out


def test_evaluations_on_one_reference_set_pair(eur):
    (marginals, m_reps), r_reps, other = eur["marginals"], eur["real"][1], eur["other_seed"][1]
    assert set(m_reps) == set(marginals["metric"])  # every metric of this table has its replicates
    for metric, (key, values) in m_reps.items():
        assert values.shape == (FAST["n_bootstrap"],) and np.isfinite(values).mean() > 0.5, metric
        # the real control at the generator's sizes is compared with the same reference genomes
        assert r_reps[metric][0] == key
        # another seed draws another reference half and other resamples: no pairing
        assert other[metric][0] != key
    # the interval a metric's table row gives is the replicates' (re-centred) interval
    row = marginals.set_index("metric").loc["pca_wasserstein"]
    assert (row["low"], row["high"]) == pytest.approx(centred_interval(row["value"], m_reps["pca_wasserstein"][1]))


def test_paired_difference_of_the_real_control_and_the_marginals_sampler(eur):
    tables = [eur[name][0] for name in ("marginals", "real", "other_seed")]
    replicates = pd.concat([replicate_table("eur", name, eur[name][1]) for name in ("marginals", "real", "other_seed")])
    comparisons = paired_comparisons(pd.concat(tables), replicates)
    pairs = set(zip(comparisons["model"], comparisons["other"]))
    assert pairs == {("real", "marginals"), ("marginals", "real")}  # other_seed pairs with neither
    by = comparisons.set_index(["model", "other", "metric"])
    ld = by.loc[("real", "marginals", "ld_correlation")]
    assert ld["verdict"] == "better" and ld["low"] > 0.3  # independent sites carry no LD
    assert by.loc[("marginals", "real", "ld_correlation"), "verdict"] == "worse"
    assert by.loc[("marginals", "real", "ld_correlation"), "difference"] == pytest.approx(-ld["difference"])
    # both keep allele frequencies: their difference's interval holds 0
    assert by.loc[("real", "marginals", "af_correlation"), "verdict"] == "indistinguishable"
    # here the two share their reference resamples (positively correlated replicates): wherever
    # their intervals do not overlap, the paired verdict agrees (not guaranteed in general)
    values = pd.concat(tables[:2]).set_index(["model", "metric"])[["value", "low", "high"]]
    for (model, other, metric), row in by.iterrows():
        by_overlap = compare(metric, tuple(values.loc[(model, metric)]), tuple(values.loc[(other, metric)]))
        if by_overlap in ("better", "worse"):
            assert row["verdict"] == by_overlap, metric


def test_paired_verdict_sees_a_gain_that_overlapping_intervals_hide():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 1.0, 200)  # which reference genomes a resample holds moves both models alike
    a, b = 3.0 + shared + rng.normal(0, 0.1, 200), 3.5 + shared + rng.normal(0, 0.1, 200)
    a_interval, b_interval = (3.0, *centred_interval(3.0, a)), (3.5, *centred_interval(3.5, b))
    assert compare("pca_wasserstein", a_interval, b_interval) == "indistinguishable"
    difference, low, high, verdict = paired_verdict("pca_wasserstein", 3.0, 3.5, a, b)
    assert difference == -0.5 and high < 0 and verdict == "better"  # lower is better
    assert paired_verdict("pca_wasserstein", 3.5, 3.0, b, a)[3] == "worse"
    assert paired_verdict("pca_wasserstein", 3.0, 3.0, a, a)[1:] == (0.0, 0.0, "indistinguishable")
    # a target metric is judged by the distance to its target: 0.45 and 0.55 are equally far from 0.5
    noise = rng.normal(0, 0.02, 200)
    assert paired_verdict("aa_truth", 0.45, 0.55, 0.45 - noise, 0.55 + noise)[3] == "indistinguishable"
    assert paired_verdict("aa_truth", 0.52, 0.7, 0.52 + noise, 0.7 + noise)[3] == "better"
    with pytest.raises(ValueError, match="do not pair"):
        paired_verdict("pca_wasserstein", 3.0, 3.5, a, b[:10])
