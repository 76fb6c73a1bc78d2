"""What the training plans share: per-epoch loss means, the likelihood of the data, label conditioning."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from omicsgen.models.likelihoods import get_likelihood


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

    Subclasses build ``self.decoder`` (a :class:`~omicsgen.models.modules.Decoder`, the
    GAN's generator) and add their loss terms to ``self.epoch_means`` under stage
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

    def sample_latent(self, x_label, n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` latent draws ``(n, n_latent)`` float32 for one label, as :attr:`latent_sampler` says.

        Parameters
        ----------
        x_label
            The label's training rows ``(n_cells, n_vars)`` (dense or CSR), for families that
            draw from the codes of training data.
        n
            Draws.
        rng
            numpy generator for the family's own draws (torch's global generator for the rest).
        """
        raise NotImplementedError

    def generate(
        self, x_label, n: int, y: torch.Tensor | None, library: torch.Tensor | None, rng: np.random.Generator
    ) -> torch.Tensor:
        """``n`` synthetic observations ``(n, n_vars)`` float32 of one label, on the data's scale.

        By default a latent from :meth:`sample_latent`, decoded (:meth:`decode`) and drawn from
        the observation model (``sample_observation``); families without a latent override it.

        Parameters
        ----------
        x_label, n, rng
            As :meth:`sample_latent`.
        y
            ``(n,)`` label codes for a conditional model (:meth:`conditioning`), else None.
        library
            ``(n, 1)`` total counts per cell where the likelihood needs them, else None.
        """
        return self.sample_observation(self.decode(self.sample_latent(x_label, n, rng), y, library))

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
    """Base of the encoder-decoder plans (AE, VAE): the observation model of the decoder.

    Holds the per-feature NB inverse dispersion (or Gaussian scale) as ``log_dispersion``.
    """

    has_encoder = True

    def __init__(self, n_input: int, likelihood: str, labels: list[str]):
        super().__init__(likelihood, labels)
        self.log_dispersion = nn.Parameter(torch.zeros(n_input))
        self.decoder_output = self.likelihood.decoder_activation

    def sample_observation(self, mean: torch.Tensor) -> torch.Tensor:
        """Draw ``x ~ p(x | z)`` given the decoded mean ``(batch, n_input)``; torch's global RNG."""
        return self.likelihood.sample(mean, self.log_dispersion)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Per-cell ``log p(x | z, y)`` ``(batch,)`` in nats, summed over features."""
        return self.likelihood.log_prob(x, self.decoder(z, y), self.log_dispersion).sum(dim=1)
