"""Variational autoencoder training plan (Kingma & Welling 2014; scVI, Lopez et al. 2018)."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from omicsgen.models.likelihoods import (
    LIKELIHOOD_NAMES,
    N_TRIALS,
    binomial_log_prob,
    gaussian_log_prob,
    negative_binomial_log_prob,
    sample_binomial,
    sample_negative_binomial,
)
from omicsgen.models.modules import Decoder, GaussianEncoder


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


class VAE(L.LightningModule):
    """VAE with a likelihood chosen by the data, trained on the negative ELBO.

    Loss per cell: ``-E_q[log p(x | z)] + w * KL(q(z | x) || N(0, I))`` where the KL weight
    ``w`` rises linearly from ``1 / kl_warmup_epochs`` to 1 over the first
    ``kl_warmup_epochs`` epochs (KL warm-up, Bowman et al. 2016; as scVI). Validation
    always uses ``w = 1`` so ``val_loss`` is the negative ELBO and early stopping
    compares like with like.

    Parameters
    ----------
    n_input
        Number of features (genes).
    likelihood
        ``"nb"``: negative binomial on counts with per-gene inverse dispersion; the encoder
        sees ``log1p(counts)`` and the decoder's proportions are scaled by the observed
        library size (total counts of the cell), as scVI. ``"gaussian"``: Normal with
        per-gene scale on continuous (log-normalised) values. ``"binomial"``: alt-allele
        dosage 0/1/2 as Binomial(2, p) per site; ``"bernoulli"``: one haplotype's allele
        0/1 per site; ``p`` is decoded from ``z``.
    n_latent, n_hidden, n_layers, dropout
        Latent dimensions and the encoder/decoder network shape.
    lr, weight_decay
        Adam learning rate and L2 weight decay.
    kl_warmup_epochs
        Epochs of KL warm-up; 0 for none.
    lr_plateau_patience
        Epochs without improvement of ``val_loss`` before the learning rate is halved
        (``ReduceLROnPlateau``); 0 keeps it constant.

    Raises
    ------
    ValueError
        Unknown likelihood.
    """

    def __init__(
        self,
        n_input: int,
        likelihood: str = "nb",
        n_latent: int = 10,
        n_hidden: int = 128,
        n_layers: int = 1,
        dropout: float = 0.1,
        lr: float = 1e-2,
        weight_decay: float = 1e-6,
        kl_warmup_epochs: int = 50,
        lr_plateau_patience: int = 10,
    ):
        super().__init__()
        if likelihood not in LIKELIHOOD_NAMES:
            raise ValueError(f"likelihood {likelihood!r} is not one of {LIKELIHOOD_NAMES}")
        self.save_hyperparameters()
        self.encoder = GaussianEncoder(n_input, n_latent, n_hidden, n_layers, dropout)
        self.decoder = Decoder(n_latent, n_input, likelihood, n_hidden, n_layers, dropout)
        # log of the per-gene NB inverse dispersion, or of the per-gene Gaussian scale
        self.log_dispersion = nn.Parameter(torch.zeros(n_input))
        self._epoch_sums = EpochMeans()

    # --- networks -------------------------------------------------------------------
    def _encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x) if self.hparams.likelihood == "nb" else x

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance ``(batch, n_latent)`` of ``x`` ``(batch, n_input)``."""
        return self.encoder(self._encoder_input(x))

    def decode(self, z: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        """Expected value of ``x`` given ``z`` ``(batch, n_latent)``.

        ``library`` ``(batch, 1)`` total counts per cell is required for ``"nb"`` (the mean is
        proportions x library); ignored otherwise. For genotypes the expected dosage
        (``n_trials * p``). Returns ``(batch, n_input)``.
        """
        out = self.decoder(z)
        likelihood = self.hparams.likelihood
        if likelihood == "nb":
            if library is None:
                raise ValueError("decode needs the library size for the 'nb' likelihood")
            return out * library
        if likelihood in N_TRIALS:
            return N_TRIALS[likelihood] * torch.sigmoid(out)
        return out

    def sample_observation(self, mean: torch.Tensor) -> torch.Tensor:
        """Draw ``x ~ p(x | z)`` given the decoded mean ``(batch, n_input)``; torch's global RNG."""
        likelihood = self.hparams.likelihood
        if likelihood == "nb":
            return sample_negative_binomial(mean, self.log_dispersion.exp())
        if likelihood in N_TRIALS:
            return sample_binomial(mean / N_TRIALS[likelihood], N_TRIALS[likelihood])
        return mean + self.log_dispersion.exp() * torch.randn_like(mean)

    # --- loss -----------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-cell reconstruction negative log-likelihood and KL, each ``(batch,)`` (nats)."""
        mean_z, log_var = self.encode(x)
        z = mean_z + torch.exp(0.5 * log_var) * torch.randn_like(mean_z)
        likelihood = self.hparams.likelihood
        if likelihood == "nb":
            library = x.sum(dim=1, keepdim=True)
            log_lik = negative_binomial_log_prob(x, self.decode(z, library), self.log_dispersion.exp())
        elif likelihood in N_TRIALS:
            log_lik = binomial_log_prob(x, self.decoder(z), N_TRIALS[likelihood])
        else:
            log_lik = gaussian_log_prob(x, self.decode(z), self.log_dispersion)
        kl = 0.5 * (log_var.exp() + mean_z**2 - 1.0 - log_var).sum(dim=1)
        return -log_lik.sum(dim=1), kl

    def kl_weight(self) -> float:
        """KL weight of the current epoch (linear warm-up)."""
        warmup = self.hparams.kl_warmup_epochs
        return 1.0 if warmup <= 0 else min(1.0, (self.current_epoch + 1) / warmup)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        reconstruction, kl = self.elbo_terms(batch)
        weight = self.kl_weight()
        per_cell = reconstruction + weight * kl
        self._epoch_sums.add("train", loss=per_cell, reconstruction=reconstruction, kl=kl)
        return per_cell.mean()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        reconstruction, kl = self.elbo_terms(batch)
        self._epoch_sums.add("val", loss=reconstruction + kl, reconstruction=reconstruction, kl=kl)

    def on_train_epoch_end(self) -> None:
        # Training terms go straight to the logger: each self.log call costs about 1 ms in
        # Lightning's result collection, 10% of an epoch on small data. Validation terms use
        # self.log because early stopping and checkpointing read val_loss from it.
        metrics = {f"train_{name}": float(v) for name, v in self._epoch_sums.means("train").items()}
        if self.logger is not None:
            self.logger.log_metrics({**metrics, "kl_weight": self.kl_weight(), "epoch": self.current_epoch}, step=self.global_step)

    def on_validation_epoch_end(self) -> None:
        for name, value in self._epoch_sums.means("val").items():
            self.log(f"val_{name}", value)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if not self.hparams.lr_plateau_patience:
            return optimizer
        # halve the learning rate when the validation ELBO stalls (scVI's reduce_lr_on_plateau)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=self.hparams.lr_plateau_patience
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
