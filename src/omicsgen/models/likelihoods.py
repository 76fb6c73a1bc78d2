"""Per-feature likelihoods: log-probabilities and samplers.

Negative binomial in the mean/inverse-dispersion parametrisation of scVI
(Lopez et al. 2018, Nature Methods; ``scvi.distributions.NegativeBinomial``), and a
Gaussian with per-feature scale for continuous values.
"""

from __future__ import annotations

import torch

LIKELIHOOD_NAMES = ("nb", "gaussian")
_EPS = 1e-8


def negative_binomial_log_prob(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Log-probability of counts under NB(mean ``mu``, inverse dispersion ``theta``).

    ``Var = mu + mu^2 / theta``. Parameters broadcast; ``x``, ``mu`` ``(batch, n_genes)``
    float32 (counts), ``theta`` ``(n_genes,)`` positive.

    Returns
    -------
    torch.Tensor
        ``(batch, n_genes)`` log-probabilities (nats).
    """
    log_theta_mu = torch.log(theta + mu + _EPS)
    return (
        theta * (torch.log(theta + _EPS) - log_theta_mu)
        + x * (torch.log(mu + _EPS) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1.0)
    )


def sample_negative_binomial(mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Draw counts from NB(``mu``, ``theta``) as a Gamma-Poisson mixture.

    ``lambda ~ Gamma(theta, theta / mu)``, ``x ~ Poisson(lambda)``, drawn from torch's global
    generator (seed it, e.g. inside ``torch.random.fork_rng``). Returns float32 counts of
    ``mu``'s shape.
    """
    theta = theta.expand_as(mu)
    lam = torch.distributions.Gamma(theta, theta / mu.clamp_min(_EPS)).sample()
    return torch.poisson(lam)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Log-density of ``x`` under Normal(``mean``, ``exp(log_scale)``), elementwise (nats)."""
    return -0.5 * ((x - mean) / log_scale.exp()) ** 2 - log_scale - 0.9189385332046727
