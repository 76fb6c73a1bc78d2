"""What the training plans share: per-epoch loss means, the likelihood of the data, label conditioning."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from omicsgen.models.likelihoods import get_likelihood
from omicsgen.models.modules import Decoder


class EpochMeans:
    """Running per-cell sums of loss terms, turned into per-epoch means (then reset).

    Values are ``(batch,)`` tensors of per-cell terms; :meth:`means` returns the mean over
    all cells seen since the last call for that stage, so the last, smaller batch of an
    epoch is weighted by its size.
    """

    def __init__(self):
        self._sums: dict[str, dict[str, torch.Tensor]] = {}
        self._counts: dict[str, int] = {}

    def add(self, stage: str, **per_cell: torch.Tensor) -> None:
        sums = self._sums.setdefault(stage, {})
        for name, values in per_cell.items():
            sums[name] = sums.get(name, 0.0) + values.detach().sum()
        self._counts[stage] = self._counts.get(stage, 0) + next(iter(per_cell.values())).shape[0]

    def means(self, stage: str) -> dict[str, torch.Tensor]:
        sums, count = self._sums.pop(stage, {}), self._counts.pop(stage, 0)
        return {name: total / count for name, total in sums.items()}


class TrainingPlan(L.LightningModule):
    """Base of the training plans: the data's likelihood, labels, and per-epoch logging.

    Subclasses build ``self.decoder`` (a :class:`~omicsgen.models.modules.Decoder`) or override
    :meth:`decode` (the GAN, the autoregressive model) and add their loss terms to ``self.epoch_means`` under stage
    ``"train"`` or ``"val"``.

    Parameters
    ----------
    likelihood
        ``"nb"`` (counts; scVI's negative binomial with the cell's library size scaling the
        decoded proportions), ``"gaussian"`` (continuous values), ``"binomial"`` (alt-allele
        dosage 0/1/2) or ``"bernoulli"`` (one haplotype's allele 0/1).
    labels
        Label categories the decoder is conditioned on (one-hot), in code order; empty for
        an unconditional model.

    Raises
    ------
    ValueError
        Unknown likelihood.
    """

    has_encoder = False  # encode(x) gives a latent of real cells (the latent stage needs it)
    monitor: str | None = (
        None  # logged validation loss for early stopping and the best checkpoint; None: run the budget
    )
    latent_sampler = ""  # how sample_latent draws, as the synthetic data's provenance states it
    curves: tuple[tuple[str, ...], str] = ((), "")  # history columns the report draws, and their y axis

    def __init__(self, likelihood: str, labels: list[str]):
        super().__init__()
        self.likelihood = get_likelihood(likelihood)
        self.labels = list(labels)
        self.n_labels = len(self.labels)
        self.epoch_means = EpochMeans()

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees (:meth:`Likelihood.encoder_input
        <omicsgen.models.likelihoods.Likelihood.encoder_input>`: ``log1p`` of counts)."""
        return self.likelihood.encoder_input(x)

    def decode(
        self, z: torch.Tensor, y: torch.Tensor | None = None, library: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Expected value of ``x`` given ``z`` ``(batch, n_latent)`` and label codes ``y`` ``(batch,)``.

        ``library`` ``(batch, 1)`` total counts per cell is required for ``"nb"`` (the mean is
        proportions x library); ignored otherwise. For genotypes the expected allele count
        (``n_trials * p``). Returns ``(batch, n_input)``.

        Raises
        ------
        ValueError
            No library size for ``"nb"``; no labels for a conditional model.
        """
        return self.likelihood.mean(self.decoder(z, y), library)

    def sample_latent(self, label: int, n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` latent draws ``(n, n_latent)`` float32 for one label, as :attr:`latent_sampler` says.

        Parameters
        ----------
        label
            The label's code in :attr:`labels` (0 for an unconditional model).
        n
            Draws.
        rng
            numpy generator for the family's own draws (torch's global generator for the rest).
        """
        raise NotImplementedError

    def generate(
        self, label: int, n: int, y: torch.Tensor | None, library: torch.Tensor | None, rng: np.random.Generator
    ) -> torch.Tensor:
        """``n`` synthetic observations ``(n, n_vars)`` float32 of one label, on the data's scale.

        By default a latent from :meth:`sample_latent`, decoded (:meth:`decode`) and drawn from
        the observation model (``sample_observation``); families without a latent override it.
        No training observation is read: what a model draws from was fitted when it was trained.

        Parameters
        ----------
        label, n, rng
            As :meth:`sample_latent`.
        y
            ``(n,)`` label codes for a conditional model (:meth:`conditioning`), else None.
        library
            ``(n, 1)`` total counts per cell where the likelihood needs them, else None.
        """
        return self.sample_observation(self.decode(self.sample_latent(label, n, rng), y, library))

    def conditioning(self, y: torch.Tensor) -> torch.Tensor | None:
        """The label codes a conditional model's networks take; None when unconditional."""
        return y if self.n_labels else None

    def prepare(self, batches) -> None:
        """Set what the model derives from the training data before training starts (nothing by
        default; the GAN's output bias). Not called when training resumes from a checkpoint.

        Parameters
        ----------
        batches
            Iterable of ``(x, y)``: float32 ``(n, n_vars)`` training rows and their int64 label codes.
        """

    def finish(self, data) -> dict:
        """Fit what the model derives from its trained networks and the training data, after training
        (nothing by default; AE and VAE: :meth:`LikelihoodPlan.finish`). Called on the restored best
        model, whose checkpoint is then rewritten.

        Parameters
        ----------
        data
            The run's :class:`~omicsgen.data.AnnDataModule` (rows on the CPU).

        Returns
        -------
        dict
            What was fitted, for ``training.json`` (empty: nothing).
        """
        return {}

    def extra_logged(self) -> dict[str, float]:
        """Values logged once per training epoch beside the loss means (none by default)."""
        return {}

    def on_train_epoch_end(self) -> None:
        # Training terms go straight to the logger: each self.log call costs about 1 ms in
        # Lightning's result collection, 10% of an epoch on small data. Validation terms use
        # self.log because early stopping and checkpointing read val_loss from it.
        metrics = {f"train_{name}": float(v) for name, v in self.epoch_means.means("train").items()}
        if self.logger is not None:
            self.logger.log_metrics(
                {**metrics, **self.extra_logged(), "epoch": self.current_epoch}, step=self.global_step
            )

    def on_validation_epoch_end(self) -> None:
        for name, value in self.epoch_means.means("val").items():
            self.log(f"val_{name}", value)


class LossPlan(TrainingPlan):
    """Base of the plans trained on one per-observation loss (AE, VAE, the autoregressive model):
    early stopping on ``val_loss``, Adam halved on a plateau.

    Subclasses define ``loss_terms(x, y, stage)`` returning the per-observation loss
    ``(batch,)`` after adding its terms to ``self.epoch_means``; their hyperparameters include
    ``lr``, ``weight_decay`` and ``lr_plateau_patience``.
    """

    monitor = "val_loss"
    curves = (("train_loss", "val_loss"), "loss (nats per cell)")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.loss_terms(x, self.conditioning(y), "train").mean()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.loss_terms(x, self.conditioning(y), "val")

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if not self.hparams.lr_plateau_patience:
            return optimizer
        # halve the learning rate when the validation loss stalls (scVI's reduce_lr_on_plateau)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=self.hparams.lr_plateau_patience
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}


class LikelihoodPlan(LossPlan):
    """Base of the encoder-decoder plans (AE, VAE): the decoder's observation model and the latent prior.

    Holds the per-feature NB inverse dispersion (or Gaussian scale) as ``log_dispersion``, and
    the prior that synthesis samples codes from: a Gaussian per label (``prior_mean``
    ``(n_groups, n_latent)``, ``prior_cov`` ``(n_groups, n_latent, n_latent)``; one group when
    unconditional), fitted to the training codes after training (:meth:`finish`), so that
    generation never reads or re-encodes a training cell.

    Subclasses define :meth:`codes` and :meth:`posterior_draw`.
    """

    has_encoder = True
    latent_sampler = (
        "Gaussian prior per label, fitted after training to the label's training codes "
        "(mean; covariance shrunk towards the pooled within-label covariance)"
    )
    max_fit_rows = 10_000  # training rows the dispersion fit reads at most (a seeded random subset)
    fit_batch_rows = 1024  # rows per forward pass of the fits after training (bounds their memory)
    dispersion_grid_points = 12  # log-spaced candidates per round of the dispersion search (two rounds)

    def __init__(self, n_input: int, likelihood: str, labels: list[str], n_latent: int):
        super().__init__(likelihood, labels)
        self.log_dispersion = nn.Parameter(torch.zeros(n_input))
        self.decoder_output = self.likelihood.decoder_activation
        groups = max(1, self.n_labels)
        self.register_buffer("prior_mean", torch.zeros(groups, n_latent))
        self.register_buffer("prior_cov", torch.eye(n_latent).repeat(groups, 1, 1))

    def build_decoder(
        self, n_latent: int, n_input: int, n_hidden: int, n_layers: int, dropout: float, conditional: bool
    ) -> Decoder:
        """The decoder from the latent to the likelihood's parameters, given the one-hot label when
        ``conditional`` and the data are labelled."""
        return Decoder(
            n_latent,
            n_input,
            self.decoder_output,
            n_hidden,
            n_layers,
            dropout,
            n_labels=self.n_labels if conditional else 0,
        )

    def conditioning(self, y: torch.Tensor) -> torch.Tensor | None:
        """The label codes the decoder takes: None when unconditional or ``conditional_decoder`` is false."""
        return y if self.decoder.n_labels else None  # as the decoder was built (build_decoder)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The latent point of each row of ``x`` ``(batch, n_input)`` that the prior is fitted to
        (AE: its code; VAE: the posterior mean), ``(batch, n_latent)``."""
        raise NotImplementedError

    def posterior_draw(self, x: torch.Tensor) -> torch.Tensor:
        """A latent draw ``(batch, n_latent)`` for each row of ``x`` as the training loss scores it
        (AE: the code; VAE: ``z ~ q(z | x)``)."""
        raise NotImplementedError

    def sample_observation(self, mean: torch.Tensor) -> torch.Tensor:
        """Draw ``x ~ p(x | z)`` given the decoded mean ``(batch, n_input)``; torch's global RNG."""
        return self.likelihood.sample(mean, self.log_dispersion)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Per-cell ``log p(x | z, y)`` ``(batch,)`` in nats, summed over features."""
        return self.likelihood.log_prob(x, self.decoder(z, y), self.log_dispersion).sum(dim=1)

    def sample_latent(self, label: int, n: int, rng: np.random.Generator) -> torch.Tensor:
        """Draws from the label's fitted Gaussian prior (:attr:`latent_sampler`; :meth:`fit_latent_prior`)."""
        mean = self.prior_mean[label].double().cpu().numpy()
        cov = self.prior_cov[label].double().cpu().numpy()
        return torch.from_numpy(rng.multivariate_normal(mean, cov, size=n, method="eigh").astype(np.float32))

    def finish(self, data) -> dict:
        """Fit the latent prior (:meth:`fit_latent_prior`) and refit the dispersion (:meth:`fit_dispersion`)."""
        prior = self.fit_latent_prior(data.train_batches(self.fit_batch_rows))
        return {"latent_prior": prior, "dispersion": self.fit_dispersion(data)}

    @torch.no_grad()
    def fit_latent_prior(self, batches) -> dict:
        """Fit the per-label Gaussian prior to the training codes (:meth:`codes`), in one pass over ``batches``.

        The mean is the label's mean code. The covariance is the label's sample covariance
        ``S_l`` of its ``n_l`` codes shrunk towards the pooled within-label covariance ``S``
        with the weight of ``n_latent`` pseudo-observations,
        ``((n_l - 1) S_l + n_latent S) / (n_l - 1 + n_latent)`` (the posterior mean of a
        normal-inverse-Wishart prior centred on ``S``), so that a label with few cells gets a
        spread like the others' rather than collapsing onto its cells' codes. This is the
        ex-post density estimate of the regularised autoencoders of Ghosh et al. (ICLR 2020)
        with one Gaussian per label.

        Parameters
        ----------
        batches
            Iterable of ``(x, y)`` training rows and label codes.

        Returns
        -------
        dict
            ``n_per_group`` training codes per label (or ``"all"``).
        """
        groups, n_latent = self.prior_mean.shape
        count = torch.zeros(groups, dtype=torch.float64)
        total = torch.zeros(groups, n_latent, dtype=torch.float64)
        outer = torch.zeros(groups, n_latent, n_latent, dtype=torch.float64)
        for x, y in batches:
            z = self.codes(x).double()
            g = y if self.n_labels else torch.zeros_like(y)
            count.index_add_(0, g, torch.ones_like(g, dtype=torch.float64))
            total.index_add_(0, g, z)
            outer.index_add_(0, g, z[:, :, None] * z[:, None, :])
        seen = count > 0
        mean = total / count.clamp_min(1.0)[:, None]
        scatter = outer - count[:, None, None] * mean[:, :, None] * mean[:, None, :]  # (n_l - 1) S_l
        dof = (count - 1.0).clamp_min(0.0)
        pooled = scatter[seen].sum(dim=0) / max(1.0, float(dof[seen].sum()))
        cov = (scatter + n_latent * pooled) / (dof + n_latent)[:, None, None]
        self.prior_mean.copy_(torch.where(seen[:, None], mean, 0.0).float())
        self.prior_cov.copy_(torch.where(seen[:, None, None], cov, pooled).float())
        names = self.labels if self.n_labels else ["all"]
        return {"n_per_group": {name: int(n) for name, n in zip(names, count.tolist())}}

    @torch.no_grad()
    def fit_dispersion(self, data) -> dict:
        """Refit the per-feature dispersion by maximum likelihood with the networks held fixed, kept only
        if it lowers the validation loss.

        During training the dispersion moves with the learning rate while early stopping picks
        the epoch of the networks, and on small data it stops far from its optimum (on
        pbmc68k: median NB theta 1.8 at the best epoch against about 9 at the maximum, and the
        synthetic cells had too many zeros). This is one coordinate-ascent step on the
        training objective: for each feature, the value that maximises
        ``sum_i log p(x_i | z_i)``, ``z_i`` from :meth:`posterior_draw`, over at most
        :attr:`max_fit_rows` training rows, found on a log-spaced grid in two rounds of
        :attr:`dispersion_grid_points` candidates (over the likelihood's ``dispersion_range``,
        then over one coarse step either side of each feature's best, a step ratio of about
        1.26 for NB theta), both rounds with the same draws. The validation loss is computed
        before and after with the same draws; the refit is undone if it is higher.

        Returns
        -------
        dict
            ``refit`` (kept or not), ``val_loss_before``, ``val_loss_after`` (nats per cell) and
            quantiles (0, 0.1, 0.5, 0.9, 1) of the dispersion before and after; ``{"refit": False}``
            for a likelihood without one.
        """
        if self.likelihood.dispersion_range is None:
            return {"refit": False}
        low, high = np.log(self.likelihood.dispersion_range)
        before = self.log_dispersion.detach().clone()
        k = self.dispersion_grid_points
        coarse = torch.linspace(low, high, k)[:, None].expand(k, before.shape[0])
        best = self._best_dispersion(data, coarse)
        step = (high - low) / (k - 1)
        fine = (best[None, :] + torch.linspace(-step, step, k)[:, None]).clamp(low, high)
        fitted = self._best_dispersion(data, fine)
        loss_before = self._validation_loss(data)
        self.log_dispersion.copy_(fitted)
        loss_after = self._validation_loss(data)
        kept = loss_after <= loss_before
        if not kept:
            self.log_dispersion.copy_(before)
        quantiles = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
        return {
            "refit": bool(kept),
            "val_loss_before": loss_before,
            "val_loss_after": loss_after,
            "dispersion_quantiles_before": torch.quantile(before.exp(), quantiles).tolist(),
            "dispersion_quantiles_after": torch.quantile(fitted.exp(), quantiles).tolist(),
        }

    def _best_dispersion(self, data, candidates: torch.Tensor) -> torch.Tensor:
        """Per feature, the candidate log-dispersion (``candidates`` ``(k, n_vars)``) with the highest
        training log-likelihood, ``(n_vars,)``; the same rows and posterior draws on every call."""
        scores = torch.zeros(candidates.shape, dtype=torch.float64)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for x, y in data.train_batches(self.fit_batch_rows, max_rows=self.max_fit_rows):
                out = self.decoder(self.posterior_draw(x), self.conditioning(y))
                for i, value in enumerate(candidates):
                    scores[i] += self.likelihood.log_prob(x, out, value).sum(dim=0).double()
        return candidates.gather(0, scores.argmax(dim=0, keepdim=True))[0]

    def _validation_loss(self, data) -> float:
        """Mean validation loss per cell (nats), with fixed draws."""
        total, n = 0.0, 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for x, y in data.val_batches(self.fit_batch_rows):
                total += float(self.loss_terms(x, self.conditioning(y), "finish").sum())
                n += x.shape[0]
        self.epoch_means.means("finish")
        return total / n
