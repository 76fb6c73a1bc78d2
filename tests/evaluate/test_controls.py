"""Known answers of the evaluation: the real and copy controls on real pbmc68k cells and EUR genotypes,
stored reference values, and which cells evaluate_model reads."""

from __future__ import annotations

import numpy as np
import pytest

from omicsgen.evaluate import evaluate_model
from omicsgen.evaluate.fidelity import gene_correlation, mmd
from omicsgen.evaluate.metrics import compare
from omicsgen.evaluate.sampling import bootstrap_intervals, centred_interval, reference_halves
from omicsgen.preprocess import prepare_genotypes
from omicsgen.synthesize import synthesize_marginals
from tests.conftest import REPO

FAST = {"detection_trees": 100, "threads": 2, "seed": 0}


def _rows(table):
    return {m: (v, lo, hi) for m, v, lo, hi in table[["metric", "value", "low", "high"]].itertuples(index=False)}


@pytest.fixture(scope="module")
def controls(prepared):
    return {
        name: _rows(evaluate_model(prepared, dataset="p", model=name, control=name, **FAST)[0])
        for name in ("real", "copy")
    }


@pytest.fixture(scope="module")
def marginals(prepared):
    synthetic = synthesize_marginals(prepared, 100, seed=0)
    return _rows(evaluate_model(prepared, dataset="p", model="marginals", synthetic=synthetic, **FAST)[0])


def test_held_out_real_cells_score_as_a_perfect_generator(controls):
    real = controls["real"]
    for metric in ("detection_auroc", "aa_truth", "aa_syn", "aats", "membership_inference_auroc"):
        value, low, high = real[metric]
        assert low <= 0.5 <= high, (metric, real[metric])
        assert high - low < 0.4  # an interval, not the whole range
    # privacy loss is the noisiest (a difference of two AATS on 69 cells each): about 0.14 here, under the copy's
    assert real["privacy_loss"][2] < controls["copy"]["privacy_loss"][1]
    assert real["n_identical_to_train"][0] == 0


def test_training_cells_returned_as_synthetic_are_flagged(controls, prepared):
    copy = controls["copy"]
    n_compared = int(evaluate_model(prepared, dataset="p", model="copy", control="copy", **FAST)[1]["n_test"].sum())
    assert copy["membership_inference_auroc"][0] == copy["membership_inference_auroc"][2] == 1.0  # clipped at 1
    assert copy["membership_inference_auroc"][1] > 0.85
    assert copy["n_identical_to_train"][0] == n_compared and copy["dcr"][0] == 0.0  # every copy is a training cell
    # privacy loss at its full value: AA_TS about 0.5 against held-out cells, 0 against the copies
    assert copy["privacy_loss"][0] > 0.4 and copy["privacy_loss"][1] > 0.3
    # the copies are resampled with the training cells they copy: privacy loss and AATS move together
    assert copy["privacy_loss"] == pytest.approx(copy["aats"], abs=1e-12)
    assert (
        compare(
            "membership_inference_auroc",
            copy["membership_inference_auroc"],
            controls["real"]["membership_inference_auroc"],
        )
        == "worse"
    )


def test_independent_marginals_lose_gene_gene_correlation_to_the_real_control(controls, marginals):
    assert marginals["gene_correlation"][2] < 0.1 < 0.2 < controls["real"]["gene_correlation"][1]
    assert compare("gene_correlation", marginals["gene_correlation"], controls["real"]["gene_correlation"]) == "worse"
    # per-gene means, which the marginals sampler keeps, are indistinguishable from the control's
    assert (
        compare("mean_correlation", marginals["mean_correlation"], controls["real"]["mean_correlation"])
        == "indistinguishable"
    )


