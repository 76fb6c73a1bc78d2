"""Per-feature likelihoods: log-probabilities and samplers.

Negative binomial in the mean/inverse-dispersion parametrisation of scVI
(Lopez et al. 2018, Nature Methods; ``scvi.distributions.NegativeBinomial``), a
Gaussian with per-feature scale for continuous values, and the binomial over alt-allele
dosage 0/1/2 (two trials) or Bernoulli per haplotype allele (one trial) for genotypes, with
the decoder giving the per-site alt-allele probability (as GenoCAE and popvae decode genotypes
as allele probabilities, not with MSE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LIKELIHOOD_NAMES = ("nb", "gaussian", "binomial", "bernoulli")
N_TRIALS = {"binomial": 2, "bernoulli": 1}  # alleles per entry: diploid dosage, one haplotype
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


def binomial_log_prob(x: torch.Tensor, logits: torch.Tensor, n_trials: int) -> torch.Tensor:
    """Log-probability of allele counts ``x`` under Binomial(``n_trials``, sigmoid(``logits``)).

    ``n_trials`` 2: alt-allele dosage 0/1/2 of a diploid genotype; 1: Bernoulli per haplotype.
    ``x`` and ``logits`` ``(batch, n_sites)`` float32; computed from logits with
    ``logsigmoid`` so that probabilities near 0 or 1 stay finite.

    Returns
    -------
    torch.Tensor
        ``(batch, n_sites)`` log-probabilities (nats).
    """
    n = float(n_trials)
    log_choose = torch.lgamma(torch.tensor(n + 1.0)) - torch.lgamma(x + 1.0) - torch.lgamma(n - x + 1.0)
    return x * F.logsigmoid(logits) + (n - x) * F.logsigmoid(-logits) + log_choose


def sample_binomial(probs: torch.Tensor, n_trials: int) -> torch.Tensor:
    """Draw allele counts from Binomial(``n_trials``, ``probs``) with torch's global generator.

    Returns float32 counts of ``probs``' shape, values in ``0..n_trials``.
    """
    return torch.distributions.Binomial(total_count=n_trials, probs=probs.clamp(0.0, 1.0)).sample()
