import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from omicsgen import InputError
from omicsgen.io import read_h5ad, write_h5ad
from omicsgen.preprocess import log1p_normalized, prepare_scrna, stratified_split


def test_demo_counts_are_integers_matching_raw(pbmc):
    counts = pbmc.layers["counts"].toarray()
    assert pbmc.shape == (700, 765)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    # log1p-normalising the counts by the shipped n_counts gives back raw.X
    rebuilt = np.log1p(counts / pbmc.obs["n_counts"].to_numpy()[:, None] * 1e4)
    assert np.abs(rebuilt - pbmc.X.toarray()).max() < 0.05


def test_prepare_counts_contract(prepared):
    assert prepared.shape == (700, 300)
    assert prepared.X.dtype == np.float32
    info = prepared.uns["omicsgen"]
    assert (info["modality"], info["encoding"], info["likelihood"]) == ("scrna", "counts", "nb")
    assert info["label_key"] == "bulk_labels"
    assert set(prepared.obs["split"].cat.categories) == {"train", "val", "test"}
    counts = prepared.obs["split"].value_counts()
    assert counts["train"] > counts["test"] > counts["val"] > 0
    # every label, even the rarest (8 cells), is present in train and test
    table = prepared.obs.groupby(["bulk_labels", "split"], observed=False).size().unstack()
    assert (table["train"] > 0).all() and (table["test"] > 0).all()


def test_hvg_selection_keeps_variable_genes(pbmc, prepared):
    # kept genes are more dispersed (variance / mean of log1p-normalised values) than dropped ones
    kept = set(prepared.var_names)
    expr = log1p_normalized(pbmc.layers["counts"], "counts")
    var = expr.var(axis=0) / (expr.mean(axis=0) + 1e-6)
    mask = np.array([g in kept for g in pbmc.var_names])
    assert mask.sum() == 300
    assert var[mask].mean() > 1.2 * var[~mask].mean()


def test_all_genes_kept_when_fewer_than_n_top(pbmc):
    out = prepare_scrna(pbmc, "x", layer="counts", label_key="bulk_labels", n_top_genes=5000)
    assert out.n_vars == pbmc.n_vars


def test_log_normalised_input_gets_gaussian(pbmc):
    out = prepare_scrna(pbmc, "x", layer=None, label_key="bulk_labels", n_top_genes=200)
    assert out.uns["omicsgen"]["likelihood"] == "gaussian"
    assert out.uns["omicsgen"]["encoding"] == "log1p"


def test_split_is_seeded(pbmc):
    a = prepare_scrna(pbmc, "x", layer="counts", label_key="bulk_labels", n_top_genes=100, seed=3)
    b = prepare_scrna(pbmc, "x", layer="counts", label_key="bulk_labels", n_top_genes=100, seed=3)
    c = prepare_scrna(pbmc, "x", layer="counts", label_key="bulk_labels", n_top_genes=100, seed=4)
    assert (a.obs["split"] == b.obs["split"]).all()
    assert (a.obs["split"] != c.obs["split"]).any()


def test_stratified_split_rare_labels():
    labels = np.array(["a"] * 100 + ["b"] * 8 + ["c"] * 2 + ["d"])
    split = stratified_split(labels, 0.1, 0.2, seed=0)
    assert (split[labels == "a"] == "test").sum() == 20
    assert (split[labels == "b"] == "test").sum() == 2
    assert set(split[labels == "c"]) == {"train"} and split[labels == "d"][0] == "train"
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(labels, 0.6, 0.5, seed=0)


def test_log1p_normalized_matches_scanpy(pbmc):
    import scanpy as sc

    ref = ad.AnnData(pbmc.layers["counts"].copy())
    sc.pp.normalize_total(ref, target_sum=1e4)
    sc.pp.log1p(ref)
    np.testing.assert_allclose(log1p_normalized(pbmc.layers["counts"], "counts"), ref.X.toarray(), rtol=1e-5, atol=1e-5)


