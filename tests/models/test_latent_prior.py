"""What the AE and VAE fit after training: the per-label latent prior that synthesis samples and the
refitted dispersion, on real pbmc68k counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from omicsgen.data import AnnDataModule
from omicsgen.io import dense
from omicsgen.synthesize import synthesize, training_groups
from omicsgen.train import load_model, train_model
from tests.conftest import FAST_AE, FAST_VAE


@pytest.fixture(scope="module")
def fitted(prepared, tmp_path_factory):
    """A VAE trained briefly, as the workflow trains it: checkpoint and training.json."""
    out = tmp_path_factory.mktemp("prior")
    train_model(
        prepared, "vae", out / "m.ckpt", out / "h.csv", params=FAST_VAE, seed=0, threads=2, training=out / "t.json"
    )
    return load_model(out / "m.ckpt", "vae"), json.loads((out / "t.json").read_text())


def test_prior_is_the_mean_and_shrunk_covariance_of_each_labels_codes(prepared, fitted):
    model, _ = fitted
    data = AnnDataModule(prepared, batch_size=128)
    with torch.no_grad():
        batches = list(data.train_batches())
        z = torch.cat([model.codes(x) for x, _ in batches]).double().numpy()
        y = torch.cat([y for _, y in batches]).numpy()
    d = z.shape[1]
    counts = np.bincount(y, minlength=model.n_labels)
    scatter = [np.cov(z[y == g], rowvar=False) * (counts[g] - 1) for g in range(model.n_labels)]
    pooled = sum(scatter) / (counts - 1).sum()
    for g in range(model.n_labels):
        np.testing.assert_allclose(model.prior_mean[g].numpy(), z[y == g].mean(axis=0), atol=1e-5)
        expected = (scatter[g] + d * pooled) / (counts[g] - 1 + d)
        np.testing.assert_allclose(model.prior_cov[g].numpy(), expected, atol=1e-5)
    # the rarest label (5 training cells in 10 dimensions) gets a full-rank spread, not its cells' span
    rare = int(np.argmin(counts))
    assert counts[rare] <= d and np.linalg.matrix_rank(model.prior_cov[rare].numpy()) == d


def test_synthesis_draws_from_the_prior_without_reading_training_cells(prepared, fitted):
    model, _ = fitted
    label = model.labels.index("CD14+ Monocyte")
    draws = model.sample_latent(label, 4000, np.random.default_rng(0)).numpy()
    np.testing.assert_allclose(draws.mean(axis=0), model.prior_mean[label].numpy(), atol=0.1)
    # synthetic cells only need the training cells' library sizes: shuffling the training counts
    # within each cell (same totals) leaves the synthetic cells unchanged
    shuffled = prepared.copy()
    X = dense(shuffled.X)
    rng = np.random.default_rng(1)
    for idx in training_groups(prepared).values():
        X[idx] = rng.permuted(X[idx], axis=1)
    shuffled.X = X
    a = synthesize(prepared, model, "vae", 10, seed=0).X.toarray()
    b = synthesize(shuffled, model, "vae", 10, seed=0).X.toarray()
    np.testing.assert_array_equal(a, b)


def test_dispersion_is_refitted_and_kept_only_where_it_lowers_the_validation_loss(prepared, fitted, tmp_path):
    model, run = fitted
    dispersion = run["after_training"]["dispersion"]
    assert dispersion["refit"] and dispersion["val_loss_after"] < dispersion["val_loss_before"]
    # each gene's theta maximises the training likelihood over the final grid: its neighbours score lower
    # (the same rows and the same posterior draws as the fit)
    theta = model.log_dispersion.detach()
    low, high = model.likelihood.dispersion_range
    k = model.dispersion_grid_points
    step = 2 * (np.log(high) - np.log(low)) / (k - 1) / (k - 1)  # the second round's spacing
    scores = {shift: torch.zeros(theta.shape[0], dtype=torch.float64) for shift in (-step, 0.0, step)}
    data = AnnDataModule(prepared, batch_size=128)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for x, y in data.train_batches(model.fit_batch_rows, max_rows=model.max_fit_rows):
            out = model.decoder(model.posterior_draw(x), model.conditioning(y))
            for shift in scores:
                scores[shift] += model.likelihood.log_prob(x, out, theta + shift).sum(dim=0).double()
    inside = (theta > np.log(low) + step / 2) & (theta < np.log(high) - step / 2)
    assert inside.float().mean() > 0.5
    for shift in (-step, step):
        assert (scores[0.0][inside] >= scores[shift][inside] - 1e-6 * scores[0.0][inside].abs()).all()
    assert torch.allclose(theta.exp().median(), torch.tensor(dispersion["dispersion_quantiles_after"][2]), rtol=1e-3)
    assert (theta >= np.log(low) - 1e-4).all() and (theta <= np.log(high) + 1e-4).all()
    # a refit that raises the validation loss is undone
    before = model.log_dispersion.detach().clone()
    model.likelihood = type(model.likelihood)()
    model.likelihood.dispersion_range = (1e3, 1e4)  # Poisson-like for every gene: worse than the fit
    undone = model.fit_dispersion(AnnDataModule(prepared, batch_size=128))
    assert not undone["refit"] and undone["val_loss_after"] > undone["val_loss_before"]
    assert torch.equal(model.log_dispersion, before)


def test_unconditional_decoder_generates_each_label_through_the_prior(prepared, tmp_path):
    params = {**FAST_AE, "conditional_decoder": False, "max_epochs": 60, "patience": 60}
    model = train_model(prepared, "ae", tmp_path / "m.ckpt", tmp_path / "h.csv", params=params, seed=0, threads=2)
    assert model.decoder.n_labels == 0 and model.conditioning(torch.tensor([0, 1])) is None
    synthetic = synthesize(prepared, model, "ae", 50, seed=0)
    real = np.log1p(dense(prepared.X))
    fake = np.log1p(synthetic.X.toarray())
    groups = training_groups(prepared)
    labels = [label for label, idx in groups.items() if len(idx) >= 30]
    centroids = np.stack([real[groups[label]].mean(axis=0) for label in labels])
    for i, label in enumerate(labels):
        profile = fake[(synthetic.obs["bulk_labels"] == label).to_numpy()].mean(axis=0)
        assert np.argmin(((centroids - profile) ** 2).sum(axis=1)) == i, label
