"""Haplotype-cluster hidden Markov model of genotypes (fastPHASE; Scheet & Stephens 2006, AJHG).

Each haplotype is a mosaic of ``K`` haplotype clusters: along the chromosome a hidden cluster
follows a Markov chain that, between sites ``j - 1`` and ``j``, keeps its cluster or with
probability ``r_j`` jumps to cluster ``k`` drawn from the site's cluster weights
``alpha_{j, k}``; the allele at site ``j`` is 1 with the cluster's frequency ``theta_{j, k}``.
An unphased genotype is the sum of two such haplotypes, independent given the parameters, so the
model is fitted to unphased dosages with the phase summed out (the ``K**2`` ordered pairs of
clusters as hidden states), and to phased data haplotype by haplotype. The same model generates
the knockoff genotypes of Sesia, Sabatti & Candes (2019, Biometrika).

The clusters are fuzzy centroids of many haplotypes, not training haplotypes (unlike the copying
states of Li & Stephens 2003), so that generation, which draws every cluster path and allele from
the fitted model, does not copy a training genome.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from omicsgen.models.base import TrainingPlan

BLOCK_SITES = 64  # sites per checkpointed block of the forward pass (memory: one block's graph)


class MaximisationStep(torch.optim.Optimizer):
    """EM as Lightning's loop sees it: one optimiser step per epoch, whose closure is the M-step
    (so that the global step, which checkpointing follows, counts EM iterations)."""

    def __init__(self, tensors):
        super().__init__(list(tensors), {})

    def step(self, closure):
        return closure()


class HaplotypeClusterHMM(TrainingPlan):
    """fastPHASE's haplotype-cluster HMM, fitted by expectation-maximisation, conditional on labels.

    Parameters per site ``j`` and cluster ``k``: the allele-1 frequency ``theta_{j, k}``
    (``allele_frequency``, ``(n_sites, K)``), the cluster weights ``alpha_{y, j, k}``
    (``cluster_weights``, ``(n_labels or 1, n_sites, K)``: a label's own weights, as
    population-specific cluster weights) and the jump probability ``r_j``
    into site ``j`` (``jump_probability``, ``(n_sites,)``; ``r_0 = 1``: the first site's cluster
    is drawn from ``alpha_{y, 0}``). One EM iteration is one training epoch: the E-step sums,
    over the training batches, the expected counts of each parameter's use, computed as the
    parameter times the gradient of the log-likelihood with respect to it (the Fisher identity;
    the forward pass is checkpointed in blocks of :data:`BLOCK_SITES` sites); the M-step after the
    epoch's last batch sets each parameter to its expected counts plus ``prior_weight``
    pseudo-observations, normalised (the posterior mean under a Beta or Dirichlet prior of that
    weight: allele frequencies shrunk toward the site's allele frequency, cluster weights toward
    uniform, jump probabilities toward 0.05). The validation
    negative log-likelihood (nats per genome or haplotype) is ``val_loss``, for early stopping;
    the first iteration's clusters are the site frequencies perturbed at random (seeded).

    Parameters
    ----------
    n_input
        Sites, in position order (the data contract's ``var`` order).
    likelihood
        ``"binomial"`` (unphased dosage 0/1/2: two haplotypes, phase summed out) or
        ``"bernoulli"`` (one haplotype, allele 0/1).
    labels
        Label categories; empty for none.
    n_clusters
        ``K``, haplotype clusters (fastPHASE's ``-K``).
    prior_weight
        Pseudo-observations of each parameter's prior (> 0; keeps clusters used by few haplotypes
        from fitting their alleles exactly).

    Raises
    ------
    ValueError
        A likelihood without allele counts; ``n_clusters < 2``; ``prior_weight <= 0``.
    """

    monitor = "val_loss"
    latent_sampler = (
        "none: each haplotype's cluster path drawn from the fitted Markov chain given the label, "
        "its alleles from the clusters' allele frequencies"
    )
    curves = (("train_loss", "val_loss"), "negative log-likelihood (nats per genome)")
    prior_jump = 0.05  # the jump probability the prior shrinks r_j toward

    def __init__(
        self,
        n_input: int,
        likelihood: str = "binomial",
        labels: list[str] = (),
        n_clusters: int = 16,
        prior_weight: float = 0.1,
    ):
        super().__init__(likelihood, list(labels))
        n_trials = getattr(self.likelihood, "n_trials", None)
        if n_trials not in (1, 2):
            raise ValueError(
                f"the haplotype-cluster HMM models one or two haplotypes; likelihood {likelihood!r} is not "
                "a genotype likelihood (binomial, bernoulli): use it on VCF, BCF, PLINK or VCF Zarr data"
            )
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 2:
            raise ValueError(f"hmm.n_clusters must be an integer >= 2, got {n_clusters!r}")
        if not prior_weight > 0:
            raise ValueError(f"hmm.prior_weight must be > 0, got {prior_weight!r}")
        self.save_hyperparameters()
        self.automatic_optimization = False  # EM: the M-step sets the parameters
        self.ploidy = n_trials
        groups = max(1, self.n_labels)
        self.register_buffer("allele_frequency", torch.full((n_input, n_clusters), 0.5))
        self.register_buffer("cluster_weights", torch.full((groups, n_input, n_clusters), 1.0 / n_clusters))
        self.register_buffer("jump_probability", torch.full((n_input,), self.prior_jump))
        self.register_buffer("site_frequency", torch.full((n_input,), 0.5))
        self._counts: list[torch.Tensor] | None = None  # the E-step's expected counts, not checkpointed

    def prepare(self, batches) -> None:
        """Start EM: each cluster's allele frequencies at the training data's, perturbed on the
        logit scale by a standard normal draw (torch's global generator, seeded)."""
        total = torch.zeros(self.allele_frequency.shape[0], dtype=torch.float64)
        n = 0
        for x, _ in batches:
            total += self._allele_counts(x).sum(dim=0).double()
            n += x.shape[0] * self.ploidy
        frequency = ((total + 0.5) / (n + 1)).float()
        self.site_frequency.copy_(frequency)
        noise = torch.randn(self.allele_frequency.shape)
        self.allele_frequency.copy_(torch.sigmoid(torch.logit(frequency)[:, None] + noise))

    def _allele_counts(self, x: torch.Tensor) -> torch.Tensor:
        """Allele counts ``(batch, n_sites)`` int64, rounded and clamped to ``0..ploidy``."""
        return x.round().nan_to_num(0.0).clamp(0, self.ploidy).long()

    def _probabilities(self) -> list[torch.Tensor]:
        """The HMM's probabilities as separate tensors, each used as its own variable: ``theta``,
        ``1 - theta``, ``alpha``, ``r``, ``1 - r`` (their gradients give the expected counts)."""
        theta, jump = self.allele_frequency, self.jump_probability
        return [theta, 1 - theta, self.cluster_weights, jump, 1 - jump]

    def _block(self, forward, g, label, theta1, theta0, alpha, jump, stay, kept=None):
        """Forward pass over one block of sites from the normalised forward probabilities of the
        site before it (None at site 0); returns the block's last forward probabilities and
        ``sum_j log p(x_j | x_<j)`` ``(batch,)``, and appends each site's to ``kept`` when given.
        On dosages the forward probabilities ``(batch, K, K)`` must be symmetric in the two
        haplotypes (as every one this method returns is): the transition uses their row sums only."""
        weights = alpha[label]  # (batch or 1, block, K)
        if self.ploidy == 1:
            emission = torch.where(g[:, :, None] == 1, theta1, theta0)  # (batch, block, K)
        else:  # genotype 0, 1, 2 probabilities of each ordered pair of clusters: (block, 3, K, K)
            pairs = torch.stack(
                [
                    theta0[:, :, None] * theta0[:, None, :],
                    theta1[:, :, None] * theta0[:, None, :] + theta0[:, :, None] * theta1[:, None, :],
                    theta1[:, :, None] * theta1[:, None, :],
                ],
                dim=1,
            )
            emission = pairs[torch.arange(g.shape[1], device=g.device), g]  # (batch, block, K, K)
        # unbind, not index, per site: each indexing's backward would fill a block-sized zero tensor
        emission, weights = emission.unbind(dim=1), weights.unbind(dim=1)
        log_likelihood = torch.zeros(g.shape[0], dtype=theta1.dtype, device=g.device)
        for i in range(g.shape[1]):
            a = weights[i]
            if self.ploidy == 1:
                if forward is None:
                    forward = a * emission[i]
                else:
                    forward = (stay[i] * forward + jump[i] * a) * emission[i]
                scale = forward.sum(dim=1)
                forward = forward * (1 / scale)[:, None]
            else:
                if forward is None:
                    forward = a[:, :, None] * a[:, None, :] * emission[i]
                else:
                    # forward is symmetric in the two haplotypes, so each one's cluster marginal is
                    # its row sum, f; the stay-or-jump sum over the previous pair of clusters is then
                    # s**2 forward + u a' + a u' with u = r s f + (r**2 / 2) a
                    r, s = jump[i], stay[i]
                    u = r * s * forward.sum(dim=2) + (r * r / 2) * a
                    a = a.expand_as(u)
                    forward = torch.baddbmm(s * s * forward, torch.stack([u, a], dim=2), torch.stack([a, u], dim=1))
                    forward = forward * emission[i]
                scale = forward.sum(dim=(1, 2))
                forward = forward * (1 / scale)[:, None, None]
            if kept is not None:
                kept.append(forward)
            log_likelihood = log_likelihood + torch.log(scale)
        return forward, log_likelihood

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None, parameters=None) -> torch.Tensor:
        """``log p(x | y)`` ``(batch,)`` in nats, the phase and cluster paths summed out.

        Parameters
        ----------
        x
            ``(batch, n_sites)`` allele counts (dosage or haplotype alleles).
        y
            ``(batch,)`` label codes, or None when unconditional.
        parameters
            The five tensors of :meth:`_probabilities` to compute it with (default: the model's).
        """
        parameters = parameters if parameters is not None else self._probabilities()
        g = self._allele_counts(x)
        label = self._label(x, y)
        forward, total = None, torch.zeros(x.shape[0], dtype=parameters[0].dtype, device=x.device)
        n_sites = g.shape[1]
        for start in range(0, n_sites, BLOCK_SITES):
            stop = min(start + BLOCK_SITES, n_sites)
            args = (g[:, start:stop], label, *self._slice(parameters, start, stop))
            if torch.is_grad_enabled() and n_sites > BLOCK_SITES and forward is not None:
                # reentrant: in torch 2.13 the non-reentrant checkpoint kept every block's graph here
                forward, block = checkpoint(self._block, forward, *args, use_reentrant=True)
            else:
                forward, block = self._block(forward, *args)
            total = total + block
        return total

    def _label(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Row indices into the cluster weights: the label codes, or the one group when unlabelled."""
        return y.long() if self.n_labels else torch.zeros(1, dtype=torch.long, device=x.device)

    @staticmethod
    def _slice(parameters: list[torch.Tensor], start: int, stop: int) -> list[torch.Tensor]:
        """Sites ``start..stop-1`` of the five tensors of :meth:`_probabilities` (weights: axis 1)."""
        theta1, theta0, alpha, jump, stay = parameters
        return [theta1[start:stop], theta0[start:stop], alpha[:, start:stop], jump[start:stop], stay[start:stop]]

    @torch.no_grad()
    def sample_haplotypes(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """One draw of each genome's two haplotypes from their posterior given its unphased genotypes.

        fastPHASE's phasing (Scheet & Stephens 2006, AJHG): forward filtering over the ordered
        pairs of clusters, then the pair of cluster paths sampled backward from the last site
        (forward-filtering backward-sampling), then at each heterozygous site which haplotype
        carries the alternate allele, in proportion to ``theta_{k1} (1 - theta_{k2})`` against
        ``(1 - theta_{k1}) theta_{k2}``. Homozygous genotypes fix both alleles, so the two
        haplotypes always sum to the genotype; a missing genotype (NaN) counts as 0, as in
        the likelihood. Memory holds the forward probabilities at each block's start and one
        block's (:data:`BLOCK_SITES` sites), ``batch x K**2`` floats per site; torch's global
        generator.

        Parameters
        ----------
        x
            ``(batch, n_sites)`` dosages 0/1/2.
        y
            ``(batch,)`` label codes, or None when unconditional.

        Returns
        -------
        torch.Tensor
            ``(batch, 2, n_sites)`` int8 alleles 0/1, haplotype 1 then 2.

        Raises
        ------
        ValueError
            The model was fitted to haplotypes (nothing to phase).
        """
        if self.ploidy != 2:
            raise ValueError("this HMM was fitted to phased haplotypes; sampling haplotypes needs a dosage model")
        parameters = self._probabilities()
        theta, alpha, jump = parameters[0], parameters[2], parameters[3]
        g = self._allele_counts(x)
        label = self._label(x, y)
        batch, n_sites = g.shape
        k = theta.shape[1]
        starts = list(range(0, n_sites, BLOCK_SITES))
        entering, forward = [], None
        for start in starts:
            entering.append(forward)
            stop = min(start + BLOCK_SITES, n_sites)
            forward, _ = self._block(forward, g[:, start:stop], label, *self._slice(parameters, start, stop))
        rows = torch.arange(batch, device=x.device)
        haplotypes = torch.zeros(batch, 2, n_sites, dtype=torch.int8, device=x.device)
        paths = None  # the clusters (batch, 2) at the site after the one being drawn
        for start, forward in zip(reversed(starts), reversed(entering)):
            stop = min(start + BLOCK_SITES, n_sites)
            kept: list[torch.Tensor] = []
            self._block(forward, g[:, start:stop], label, *self._slice(parameters, start, stop), kept=kept)
            for j in range(stop - 1, start - 1, -1):
                weights = kept[j - start]
                if paths is not None:  # times p(clusters at j + 1 | clusters at j), one haplotype each
                    into = alpha[label, j + 1].expand(batch, k)
                    move = []  # (batch, K) each: jump into the drawn cluster, or stay in it
                    for h in (0, 1):
                        move.append((jump[j + 1] * into.gather(1, paths[:, h : h + 1])).expand(batch, k).clone())
                        move[h][rows, paths[:, h]] += 1 - jump[j + 1]
                    weights = weights * move[0][:, :, None] * move[1][:, None, :]
                pair = torch.multinomial(weights.reshape(batch, k * k), 1).squeeze(1)
                paths = torch.stack([pair // k, pair % k], dim=1)
                first, second = theta[j, paths[:, 0]], theta[j, paths[:, 1]]
                odds = first * (1 - second)
                alt_on_first = torch.rand(batch, device=x.device) * (odds + (1 - first) * second) < odds
                genotype = g[:, j]
                haplotypes[:, 0, j] = ((genotype == 2) | ((genotype == 1) & alt_on_first)).to(torch.int8)
                haplotypes[:, 1, j] = (genotype - haplotypes[:, 0, j]).to(torch.int8)
        return haplotypes

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """E-step on one batch; after the epoch's last batch, the M-step (the epoch's one optimiser step)."""
        x, y = batch
        parameters = [p.detach().clone().requires_grad_(True) for p in self._probabilities()]
        with torch.enable_grad():
            log_likelihood = self.log_likelihood(x, self.conditioning(y), parameters)
            log_likelihood.sum().backward()  # the reentrant checkpoint needs backward, not autograd.grad
        counts = [(p * p.grad).detach().double() for p in parameters]
        self._counts = counts if self._counts is None else [a + b for a, b in zip(self._counts, counts)]
        self.epoch_means.add("train", loss=-log_likelihood.detach().float())
        if batch_idx == self.trainer.num_training_batches - 1:
            counts, self._counts = self._counts, None
            self.optimizers().step(closure=lambda: self._maximise(counts))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.epoch_means.add("val", loss=-self.log_likelihood(x, self.conditioning(y)).float())

    @torch.no_grad()
    def _maximise(self, counts: list[torch.Tensor]) -> None:
        """M-step: posterior means given the expected counts of :meth:`_probabilities`' tensors."""
        ones, zeros, weights, jumps, stays = counts
        w, k = self.hparams.prior_weight, self.hparams.n_clusters
        frequency = self.site_frequency.double()[:, None]
        self.allele_frequency.copy_((ones + w * frequency) / (ones + zeros + w))
        weights = weights + w / k
        self.cluster_weights.copy_(weights / weights.sum(dim=2, keepdim=True))
        jump = (jumps + w * self.prior_jump) / (jumps + stays + w)
        jump[0] = 1.0  # the first site's cluster is drawn from its weights
        self.jump_probability.copy_(jump)

    def configure_optimizers(self):
        return MaximisationStep(self.buffers())

    def generate(
        self, label: int, n: int, y: torch.Tensor | None, library: torch.Tensor | None, rng: np.random.Generator
    ) -> torch.Tensor:
        """Draw ``n`` genomes (or haplotypes): per haplotype a cluster path along the sites, then its
        alleles; torch's global generator. Returns allele counts ``(n, n_sites)`` float32. The label
        picks the cluster weights; ``library`` is not used."""
        weights = self.cluster_weights[label if self.n_labels else 0]
        n_sites = weights.shape[0]
        counts = torch.zeros(n, n_sites, dtype=torch.int8)
        for _ in range(self.ploidy):
            cluster = torch.multinomial(weights[0], n, replacement=True)
            for j in range(n_sites):
                if j:
                    jumps = torch.rand(n) < self.jump_probability[j]
                    cluster = torch.where(jumps, torch.multinomial(weights[j], n, replacement=True), cluster)
                counts[:, j] += (torch.rand(n) < self.allele_frequency[j, cluster]).to(torch.int8)
        return counts.float()