# --- bad input ---------------------------------------------------------------------------


def _counts_copy(pbmc):
    bad = pbmc.copy()
    bad.layers["counts"] = pbmc.layers["counts"].toarray()
    return bad


def test_nan_is_rejected_with_cell_and_gene(pbmc):
    bad = _counts_copy(pbmc)
    bad.layers["counts"][5, 7] = np.nan
    with pytest.raises(InputError, match=rf"bad.h5ad: NaN .* cell '{bad.obs_names[5]}', gene '{bad.var_names[7]}'"):
        prepare_scrna(bad, "bad.h5ad", layer="counts", label_key="bulk_labels")


def test_negative_values_are_scaled_data_and_rejected(pbmc):
    bad = _counts_copy(pbmc)
    bad.layers["counts"][3, 2] = -1
    for likelihood in ("nb", "auto", "gaussian"):  # scaled (z-scored) values fit no expression likelihood
        with pytest.raises(
            InputError, match=rf"bad.h5ad: negative value at cell '{bad.obs_names[3]}'.*scaled.*'layer'"
        ):
            prepare_scrna(bad, "bad.h5ad", layer="counts", label_key="bulk_labels", likelihood=likelihood)


def test_non_integer_values_rejected_for_nb(pbmc):
    with pytest.raises(
        InputError, match=r"non-integer value at cell .* likelihood 'nb' .*\(log1p values\).*likelihood: gaussian"
    ):
        prepare_scrna(pbmc, "x.h5ad", layer=None, label_key="bulk_labels", likelihood="nb")


def test_tpm_like_values_are_log1p_transformed(pbmc):
    """Normalised, not logged (TPM-like, up to ~34,000): log1p is applied, HVG selection works, and uns says so."""
    tpm = pbmc.copy()
    counts = pbmc.layers["counts"]
    tpm.X = sp.csr_matrix(counts.multiply(1e6 / counts.sum(axis=1)))  # transcripts per million, float
    assert tpm.X.max() > 30_000 and not np.allclose(tpm.X.data, np.round(tpm.X.data))
    out = prepare_scrna(tpm, "tpm.h5ad", layer=None, label_key="bulk_labels", n_top_genes=200)
    info = out.uns["omicsgen"]
    assert info["input_values"] == "normalized (log1p applied)" and info["likelihood"] == "gaussian"
    assert info["encoding"] == "log1p" and out.n_vars == 200
    assert np.isfinite(out.X.data).all() and out.X.max() == pytest.approx(np.log1p(tpm.X.max()), rel=1e-5)
    with pytest.raises(InputError, match=r"tpm.h5ad: values up to .* are not log1p-scale.*set values: normalized"):
        prepare_scrna(tpm, "tpm.h5ad", layer=None, values="log1p")


def test_detected_values_are_stated(pbmc):
    assert prepare_scrna(pbmc, "x", layer="counts", n_top_genes=100).uns["omicsgen"]["input_values"] == "counts"
    assert prepare_scrna(pbmc, "x", layer=None, n_top_genes=100).uns["omicsgen"]["input_values"] == "log1p"
    with pytest.raises(InputError, match=r"non-integer value at cell .* values: counts needs raw counts"):
        prepare_scrna(pbmc, "x", layer=None, values="counts")


def test_missing_label_column(pbmc):
    with pytest.raises(InputError, match=r"x.h5ad: label column 'cell_type' not in obs .*bulk_labels"):
        prepare_scrna(pbmc, "x.h5ad", layer="counts", label_key="cell_type")


def test_missing_labels_for_some_cells(pbmc):
    bad = pbmc.copy()
    bad.obs["bulk_labels"] = bad.obs["bulk_labels"].astype(object)
    bad.obs.iloc[4, bad.obs.columns.get_loc("bulk_labels")] = None
    with pytest.raises(InputError, match="missing for 1 cells"):
        prepare_scrna(bad, "x.h5ad", layer="counts", label_key="bulk_labels")


