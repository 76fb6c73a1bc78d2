import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from omicsgen.evaluate import (
    detection_auroc,
    evaluate_model,
    knn_accuracy,
    mean_correlation,
    mmd,
    silhouette,
    variance_correlation,
    zero_fraction_correlation,
)
from omicsgen.evaluate.fidelity import matched_zero_fractions, zero_fractions
from omicsgen.evaluate.metrics import GROUPS
from omicsgen.evaluate.sampling import matched
from omicsgen.latent import embed, pca_latent
from omicsgen.preprocess import log1p_normalized
from omicsgen.synthesize import synthesize_marginals


@pytest.fixture(scope="module")
def expression(prepared):
    return log1p_normalized(prepared.X, "counts")


def test_knn_accuracy_real_labels_beats_shuffled(prepared, rng):
    latent, _ = pca_latent(prepared, 10, seed=0)
    labels = prepared.obs["bulk_labels"].astype(str).to_numpy()
    split = prepared.obs["split"].astype(str).to_numpy()
    acc = knn_accuracy(latent, labels, split)
    shuffled = knn_accuracy(latent, rng.permutation(labels), split)
    assert 0.6 < acc <= 1.0
    assert shuffled < acc - 0.2


def test_silhouette_separated_vs_mixed(rng):
    a = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(10, 1, (50, 2))]
    labels = np.r_[np.zeros(50), np.ones(50)]
    assert silhouette(a, labels) > 0.8
    assert abs(silhouette(a, rng.permutation(labels))) < 0.1


def test_fidelity_real_vs_real_and_vs_noise(prepared, expression, rng):
    test = prepared.obs["split"].to_numpy() == "test"
    train = prepared.obs["split"].to_numpy() == "train"
    real_a, real_b = expression[test], expression[train]
    noise = rng.permutation(real_b.ravel()).reshape(real_b.shape)  # same values, structure destroyed
    assert mean_correlation(real_a, real_b) > 0.95
    assert variance_correlation(real_a, real_b) > 0.9
    assert mean_correlation(real_a, noise) < 0.3
    assert mmd(real_a, real_b) < 0.05 < mmd(real_a, noise)


def test_zero_fractions_real_halves_agree_and_extra_zeros_show(prepared, expression, rng):
    split = prepared.obs["split"].to_numpy()
    real_a, real_b = expression[split == "test"], expression[split == "train"]
    assert zero_fractions(real_a).shape == (real_a.shape[1],) and 0.5 < zero_fractions(real_a).mean() < 0.9
    same = zero_fraction_correlation(real_a, real_b)
    assert same > 0.97
    # 60 genes with half of their values set to 0: the zero inflation a misfit model would add
    inflated = real_b.copy()
    genes = rng.choice(real_b.shape[1], 60, replace=False)
    inflated[:, genes] *= rng.random((len(real_b), 60)) > 0.5
    assert zero_fraction_correlation(real_a, inflated) < same - 0.03
    # every gene the same fraction of zeros (values shuffled across genes): no agreement left
    shuffled = rng.permutation(real_b.ravel()).reshape(real_b.shape)
    assert abs(zero_fraction_correlation(real_a, shuffled)) < 0.3
    assert np.isnan(zero_fraction_correlation(real_a, real_b + 1.0))  # no zeros on one side


def test_matched_zero_fractions_weigh_labels_as_the_real_cells():
    # label a: gene 0 always zero; label b: never. Real 3 a : 1 b, synthetic 1 a : 3 b, same cells per label
    a, b = np.array([[0.0, 1.0]]), np.array([[2.0, 1.0]])
    real, real_labels = np.vstack([a, a, a, b]), np.array(["a", "a", "a", "b"])
    synthetic, synthetic_labels = np.vstack([a, b, b, b, b]), np.array(["a", "b", "b", "b", "c"])
    np.testing.assert_allclose([zero_fractions(real)[0], zero_fractions(synthetic)[0]], [0.75, 0.2])  # composition
    matched_real, matched_synthetic = matched_zero_fractions(real, synthetic, real_labels, synthetic_labels)
    np.testing.assert_allclose(matched_real, [0.75, 0.0])
    np.testing.assert_allclose(matched_synthetic, [0.75, 0.0])  # label c, absent from the real cells, left out
    np.testing.assert_allclose(zero_fractions(sparse.csr_matrix(synthetic)), zero_fractions(synthetic))  # no dense copy
    with pytest.raises(ValueError, match="share no label"):
        matched_zero_fractions(real, synthetic, real_labels, np.full(len(synthetic), "z"))


