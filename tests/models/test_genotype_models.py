"""Models on genotypes: binomial/Bernoulli likelihood, training, synthesis and metrics on real EUR data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omicsgen.evaluate import evaluate_model
from omicsgen.latent import embed, encoder_latent, pca_latent
from omicsgen.models.likelihoods import binomial_log_prob, get_likelihood, sample_binomial
from omicsgen.preprocess import prepare_genotypes
from omicsgen.synthesize import synthesize, synthesize_marginals
from tests.conftest import FAST_VAE, REPO


@pytest.fixture(scope="module")
def genotypes():
    """Real EUR dosages (379 samples x 2,000 SNPs), unlabelled, with a split."""
    return prepare_genotypes(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz", seed=0)


@pytest.fixture(scope="module")
def genotype_vae(genotypes, tmp_path_factory):
    from omicsgen.train import train_model

    out = tmp_path_factory.mktemp("genotype_vae")
    return train_model(
        genotypes, "vae", out / "model.ckpt", out / "history.csv", params=FAST_VAE, seed=0, threads=2
    ), out


@pytest.mark.parametrize("n_trials", [1, 2])
def test_binomial_log_prob_matches_torch(n_trials):
    logits = torch.tensor([[-3.0, 0.2, 4.0]])
    x = torch.tensor([[0.0, 1.0, float(n_trials)]])
    ref = torch.distributions.Binomial(total_count=n_trials, logits=logits).log_prob(x)
    torch.testing.assert_close(binomial_log_prob(x, logits, n_trials), ref, atol=1e-5, rtol=1e-5)
    # probabilities over 0..n sum to one
    values = torch.arange(n_trials + 1, dtype=torch.float32)[:, None].expand(-1, 3)
    total = binomial_log_prob(values, logits.expand(n_trials + 1, -1), n_trials).exp().sum(dim=0)
    torch.testing.assert_close(total, torch.ones(3))


def test_binomial_sampler_mean():
    torch.manual_seed(0)
    draws = sample_binomial(torch.full((20000, 1), 0.3), 2)
    assert set(draws.unique().tolist()) <= {0.0, 1.0, 2.0} and abs(draws.mean().item() - 0.6) < 0.02


@pytest.mark.parametrize("name", ["binomial", "bernoulli"])
def test_critic_sees_genotypes_with_a_straight_through_gradient(name):
    likelihood = get_likelihood(name)
    logits = torch.linspace(-3.0, 3.0, 4000).reshape(2, 2000).requires_grad_(True)
    torch.manual_seed(0)
    view = likelihood.generated_view(logits)
    assert set(view.detach().unique().tolist()) <= set(range(likelihood.n_trials + 1))  # allele counts
    assert abs(view.detach().mean() - likelihood.mean(logits).detach().mean()) < 0.05
    view.sum().backward()  # the gradient of the expected count, n p (1 - p) per logit
    p = torch.sigmoid(logits.detach())
    torch.testing.assert_close(logits.grad, likelihood.n_trials * p * (1 - p))


def test_training_on_dosages(genotypes, genotype_vae):
    model, out = genotype_vae
    assert model.hparams.likelihood == "binomial"
    history = np.genfromtxt(out / "history.csv", delimiter=",", names=True)
    assert np.isfinite(history["val_loss"]).all() and history["val_loss"][-1] < history["val_loss"][0]
    # after a few epochs the negative ELBO per sample is far below that of allele frequency 0.5 everywhere
    x = torch.from_numpy(genotypes.X[genotypes.obs["split"] == "val"].astype(np.float32))
    uninformed = -binomial_log_prob(x, torch.zeros_like(x), 2).sum(dim=1).mean()
    assert history["val_loss"].min() < 0.7 * uninformed.item()


def test_latent_synthesis_and_metrics(genotypes, genotype_vae):
    model, _ = genotype_vae
    latent, mse = encoder_latent(genotypes, model)
    # squared differences of allele counts 0-2 from expected counts in [0, 2]
    assert latent.shape == (379, FAST_VAE["n_latent"]) and mse.shape == (379,) and 0 < mse.min() and mse.max() <= 4
    latent_ad = embed(genotypes, latent, mse, "vae", n_neighbors=15, seed=0)
    synthetic = synthesize(genotypes, model, "vae", n_per_label=60, seed=0)
    assert synthetic.X.dtype == np.int8 and synthetic.shape == (60, 2000)
    assert set(np.unique(synthetic.X)) <= {0, 1, 2}
    assert synthetic.uns["vcf"]["contigs"] == genotypes.uns["vcf"]["contigs"]
    np.testing.assert_array_equal(synthesize(genotypes, model, "vae", n_per_label=60, seed=0).X, synthetic.X)
    table = evaluate_model(
        genotypes, dataset="eur", model="vae", latent=latent_ad, synthetic=synthetic, detection_trees=30, threads=2
    )[0].set_index("metric")["value"]
    assert {
        "af_correlation",
        "ld_correlation",
        "pca_wasserstein",
        "pairwise_distance_wasserstein",
        "aats",
        "privacy_loss",
        "dcr",
        "reconstruction_error",
    } <= set(table.index)
    assert "mean_correlation" not in table.index and "knn_accuracy" not in table.index  # unlabelled
    assert 0.8 < table["af_correlation"] <= 1 and 0 <= table["aats"] <= 1
    assert table["dcr"] == np.round(
        table["dcr"]
    )  # cityblock on allele counts: whole numbers (median of even n may be .5)
    marginals = synthesize_marginals(genotypes, n_per_label=60, seed=0)
    assert marginals.X.dtype == np.int8
    base = evaluate_model(
        genotypes, dataset="eur", model="marginals", synthetic=marginals, detection_trees=30, threads=2
    )[0].set_index("metric")["value"]
    assert base["ld_correlation"] < 0.2 and base["af_correlation"] > 0.8
    pca_ad = embed(genotypes, *pca_latent(genotypes, 6, 0), "pca", n_neighbors=15, seed=0)
    assert pca_ad.obsm["X_pca"].shape == (379, 6)
