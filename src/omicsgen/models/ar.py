"""Locally autoregressive genotype model: each site's genotype given the ones before it along the chromosome.

A haplotype (or unphased genotype) is generated site by site in position order, each site drawn
from a categorical distribution over its allele count whose logits depend on the allele counts
at the ``context`` sites before it: an order-``k`` Markov chain along the chromosome with a
logistic-regression conditional per site. It is the chain-rule factorisation that the
sequential haplotype models of population genetics build on (Li & Stephens 2003, Genetics),
without their hidden copying states, so that no training haplotype is copied. LD between sites
up to ``context`` sites apart is modelled directly, and generation draws every site from the
model, never from a training genome's code."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from omicsgen.evaluate.popgen import lag_r2
from omicsgen.models.base import LossPlan

WINDOW_SITES = 4096  # sites scored at a time (memory per training batch: one window's lagged features)
# context "auto": this many lag weights per site, whatever the encoding (a lag's weights are an
# (n_trials, n_trials) matrix): 16 sites on dosages (2 x 2 each), 64 on haplotypes (1 x 1)
LAG_WEIGHTS_PER_SITE = 64
# select: ld compares LD between sites 1..LD_CHECK_LAGS apart among the first LD_CHECK_SITES sites of
# up to LD_CHECK_ROWS validation rows and rows generated in as many, once per epoch (bounded cost at any size)
LD_CHECK_LAGS, LD_CHECK_SITES, LD_CHECK_ROWS = 16, 512, 256


class Autoregressive(LossPlan):
    """Order-``context`` autoregressive model of allele counts along the sites, conditional on labels.

    For site ``j`` with allele count ``x_j`` in ``0..n_trials`` (dosage 0/1/2 on unphased
    genotypes, allele 0/1 on haplotypes), ``p(x_j | x_<j, y) = softmax(l_j)`` over the
    ``n_trials + 1`` allele counts, the count 0 as reference, with logits

    ``l_j = b_j + b_{y, j} + sum_{t = 1..context} W_{t, j} . onehot(x_{j - t})``

    ``b_j`` per-site logits (started with ``W_{1, j}`` at the training data's first-order Markov
    chain, :meth:`prepare`),
    ``b_{y, j}`` a label's offsets (population-specific allele frequencies; none when
    unlabelled), ``W_{t, j}`` ``(n_trials, n_trials)`` the weights of the allele count
    ``t`` sites back (one-hot, reference count left out; sites before the first count as 0).
    A genotype is its own categorical, so a heterozygous genotype can be certain given its
    context (a binomial per site cannot exceed 1/2 for it). Training minimises the negative
    log-likelihood ``-sum_j log p(x_j | x_<j, y)`` (nats per genome or haplotype, ``val_loss``);
    early stopping watches it, and the kept epoch is its best or, from there on, the one whose
    generated rows' LD is closest to the validation rows' (``select``); generation draws sites in
    order.
    Lags cross chromosome boundaries like any other: their weights are learnt, about 0
    between unlinked sites.

    Parameters
    ----------
    n_input
        Sites, in position order (the data contract's ``var`` order).
    likelihood
        ``"binomial"`` (dosage, 3 allele counts) or ``"bernoulli"`` (haplotypes, 2).
    labels
        Label categories; empty for none.
    context
        Sites before each site that its genotype depends on (the order ``k``), or ``"auto"``:
        :data:`LAG_WEIGHTS_PER_SITE` weights per site, ``64 // n_trials ** 2`` sites (16 on
        dosages, 64 on haplotypes). Chosen before the Markov start (:meth:`prepare`) on eur_1kg
        (dosages: 32 sites overfit, validation NLL 748.5 vs 673.3 at 16) and the simulated
        three-population haplotypes (64 sites: 128.5 vs 193.3 at 16); ``benchmarks/README.md``.
    lr, weight_decay, lr_plateau_patience
        Adam learning rate, L2 weight decay, and epochs of validation plateau before the learning
        rate is halved (0: constant).
    select
        Which epoch's weights are kept. Early stopping (and the learning-rate halving) watch the
        validation NLL either way. ``"val_loss"``: the epoch of the best validation NLL.
        ``"ld"``: of the epochs from the best validation NLL on, the one whose generated rows' LD
        is closest to the validation rows' (``val_ld_gap``, :meth:`ld_gap`;
        :class:`omicsgen.train.ClosestLDAfterBestLikelihood`). At its best validation NLL the
        model generates 2-8% less LD than held-out genomes carry from 1 to 100 kb (eur_1kg); the
        epochs after it carry more without raising membership inference
        (``benchmarks/README.md``), as a GAN's checkpoint is chosen by a sample statistic on
        held-out data.
    haplotypes_per_row
        1: a generated row is one draw of the chain (a genome, or a haplotype on phased data).
        2: the model was trained on haplotypes phased from unphased genotypes (``ar.phase: hmm``,
        :func:`omicsgen.genotypes.phasing.hmm_haplotypes`) and each generated row is the dosage of
        two haplotypes drawn independently given the label (random mating: where a population
        has structure the label does not name, or inbreeding, a real genome's two haplotypes are
        more alike than that).

    Raises
    ------
    ValueError
        A likelihood without allele counts (the model has no site order to follow on
        expression or read counts); ``context`` neither ``"auto"`` nor an integer >= 1;
        ``haplotypes_per_row`` other than 1, or 2 on haplotypes (``"bernoulli"``).
    """

    latent_sampler = "none: every site drawn in position order given the sites before it and the label"
    curves = (("train_loss", "val_loss"), "negative log-likelihood (nats per genome)")

    def __init__(
        self,
        n_input: int,
        likelihood: str = "binomial",
        labels: list[str] = (),
        context: int | str = "auto",
        lr: float = 1e-2,
        weight_decay: float = 1e-4,
        lr_plateau_patience: int = 10,
        select: str = "val_loss",
        haplotypes_per_row: int = 1,
    ):
        super().__init__(likelihood, list(labels))
        n_trials = getattr(self.likelihood, "n_trials", None)
        if n_trials is None:
            raise ValueError(
                f"the autoregressive model draws genotypes along the sites; likelihood {likelihood!r} "
                "is not a genotype likelihood (binomial, bernoulli): use it on VCF, BCF, PLINK or VCF Zarr data"
            )
        if context == "auto":
            context = LAG_WEIGHTS_PER_SITE // n_trials**2
        if isinstance(context, bool) or not isinstance(context, int) or context < 1:
            raise ValueError(f"ar.context must be 'auto' or at least 1 site, got {context!r}")
        if select not in ("val_loss", "ld"):
            raise ValueError(f"ar.select must be 'ld' or 'val_loss', got {select!r}")
        if haplotypes_per_row not in (1, 2) or (haplotypes_per_row == 2 and n_trials != 1):
            raise ValueError(
                f"haplotypes_per_row must be 1, or 2 on haplotypes (bernoulli), got {haplotypes_per_row!r}"
            )
        self.save_hyperparameters()
        self.hparams.context = context  # the sites used, also in the checkpoint
        if n_trials == 1:  # the loss is per row: a haplotype
            self.curves = (self.curves[0], "negative log-likelihood (nats per haplotype)")
        self.n_classes = n_trials + 1
        k = self.n_classes - 1  # logits and one-hot features leave out allele count 0
        self.site_logits = nn.Parameter(torch.zeros(n_input, k))
        self.label_logits = nn.Parameter(torch.zeros(self.n_labels, n_input, k)) if self.n_labels else None
        self.lag_weights = nn.Parameter(torch.zeros(context, n_input, k, k))
        self._ld_reference: list[tuple[torch.Tensor, torch.Tensor | None]] = []  # validation rows, select: ld
        self._ld_reference_done = False

    def prepare(self, batches) -> None:
        """Start the model at the first-order Markov chain of the training genotypes.

        From the counts of each site's allele count (``n_j(c)``) and the transition counts of
        adjacent sites (``n_j(a, c)``: count ``a`` at site ``j - 1``, ``c`` at ``j``), the
        conditional ``p(c | a) = (n_j(a, c) + f_j(c)) / (n_j(a) + 1)`` is shrunk toward the site's
        frequency ``f_j`` (add-one smoothed) by one pseudo-genotype; ``b_j`` starts at its
        log-odds against allele count 0 given ``a = 0`` and the lag-1 weights ``W_{1, j}`` at the
        change in those log-odds for each other ``a`` (the first site: its frequencies, no lag).
        With the other lags and the label offsets at their initial 0 (a fresh model; training
        that resumes from a checkpoint does not call this), the model's ``p(x_j | x_<j)`` is then
        exactly that chain. Allele counts are rounded and clamped to ``0..n_trials`` as
        :meth:`_features` reads them. Training so starts where adjacent-site LD is already in the
        model: on eur_1kg dosages, mean validation NLL 671.5 vs 673.2 from independent sites and
        mean r2 below 1 kb 0.321 vs 0.305 (3 seeds, ``benchmarks/README.md``).
        """
        n_sites, n_classes = self.site_logits.shape[0], self.n_classes
        single = torch.zeros(n_sites, n_classes)
        transitions = torch.zeros(n_sites, n_classes * n_classes)  # [j, a * n_classes + c]: j - 1 at a, j at c
        for x, _ in batches:
            # one byte per genotype, not one-hot copies
            codes = torch.round(x).nan_to_num_(0.0).clamp_(0, n_classes - 1).to(torch.uint8)
            for c in range(n_classes):
                single[:, c] += (codes == c).sum(dim=0)
            pairs = codes[:, :-1] * n_classes + codes[:, 1:]
            for code in range(n_classes * n_classes):
                transitions[1:, code] += (pairs == code).sum(dim=0)
        frequency = (single + 1) / (single + 1).sum(dim=1, keepdim=True)
        pair = transitions.view(n_sites, n_classes, n_classes)[1:]  # sites 1.., (a, c)
        conditional = (pair + frequency[1:, None, :]) / (pair.sum(dim=2, keepdim=True) + 1)
        log_odds = torch.log(conditional[..., 1:]) - torch.log(conditional[..., :1])  # (sites 1.., a, c >= 1)
        with torch.no_grad():
            self.site_logits[0] = torch.log(frequency[0, 1:]) - torch.log(frequency[0, :1])
            self.site_logits[1:] = log_odds[:, 0]
            self.lag_weights[0, 1:] = log_odds[:, 1:] - log_odds[:, :1]

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """One-hot allele counts ``(batch, n_sites, n_trials)`` float32, count 0 left out."""
        return F.one_hot(x.round().long().clamp(0, self.n_classes - 1), self.n_classes)[..., 1:].float()

    def _base(self, y: torch.Tensor | None) -> torch.Tensor:
        """Per-site logits ``(batch or 1, n_sites, n_trials)`` before the context."""
        if self.label_logits is None:
            return self.site_logits.unsqueeze(0)
        if y is None:
            raise ValueError(f"the model is conditioned on {self.n_labels} labels; pass the label codes")
        return self.site_logits + self.label_logits[y.long()]

    def _window_log_likelihood(
        self, features: torch.Tensor, target: torch.Tensor, base: torch.Tensor, start: int, stop: int
    ) -> torch.Tensor:
        """``sum_j log p(x_j | x_<j, y)`` ``(batch,)`` over sites ``start..stop-1`` (teacher forcing)."""
        context = self.hparams.context
        before = features[:, max(0, start - context) : stop - 1]  # the sites the window's sites see
        before = F.pad(before, (0, 0, (stop - start) + context - 1 - before.shape[1], 0))  # none before site 0
        lagged = before.unfold(1, context, 1)  # (batch, sites, n_trials, context): lag context .. 1
        weights = self.lag_weights.flip(0)[:, start:stop]  # (context, sites, n_trials, n_trials), same order
        out = base[:, start:stop] + torch.einsum("bnfk,knfo->bno", lagged, weights)
        full = torch.cat([torch.zeros_like(out[..., :1]), out], dim=-1)
        return torch.log_softmax(full, dim=-1).gather(-1, target[:, start:stop]).squeeze(-1).sum(dim=1)

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``log p(x | y)`` ``(batch,)`` in nats, summed over the sites.

        Computed in windows of :data:`WINDOW_SITES` sites; while training, each window's
        intermediate tensors are recomputed in the backward pass (``torch.utils.checkpoint``), so
        memory holds the batch's one-hot features and one window's lags, not ``context`` lagged
        copies of the whole chromosome.
        """
        features = self._features(x)
        target = x.round().long().clamp(0, self.n_classes - 1).unsqueeze(-1)
        base = self._base(y).expand(x.shape[0], -1, -1)
        total = torch.zeros(x.shape[0], device=x.device)
        for start in range(0, x.shape[1], WINDOW_SITES):
            stop = min(start + WINDOW_SITES, x.shape[1])
            if torch.is_grad_enabled() and x.shape[1] > WINDOW_SITES:  # one window: nothing to save
                total = total + checkpoint(
                    self._window_log_likelihood, features, target, base, start, stop, use_reentrant=False
                )
            else:
                total = total + self._window_log_likelihood(features, target, base, start, stop)
        return total

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None, stage: str) -> torch.Tensor:
        loss = -self.log_likelihood(x, y)
        self.epoch_means.add(stage, loss=loss)
        if stage == "val" and self.hparams.select == "ld" and not self._ld_reference_done:
            held = sum(len(rows) for rows, _ in self._ld_reference)
            if self._trainer is not None and not self._trainer.sanity_checking and held < LD_CHECK_ROWS:
                keep = slice(0, LD_CHECK_ROWS - held)
                # copies, so that the batches they come from are not held
                self._ld_reference.append((x[keep, :LD_CHECK_SITES].clone(), None if y is None else y[keep].clone()))
        return loss

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self.hparams.select == "ld" and self._ld_reference and not self._trainer.sanity_checking:
            self._ld_reference_done = True
            self.log("val_ld_gap", self.ld_gap())

    def ld_gap(self) -> float:
        """``|1 - sum_t r2_gen(t) / sum_t r2_val(t)|``: how far generated rows' LD is from the validation rows'.

        ``r2(t)`` is the mean r2 between sites ``t = 1..``:data:`LD_CHECK_LAGS` apart
        (:func:`omicsgen.evaluate.popgen.lag_r2`) among the first :data:`LD_CHECK_SITES` sites of the first
        :data:`LD_CHECK_ROWS` validation rows (haplotypes, or genomes), and of sets of as many rows
        generated with their labels (as many sets as fit in :data:`LD_CHECK_ROWS` rows, at least
        one; their mean). Sample r2 is biased up by about ``1 / rows``, alike on both sides. The
        draws use torch's generator forked and reseeded from its initial seed (the run's seed), the
        same draws every epoch, and leave training's stream as it was. 0 where the validation rows
        hold no LD to compare (every site monomorphic among them): the kept epoch is then the best
        validation NLL's.
        """
        rows = torch.cat([rows for rows, _ in self._ld_reference])
        y = None if self._ld_reference[0][1] is None else torch.cat([y for _, y in self._ld_reference])
        sets = max(1, LD_CHECK_ROWS // len(rows))
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(torch.initial_seed())
            generated = self._draw(sets * len(rows), None if y is None else y.repeat(sets), n_sites=rows.shape[1])
        real = lag_r2(rows.cpu().numpy(), LD_CHECK_LAGS).sum()
        if real == 0:
            return 0.0
        parts = generated.cpu().numpy().reshape(sets, len(rows), -1)
        return float(abs(1 - np.mean([lag_r2(part, LD_CHECK_LAGS).sum() for part in parts]) / real))

    def generate(
        self, label: int, n: int, y: torch.Tensor | None, library: torch.Tensor | None, rng: np.random.Generator
    ) -> torch.Tensor:
        """Draw ``n`` genomes (or haplotypes) site by site, torch's global generator; returns allele
        counts ``(n, n_sites)`` float32 (with ``haplotypes_per_row`` 2, each row the sum of two
        haplotypes drawn independently). The label enters through ``y``; ``library`` is not used."""
        per_row = self.hparams.get("haplotypes_per_row", 1)
        if per_row > 1:
            y = None if y is None else y.repeat_interleave(per_row, dim=0)
            return self._draw(n * per_row, y).view(n, per_row, -1).sum(dim=1)
        return self._draw(n, y)

    def _draw(self, n: int, y: torch.Tensor | None, n_sites: int | None = None) -> torch.Tensor:
        """``n`` draws of the chain ``(n, n_sites)`` float32, site by site (the first ``n_sites``; default all)."""
        context = self.hparams.context
        base = self._base(y).expand(n, -1, -1)
        n_sites = base.shape[1] if n_sites is None else min(n_sites, base.shape[1])
        counts = torch.zeros(n, n_sites, dtype=torch.int8, device=base.device)  # int8: 1 byte per draw
        for j in range(n_sites):
            logits = base[:, j]
            first = max(0, j - context)
            if j > first:
                lags = torch.arange(j - first, 0, -1, device=base.device)  # lag t of sites first..j-1
                features = F.one_hot(counts[:, first:j].long(), self.n_classes)[..., 1:].float()
                logits = logits + torch.einsum("bwf,wfo->bo", features, self.lag_weights[lags - 1, j])
            full = torch.cat([torch.zeros_like(logits[:, :1]), logits], dim=1)
            counts[:, j] = torch.multinomial(torch.softmax(full, dim=1), 1).squeeze(1).to(torch.int8)
        return counts.float()