def test_independent_marginals_lose_ld_to_the_real_control():
    genotypes = prepare_genotypes(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz", seed=0)
    real = _rows(evaluate_model(genotypes, dataset="eur", model="real", control="real", **FAST)[0])
    synthetic = synthesize_marginals(genotypes, 60, seed=0)
    base = _rows(evaluate_model(genotypes, dataset="eur", model="marginals", synthetic=synthetic, **FAST)[0])
    assert compare("ld_correlation", base["ld_correlation"], real["ld_correlation"]) == "worse"
    assert real["ld_correlation"][1] > 0.5 and base["ld_correlation"][2] < 0.3
    assert real["af_correlation"][0] > 0.9  # the ceiling of AF agreement between two halves of the test split


def test_swapping_train_and_test_changes_the_result_and_validation_cells_are_not_read(prepared):
    reference = evaluate_model(prepared, dataset="p", model="copy", control="copy", **FAST)[0]
    swapped = prepared.copy()
    split = swapped.obs["split"].astype(str)
    swapped.obs["split"] = split.replace({"train": "test", "test": "train"}).astype("category")
    other = evaluate_model(swapped, dataset="p", model="copy", control="copy", **FAST)[0]
    assert not np.allclose(reference["value"], other["value"], equal_nan=True)
    # validation cells are used by no metric: scrambling them changes nothing
    scrambled = prepared.copy()
    val = np.flatnonzero(split == "val")
    scrambled.X[val] = scrambled.X[val[::-1]] * 2
    again = evaluate_model(scrambled, dataset="p", model="copy", control="copy", **FAST)[0]
    np.testing.assert_array_equal(
        again[["value", "low", "high"]].to_numpy(), reference[["value", "low", "high"]].to_numpy()
    )


def test_reference_halves_keep_samples_together():
    split = np.array(["test"] * 8 + ["train"] * 4)
    labels = np.array(["a"] * 6 + ["b"] * 2 + ["a"] * 4)
    units = np.array(["s1", "s1", "s2", "s2", "s3", "s3", "s4", "s4", "t1", "t1", "t2", "t2"])  # haplotype pairs
    reference, holdout = reference_halves(split, labels, units, seed=0)
    assert len(set(reference) & set(holdout)) == 0 and sorted([*reference, *holdout]) == list(range(8))
    for half in (reference, holdout):
        assert all((units[half] == u).sum() == 2 for u in set(units[half]))  # both haplotypes of a sample
    assert sorted(set(units[reference]) | set(units[holdout])) == ["s1", "s2", "s3", "s4"]
    assert len(set(units[reference])) == 3  # ceil(3 / 2) = 2 samples of label a, ceil(1 / 2) = 1 of b


def test_stored_reference_values():
    """Metrics on fixed inputs: a change of definition (bandwidth, estimator, interval) fails here."""
    rng = np.random.default_rng(42)
    a, b = rng.normal(0, 1, (40, 5)), rng.normal(0.5, 1, (30, 5))
    assert mmd(a, b, n_components=5) == pytest.approx(0.0943485, abs=1e-6)
    # one set against itself: 2 / (n - 1) * (mean kernel - 1), below 0
    assert mmd(a, a[::-1], n_components=5) == pytest.approx(-0.0204769, abs=1e-6)
    assert gene_correlation(a, b) == pytest.approx(0.3271769, abs=1e-6)
    assert centred_interval(1.0, [0.5, 0.6, 0.7, 0.8, 0.9]) == pytest.approx((0.81, 1.19))
    labels = np.array(["x"] * 20 + ["y"] * 20)
    values = np.r_[np.zeros(20), np.ones(20)] + np.linspace(0, 1, 40)
    (estimate,) = bootstrap_intervals(lambda i: {"mean": values[i].mean()}, [labels], reps=200, seed=0).values()
    assert estimate == pytest.approx((1.0, 0.9608494, 1.0506571), abs=1e-6)


def test_controls_take_the_generators_sizes_and_every_row_the_same_reference_cells(prepared):
    """With 5 synthetic cells per label, a control is capped at 5 per label too; the real-trained classifier
    (trained on as many training cells per label), tested on the reference cells, then scores the same for
    every row."""
    small = synthesize_marginals(prepared, 5, seed=0)
    rows = {
        name: evaluate_model(prepared, dataset="p", model=name, synthetic=small, control=control, **FAST)
        for name, control in (("marginals", None), ("real", "real"), ("copy", "copy"))
    }
    trtr = {name: _rows(table)["trtr_accuracy"] for name, (table, _) in rows.items()}
    assert trtr["marginals"] == trtr["real"] == trtr["copy"]
    # TRTR trains on training cells matched to the synthetic set: the copy control's TSTR set is those cells
    assert _rows(rows["copy"][0])["tstr_accuracy"] == trtr["copy"]
    for _, per_label in rows.values():
        assert (per_label["n_test"] <= 5).all()
    uncapped = _rows(evaluate_model(prepared, dataset="p", model="real", control="real", **FAST)[0])
    assert uncapped["trtr_accuracy"] != trtr["real"]