def test_missing_layer(pbmc):
    with pytest.raises(InputError, match=r"layer 'spliced' not found"):
        prepare_scrna(pbmc, "x.h5ad", layer="spliced")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="nothere.h5ad: file not found"):
        read_h5ad(tmp_path / "nothere.h5ad")
    junk = tmp_path / "junk.h5ad"
    junk.write_text("not hdf5")
    with pytest.raises(InputError, match="junk.h5ad: not a readable .h5ad"):
        read_h5ad(junk)


def test_write_is_atomic(tmp_path, pbmc):
    target = tmp_path / "out.h5ad"
    write_h5ad(pbmc[:10].copy(), target)
    assert read_h5ad(target).n_obs == 10
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5ad"]
    bad = pbmc[:10].copy()
    bad.uns["unwritable"] = object()
    with pytest.raises(Exception):  # noqa: B017  (anndata's error for an unwritable uns differs by version)
        write_h5ad(bad, tmp_path / "bad.h5ad")
    assert not (tmp_path / "bad.h5ad").exists() and len(list(tmp_path.iterdir())) == 1


def test_zero_count_cells_are_dropped_and_counted(pbmc):
    bad = _counts_copy(pbmc)
    bad.layers["counts"][0] = 0
    out = prepare_scrna(bad, "x", layer="counts", label_key="bulk_labels", n_top_genes=5000)
    assert out.n_obs == 699 and out.uns["omicsgen"]["n_cells_dropped_zero_counts"] == 1
    assert bad.obs_names[0] not in out.obs_names


def test_sparse_input_stays_sparse(pbmc):
    out = prepare_scrna(pbmc, "x", layer="counts", label_key="bulk_labels", n_top_genes=100)
    assert sp.issparse(out.X)


def test_too_few_cells_stop_at_preprocessing_with_the_minimum(pbmc, tmp_path):
    from omicsgen import steps

    tiny = tmp_path / "tiny.h5ad"
    # 10 cells, two of each of five cell types: stratification leaves no validation or test cell
    picks = np.concatenate(
        [np.flatnonzero(pbmc.obs["bulk_labels"] == label)[:2] for label in pbmc.obs["bulk_labels"].cat.categories[:5]]
    )
    pbmc[picks].copy().write_h5ad(tiny)
    output = tmp_path / "out" / "preprocessed.h5ad"
    with pytest.raises(
        InputError,
        match=r"tiny.h5ad: 10 cells split into 10 train, 0 val and 0 test .*"
        r"at least 10 train, 2 val, 5 test",
    ):
        steps.preprocess_h5ad(str(tiny), str(output), layer="counts", label_key="bulk_labels", n_top_genes=100)
    assert not output.parent.exists()
    # 40 unlabelled cells give 28 / 4 / 8: enough
    pbmc[:40].copy().write_h5ad(tiny)
    steps.preprocess_h5ad(str(tiny), str(output), layer="counts", label_key=None, n_top_genes=100)
    assert read_h5ad(output).obs["split"].value_counts().to_dict() == {"train": 28, "test": 8, "val": 4}


def test_duplicate_cell_names_are_an_error(pbmc, caplog):
    joined = ad.concat([pbmc[:50], pbmc[:30]])  # two samples joined without index_unique
    with pytest.raises(
        InputError,
        match=rf"joined.h5ad: 30 duplicate cell names in obs \(first: '{pbmc.obs_names[0]}'\)"
        r".*index_unique",
    ):
        prepare_scrna(joined, "joined.h5ad", layer="counts")
    genes = pbmc.copy()
    genes.var_names = list(genes.var_names[:-1]) + [genes.var_names[0]]
    out = prepare_scrna(genes, "genes.h5ad", layer="counts", n_top_genes=5000)
    assert out.var_names.is_unique and "1 duplicate gene names" in caplog.text