def test_detection_auroc_real_vs_real_near_half(prepared, expression):
    split = prepared.obs["split"].to_numpy()
    real_a, real_b = expression[split == "test"][:100], expression[split == "train"][:100]
    auc_same = detection_auroc(real_a, real_b, n_estimators=100, seed=0, threads=2)
    shifted = real_b + 1.0
    auc_shift = detection_auroc(real_a, shifted, n_estimators=100, seed=0, threads=2)
    assert 0.3 < auc_same < 0.7
    assert auc_shift > 0.95


def test_matched():
    real = np.array(["a"] * 5 + ["b"] * 2)
    synth = np.array(["a"] * 3 + ["b"] * 10 + ["c"] * 4)
    train = np.array(["a"] * 9 + ["b"] * 9 + ["c"] * 9)
    sets = matched({"real": real, "synthetic": synth, "train": train}, seed=0)
    assert {len(v) for v in sets.values()} == {5}
    assert sorted(real[sets["real"]]) == sorted(synth[sets["synthetic"]]) == sorted(train[sets["train"]])
    assert sorted(real[sets["real"]]) == ["a"] * 3 + ["b"] * 2  # c is not in every pool
    assert len(set(sets["train"].tolist())) == 5  # without replacement


def test_evaluate_model_rows(prepared):
    latent = embed(prepared, *pca_latent(prepared, 6, seed=0), "pca", seed=0)
    synth = synthesize_marginals(prepared, 20, seed=0)
    table, per_label = evaluate_model(
        prepared, dataset="pbmc68k", model="m", latent=latent, synthetic=synth, detection_trees=50, threads=2
    )
    assert list(table.columns) == ["dataset", "model", "metric", "value", "low", "high"]
    # the augmentation experiment per label, on the reference half of the test split
    test_labels = prepared.obs.loc[prepared.obs["split"] == "test", "bulk_labels"].astype(str)
    assert set(per_label["label"]) <= set(test_labels) and per_label["n_test"].sum() <= (len(test_labels) + 10) // 2
    assert (per_label["n_synthetic"] == 20).all() and (per_label["model"] == "m").all()
    for column in ("recall_real", "recall_augmented", "recall_synthetic_only"):
        assert per_label[column].between(0, 1).all()
    rare = per_label[per_label["rare"]]
    assert set(rare["label"]) >= {"CD34+"}  # 13 of 700 cells
    # no rare label has 10 test cells in the reference half: none is judged, and the gain is undefined
    assert not rare["judged"].any() and per_label["judged"].equals(per_label["n_test"] >= 10)
    values = table.set_index("metric")["value"]
    assert np.isnan(values["augmentation_recall_gain"])
    # every interval holds its estimate
    finite = table.dropna(subset=["low", "high"])
    assert len(finite) == len(table) - 1
    assert ((finite["low"] <= finite["value"] + 1e-12) & (finite["value"] <= finite["high"] + 1e-12)).all()
    # every registered metric but the genotype ones
    registered = {m for names in GROUPS.values() for m in names}
    assert set(table["metric"]) == registered - {"af_correlation", "ld_correlation", "pca_wasserstein"} - {
        "pairwise_distance_wasserstein"
    }
    values = table.set_index("metric")["value"]
    assert 0 <= values["knn_accuracy"] <= 1 and -1 <= values["silhouette"] <= 1
    assert 0 <= values["detection_auroc"] <= 1 and values["reconstruction_error"] > 0
    assert 0 <= values["aats"] <= 1 and -1 <= values["privacy_loss"] <= 1
    assert values["dcr"] > 0 and values["dcr_holdout"] > 0
    # the marginals baseline copies each gene's value from a training cell, rarely a whole cell
    assert values["n_identical_to_train"] == 0


def test_unlabelled_dataset_end_to_end(pbmc, tmp_path):
    """No label column: one group for split and synthesis, no label metrics, Gaussian on log1p values."""
    from omicsgen.latent import encoder_latent
    from omicsgen.preprocess import prepare_scrna
    from omicsgen.synthesize import synthesize
    from omicsgen.train import train_model
    from tests.conftest import FAST_VAE

    data = prepare_scrna(pbmc, "x", layer=None, label_key=None, n_top_genes=200, seed=0)
    assert data.uns["omicsgen"]["likelihood"] == "gaussian" and list(data.obs.columns) == ["split"]
    model = train_model(data, "vae", tmp_path / "m.ckpt", tmp_path / "h.csv", params=FAST_VAE, seed=0, threads=2)
    latent = embed(data, *encoder_latent(data, model), "vae", seed=0)
    synth = synthesize(data, model, "vae", n_per_label=60, seed=0)
    assert synth.n_obs == 60 and np.isfinite(synth.X.toarray()).all()
    table, per_label = evaluate_model(
        data, dataset="d", model="vae", latent=latent, synthetic=synth, detection_trees=50, threads=2
    )
    assert per_label.empty
    assert "knn_accuracy" not in set(table["metric"]) and "detection_auroc" in set(table["metric"])


