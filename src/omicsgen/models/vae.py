"""Variational autoencoder training plan (Kingma & Welling 2014; scVI, Lopez et al. 2018)."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from omicsgen.models.likelihoods import (
    LIKELIHOOD_NAMES,
    gaussian_log_prob,
    negative_binomial_log_prob,
    sample_negative_binomial,
)
from omicsgen.models.modules import Decoder, GaussianEncoder


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
        per-gene scale on continuous (log-normalised) values.
    n_latent, n_hidden, n_layers, dropout
        Latent dimensions and the encoder/decoder network shape.
    lr, weight_decay
        Adam learning rate and L2 weight decay.
    kl_warmup_epochs
        Epochs of KL warm-up; 0 for none.

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
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        kl_warmup_epochs: int = 50,
    ):
        super().__init__()
        if likelihood not in LIKELIHOOD_NAMES:
            raise ValueError(f"likelihood {likelihood!r} is not one of {LIKELIHOOD_NAMES}")
        self.save_hyperparameters()
        self.encoder = GaussianEncoder(n_input, n_latent, n_hidden, n_layers, dropout)
        self.decoder = Decoder(n_latent, n_input, likelihood, n_hidden, n_layers, dropout)
        # log of the per-gene NB inverse dispersion, or of the per-gene Gaussian scale
        self.log_dispersion = nn.Parameter(torch.zeros(n_input))

    # --- networks -------------------------------------------------------------------
    def _encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x) if self.hparams.likelihood == "nb" else x

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance ``(batch, n_latent)`` of ``x`` ``(batch, n_input)``."""
        return self.encoder(self._encoder_input(x))

    def decode(self, z: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        """Expected value of ``x`` given ``z`` ``(batch, n_latent)``.

        ``library`` ``(batch, 1)`` total counts per cell is required for ``"nb"`` (the mean is
        proportions x library); ignored for ``"gaussian"``. Returns ``(batch, n_input)``.
        """
        out = self.decoder(z)
        if self.hparams.likelihood == "nb":
            if library is None:
                raise ValueError("decode needs the library size for the 'nb' likelihood")
            return out * library
        return out

    def sample_observation(self, mean: torch.Tensor) -> torch.Tensor:
        """Draw ``x ~ p(x | z)`` given the decoded mean ``(batch, n_input)``; torch's global RNG."""
        if self.hparams.likelihood == "nb":
            return sample_negative_binomial(mean, self.log_dispersion.exp())
        return mean + self.log_dispersion.exp() * torch.randn_like(mean)

    # --- loss -----------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-cell reconstruction negative log-likelihood and KL, each ``(batch,)`` (nats)."""
        mean_z, log_var = self.encode(x)
        z = mean_z + torch.exp(0.5 * log_var) * torch.randn_like(mean_z)
        if self.hparams.likelihood == "nb":
            library = x.sum(dim=1, keepdim=True)
            log_lik = negative_binomial_log_prob(x, self.decode(z, library), self.log_dispersion.exp())
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
        loss = (reconstruction + weight * kl).mean()
        n = batch.shape[0]
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=n)
        self.log("train_reconstruction", reconstruction.mean(), on_step=False, on_epoch=True, batch_size=n)
        self.log("train_kl", kl.mean(), on_step=False, on_epoch=True, batch_size=n)
        self.log("kl_weight", weight, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        reconstruction, kl = self.elbo_terms(batch)
        n = batch.shape[0]
        self.log("val_loss", (reconstruction + kl).mean(), on_step=False, on_epoch=True, batch_size=n)
        self.log("val_reconstruction", reconstruction.mean(), on_step=False, on_epoch=True, batch_size=n)
        self.log("val_kl", kl.mean(), on_step=False, on_epoch=True, batch_size=n)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
