import numpy as np

from omicsgen.synthesize import synthesize, synthesize_marginals, training_groups


def test_vae_synthesis_per_label_counts(prepared, trained):
    synth = synthesize(prepared, trained[0], "vae", n_per_label=15, seed=0)
    labels = prepared.obs["bulk_labels"].cat.categories
    assert synth.n_obs == 15 * len(labels) and synth.n_vars == prepared.n_vars
    assert (synth.obs["bulk_labels"].value_counts() == 15).all()
    assert synth.obs["synthetic"].all()
    assert all(name.startswith("synthetic-") for name in synth.obs_names)
    assert not set(synth.obs_names) & set(prepared.obs_names)
    X = synth.X.toarray()
    assert np.all(X >= 0) and np.all(X == np.round(X))
    # library sizes are of the real cells' order of magnitude
    real_lib = prepared.X.sum(axis=1).mean()
    assert 0.3 * real_lib < X.sum(axis=1).mean() < 3 * real_lib


def test_vae_synthesis_is_seeded(prepared, trained):
    a = synthesize(prepared, trained[0], "vae", 5, seed=1).X.toarray()
    b = synthesize(prepared, trained[0], "vae", 5, seed=1).X.toarray()
    c = synthesize(prepared, trained[0], "vae", 5, seed=2).X.toarray()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_marginals_draw_each_gene_from_its_label(prepared):
    synth = synthesize_marginals(prepared, n_per_label=30, seed=0)
    groups = training_groups(prepared)
    X, real = synth.X.toarray(), prepared.X.toarray()
    for label, idx in groups.items():
        block = X[(synth.obs["bulk_labels"] == label).to_numpy()]
        assert block.shape[0] == 30
        for gene in (0, 17, 123):
            assert set(block[:, gene]) <= set(real[idx, gene])


def test_training_groups_use_train_split_only(prepared):
    groups = training_groups(prepared)
    assert len(groups) == 10
    all_idx = np.concatenate(list(groups.values()))
    assert (prepared.obs["split"].to_numpy()[all_idx] == "train").all()
