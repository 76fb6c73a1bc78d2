"""Per-feature likelihoods: log-probabilities, samplers, and one class per observation model.

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


class Likelihood:
    """Observation model of one kind of data: what a decoder or generator emits and how it is scored.

    A decoder (AE, VAE) or generator (GAN) ends in :attr:`decoder_activation` or
    :attr:`generator_activation` and emits ``out`` ``(batch, n_vars)``; the likelihood turns it
    into the expected value (:meth:`mean`), scores data under it (:meth:`log_prob`), draws
    observations (:meth:`sample`), and says on which scale a critic compares real and
    generated data (:meth:`critic_view`, :meth:`generated_view`). This base class is the
    identity on every scale; subclasses override what differs. Register a new one in
    :data:`LIKELIHOODS`.
    """

    name = ""
    decoder_activation = "linear"  # see omicsgen.models.modules.OUTPUT_ACTIVATIONS
    generator_activation = "linear"
    needs_library = False  # decoding needs each cell's total counts (library size)
    # range of the per-feature dispersion (NB inverse dispersion theta, Gaussian scale) that
    # LikelihoodPlan.fit_dispersion searches after training; None: the model has none
    dispersion_range: tuple[float, float] | None = None

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What an encoder sees of ``x`` ``(batch, n_vars)``."""
        return x

    def mean(self, out: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        """Expected value of ``x`` ``(batch, n_vars)`` from a decoder's output (``library``
        ``(batch, 1)`` total counts where :attr:`needs_library`)."""
        return out

    def log_prob(self, x: torch.Tensor, out: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        """``log p(x | out)`` ``(batch, n_vars)`` in nats; ``log_dispersion`` ``(n_vars,)`` the
        decoder's per-feature dispersion (or scale) parameter, unused where there is none."""
        raise NotImplementedError

    def sample(self, mean: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        """Observations ``x ~ p(x | mean)`` ``(batch, n_vars)`` from torch's global generator."""
        raise NotImplementedError

    def critic_view(self, x: torch.Tensor) -> torch.Tensor:
        """Real data ``(batch, n_vars)`` on the scale a GAN critic compares on."""
        return x

    def generated_view(self, out: torch.Tensor) -> torch.Tensor:
        """A generator's output on the critic's scale (differentiable)."""
        return out

    def generated_mean(self, out: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        """A generator's output on the data's scale (expected values)."""
        return self.mean(out, library)

    def sample_generated(self, mean: torch.Tensor) -> torch.Tensor:
        """Observations from a generator's values on the data's scale (a GAN has no dispersion)."""
        return mean

    def generator_bias(self, view_mean: torch.Tensor) -> torch.Tensor:
        """Output bias that makes a generator start at ``view_mean`` ``(n_vars,)``, the training
        data's mean on the critic's scale."""
        return view_mean


class NegativeBinomial(Likelihood):
    """Counts: NB with mean ``proportions x library`` and per-gene inverse dispersion (scVI;
    Lopez et al. 2018). The decoder emits softmax proportions of the library; encoders see
    ``log1p`` counts. A data-space GAN generator emits ReLU ``log1p`` counts per 10,000 (exact
    zeros, as cscGAN; Marouf et al. 2020), its samples rounded."""

    name = "nb"
    decoder_activation = "softmax"
    generator_activation = "relu"
    needs_library = True
    dispersion_range = (1e-2, 1e4)  # theta: from far above Poisson variance to Poisson
    target_sum = 1e4  # counts per cell of the normalised scale the critic sees

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x)

    def mean(self, out: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        if library is None:
            raise ValueError("decoding counts needs each cell's library size")
        return out * library

    def log_prob(self, x: torch.Tensor, out: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        return negative_binomial_log_prob(x, self.mean(out, x.sum(dim=1, keepdim=True)), log_dispersion.exp())

    def sample(self, mean: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        return sample_negative_binomial(mean, log_dispersion.exp())

    def critic_view(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x / x.sum(dim=1, keepdim=True).clamp_min(1.0) * self.target_sum)

    def generated_mean(self, out: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        if library is None:
            raise ValueError("decoding counts needs each cell's library size")
        values = torch.expm1(out)  # counts per 10,000, up to the generator's error
        return values / values.sum(dim=1, keepdim=True).clamp_min(1e-8) * library

    def sample_generated(self, mean: torch.Tensor) -> torch.Tensor:
        return torch.round(mean)


class Gaussian(Likelihood):
    """Continuous values (log-normalised expression): Normal with per-feature scale."""

    name = "gaussian"
    dispersion_range = (1e-3, 1e2)  # scale, in the data's units

    def log_prob(self, x: torch.Tensor, out: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        return gaussian_log_prob(x, out, log_dispersion)

    def sample(self, mean: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        return mean + log_dispersion.exp() * torch.randn_like(mean)


class Binomial(Likelihood):
    """Allele counts out of ``n_trials`` alleles (2: diploid dosage 0/1/2; 1: one haplotype's
    allele, Bernoulli); the decoder emits alt-allele logits (as GenoCAE and popvae), a GAN's
    generator too (as the artificial-genome GAN of Yelmen et al. 2021), its critic shown allele
    counts drawn from them (straight-through, :meth:`generated_view`), and samples drawn binomially."""

    def __init__(self, name: str, n_trials: int):
        self.name, self.n_trials = name, n_trials

    def mean(self, out: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        return self.n_trials * torch.sigmoid(out)

    def log_prob(self, x: torch.Tensor, out: torch.Tensor, log_dispersion: torch.Tensor) -> torch.Tensor:
        return binomial_log_prob(x, out, self.n_trials)

    def sample(self, mean: torch.Tensor, log_dispersion: torch.Tensor | None = None) -> torch.Tensor:
        return sample_binomial(mean / self.n_trials, self.n_trials)

    def generated_view(self, out: torch.Tensor) -> torch.Tensor:
        """Allele counts drawn from the generator's probabilities, with the straight-through
        gradient of their mean (Bengio et al. 2013): the critic sees genotypes, as real ones are
        (expected counts between the integers would give generated data away), and the generator
        learns through the expected counts."""
        mean = self.mean(out)
        return mean + (self.sample(mean.detach()) - mean).detach()

    def sample_generated(self, mean: torch.Tensor) -> torch.Tensor:
        return self.sample(mean)

    def generator_bias(self, view_mean: torch.Tensor) -> torch.Tensor:
        return torch.logit((view_mean / self.n_trials).clamp(1e-3, 1 - 1e-3))


LIKELIHOODS: dict[str, Likelihood] = {
    "nb": NegativeBinomial(),
    "gaussian": Gaussian(),
    "binomial": Binomial("binomial", 2),
    "bernoulli": Binomial("bernoulli", 1),
}


def get_likelihood(name: str) -> Likelihood:
    """The registered likelihood called ``name`` (``uns["omicsgen"]["likelihood"]`` of the data contract).

    Raises
    ------
    ValueError
        No likelihood of that name in :data:`LIKELIHOODS`.
    """
    if name not in LIKELIHOODS:
        raise ValueError(f"likelihood {name!r} is not one of {tuple(LIKELIHOODS)}")
    return LIKELIHOODS[name]