def test_aats_copies_vs_independent_draws(expression, prepared):
    from omicsgen.evaluate import aats, distance_to_closest_record, n_identical, privacy_loss

    split = prepared.obs["split"].to_numpy()
    train, test = expression[split == "train"][:140], expression[split == "test"][:140]
    other = expression[split == "train"][140:280]
    # fresh samples of the same population: about 0.5; copies of the real set: 0 (overfitting)
    assert 0.35 < aats(test, other) < 0.65
    assert aats(train, train.copy()) == 0.0
    # a "generator" that copies its training set leaks it: positive privacy loss
    assert privacy_loss(train, test, train.copy()) > 0.3
    query = np.vstack([train[:5], test[:5]])
    dcr = distance_to_closest_record(train, query)
    assert np.all(dcr[:5] < 1e-3) and np.all(dcr[5:] > 1)
    assert n_identical(train, query) == 5
    with pytest.raises(ValueError, match="equal size"):
        aats(train, test[:10])


def test_better_and_direction():
    from omicsgen.evaluate import better, direction

    assert better("knn_accuracy", 0.8, 0.7) and not better("mmd", 0.2, 0.1)
    assert better("detection_auroc", 0.45, 0.6) and not better("aats", 0.8, 0.55)
    assert direction("aats") == "closer to 0.5" and direction("mmd") == "closer to 0"
    assert better("mmd", -0.001, 0.01) and better("mmd", 0.001, -0.01)  # noise below 0 is not better than 0


def test_utility_tstr_and_augmentation(prepared, expression, rng):
    from omicsgen.evaluate import rare_labels
    from omicsgen.evaluate.utility import utility_predictions, utility_scores

    split = prepared.obs["split"].to_numpy()
    labels = prepared.obs["bulk_labels"].astype(str).to_numpy()
    train, test = split == "train", split == "test"
    rare = rare_labels(labels[train])
    assert rare[:2] == ["CD4+/CD45RA+/CD25- Naive T", "CD34+"]  # 5 and 9 training cells of 488
    # "synthetic" cells that are real training cells: TSTR equals the real-trained score
    X, y = expression[train], labels[train]
    rare_rows = np.isin(y, rare)
    same = utility_predictions(X, y, expression[test], X, y, X[rare_rows], y[rare_rows], X, y)
    scores = utility_scores(labels[test], same, rare)
    assert scores["tstr_accuracy"] == scores["trtr_accuracy"] > 0.6
    np.testing.assert_array_equal(same["synthetic"], same["real"])
    # synthetic cells with scrambled labels: TSTR near chance
    scrambled = rng.permutation(y)
    scrambled_run = utility_predictions(X, y, expression[test], X, scrambled, X[:0], y[:0], X, y)
    noise = utility_scores(labels[test], scrambled_run, rare)
    assert noise["tstr_accuracy"] < scores["tstr_accuracy"] - 0.3
    assert noise["augmented_macro_f1"] == noise["real_macro_f1"]  # nothing added: the real classifier
    assert np.isnan(utility_scores(labels[test], same, [])["augmentation_recall_gain"])


def test_comparison_table_round_trip():
    from omicsgen.evaluate import comparison_table, tidy_metrics

    tidy = pd.DataFrame(
        {
            "dataset": ["d1", "d1", "d1", "d1", "d2"],
            "model": ["vae", "vae", "pca", "gan", "vae"],
            "metric": ["knn_accuracy", "mmd", "knn_accuracy", "mmd", "mmd"],
            "value": [0.8, 0.2, 0.7, 0.3, 0.1],
            "low": [0.7, 0.1, 0.6, np.nan, 0.0],
            "high": [0.9, 0.3, 0.8, np.nan, 0.2],
        }
    )
    wide = comparison_table(tidy)
    assert list(wide.columns) == [
        "dataset", "model", "knn_accuracy", "knn_accuracy_low", "knn_accuracy_high", "mmd", "mmd_low", "mmd_high"
    ]  # fmt: skip
    assert list(zip(wide["dataset"], wide["model"])) == [("d1", "vae"), ("d1", "pca"), ("d1", "gan"), ("d2", "vae")]
    assert np.isnan(wide.loc[2, "knn_accuracy"]) and wide.loc[0, "mmd"] == 0.2 and wide.loc[0, "mmd_high"] == 0.3
    pd.testing.assert_frame_equal(tidy_metrics(wide), tidy)
