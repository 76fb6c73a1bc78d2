import numpy as np
import pytest
import torch

from omicsgen.models import VAE
from omicsgen.models.likelihoods import gaussian_log_prob, negative_binomial_log_prob, sample_negative_binomial


def test_nb_log_prob_matches_torch_distribution():
    mu = torch.tensor([[0.5, 3.0, 20.0]])
    theta = torch.tensor([0.7, 2.0, 50.0])
    x = torch.tensor([[0.0, 4.0, 17.0]])
    # torch parametrises NB by total_count = theta and logits = log(mu / theta)
    ref = torch.distributions.NegativeBinomial(total_count=theta, logits=torch.log(mu / theta)).log_prob(x)
    torch.testing.assert_close(negative_binomial_log_prob(x, mu, theta), ref, atol=1e-4, rtol=1e-4)


def test_nb_sampler_moments():
    torch.manual_seed(0)
    mu = torch.full((20000, 1), 5.0)
    theta = torch.tensor([2.0])
    draws = sample_negative_binomial(mu, theta)
    assert abs(draws.mean().item() - 5.0) < 0.1
    assert abs(draws.var().item() - (5.0 + 25.0 / 2.0)) < 0.6
    assert torch.all(draws == draws.round())


def test_gaussian_log_prob_matches_torch():
    x, mean, log_scale = torch.tensor([0.3, -1.0]), torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.5])
    ref = torch.distributions.Normal(mean, log_scale.exp()).log_prob(x)
    torch.testing.assert_close(gaussian_log_prob(x, mean, log_scale), ref)


@pytest.mark.parametrize("likelihood", ["nb", "gaussian"])
def test_vae_loss_decreases_on_real_cells(prepared, likelihood):
    torch.manual_seed(0)
    x = torch.from_numpy(prepared.X[:256].toarray())
    if likelihood == "gaussian":
        x = torch.log1p(x)
    model = VAE(n_input=x.shape[1], likelihood=likelihood, n_latent=5, n_hidden=32, kl_warmup_epochs=0)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        reconstruction, kl = model.elbo_terms(x)
        loss = (reconstruction + kl).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0]


def test_kl_warmup_weight():
    model = VAE(n_input=4, kl_warmup_epochs=10)
    assert model.kl_weight() == pytest.approx(0.1)
    assert VAE(n_input=4, kl_warmup_epochs=0).kl_weight() == 1.0


def test_unknown_likelihood():
    with pytest.raises(ValueError, match="likelihood 'poisson'"):
        VAE(n_input=4, likelihood="poisson")


def test_nb_decode_needs_library():
    with pytest.raises(ValueError, match="library size"):
        VAE(n_input=4).decode(torch.zeros(2, 10))
