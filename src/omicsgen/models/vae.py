"""Variational autoencoder training plan (Kingma & Welling 2014; scVI, Lopez et al. 2018; cVAE, Sohn et al. 2015)."""

from __future__ import annotations

import torch

from omicsgen.models.base import LikelihoodPlan
from omicsgen.models.modules import GaussianEncoder


class VAE(LikelihoodPlan):
    """VAE with a likelihood chosen by the data, trained on the negative ELBO.

    Loss per cell: ``-E_q[log p(x | z, y)] + w * KL(q(z | x) || N(0, I))`` where the KL weight
    ``w`` rises linearly from ``1 / kl_warmup_epochs`` to 1 over the first
    ``kl_warmup_epochs`` epochs (KL warm-up, Bowman et al. 2016; as scVI). Validation
    always uses ``w = 1`` so ``val_loss`` is the negative ELBO and early stopping
    compares like with like. With labels the decoder also gets the one-hot label ``y``
    (conditional VAE); the encoder sees ``x`` only, so the latent keeps the label structure
    that the latent metrics score. Synthetic cells are drawn from a Gaussian prior per label
    fitted to the training cells' posterior means after training, with the dispersion refitted
    (:class:`~omicsgen.models.base.LikelihoodPlan`), not from N(0, I): the aggregate posterior
    of a VAE is far from its prior (Rosca et al. 2018; Ghosh et al. 2020).

    Parameters
    ----------
    n_input
        Number of features (genes, sites, pileup positions x channels).
    likelihood
        See :class:`~omicsgen.models.base.TrainingPlan`; the encoder sees ``log1p(counts)``
        for ``"nb"``.
    labels
        Label categories of the conditional decoder; empty for none.
    n_latent, n_hidden, n_layers, dropout
        Latent dimensions and the encoder/decoder network shape.
    lr, weight_decay
        Adam learning rate and L2 weight decay.
    kl_warmup_epochs
        Epochs of KL warm-up; 0 for none.
    lr_plateau_patience
        Epochs without improvement of ``val_loss`` before the learning rate is halved
        (``ReduceLROnPlateau``); 0 keeps it constant.
    conditional_decoder
        Also give the decoder the one-hot label. False (the default): the label reaches
        generation only through the per-label latent prior, so the latent has to carry it.

    Raises
    ------
    ValueError
        Unknown likelihood.
    """

    def __init__(
        self,
        n_input: int,
        likelihood: str = "nb",
        labels: list[str] = (),
        n_latent: int = 10,
        n_hidden: int = 128,
        n_layers: int = 1,
        dropout: float = 0.1,
        lr: float = 1e-2,
        weight_decay: float = 1e-6,
        kl_warmup_epochs: int = 50,
        lr_plateau_patience: int = 10,
        conditional_decoder: bool = False,
    ):
        super().__init__(n_input, likelihood, list(labels), n_latent)
        self.save_hyperparameters()
        self.encoder = GaussianEncoder(n_input, n_latent, n_hidden, n_layers, dropout)
        self.decoder = self.build_decoder(n_latent, n_input, n_hidden, n_layers, dropout, conditional_decoder)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance ``(batch, n_latent)`` of ``x`` ``(batch, n_input)``."""
        return self.encoder(self.encoder_input(x))

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means ``(batch, n_latent)``: what the latent prior is fitted to."""
        return self.encode(x)[0]

    def posterior_draw(self, x: torch.Tensor) -> torch.Tensor:
        """``z ~ q(z | x)`` ``(batch, n_latent)`` (reparameterised; torch's global generator)."""
        mean_z, log_var = self.encode(x)
        return mean_z + torch.exp(0.5 * log_var) * torch.randn_like(mean_z)

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-cell reconstruction negative log-likelihood and KL, each ``(batch,)`` (nats)."""
        mean_z, log_var = self.encode(x)
        z = mean_z + torch.exp(0.5 * log_var) * torch.randn_like(mean_z)
        kl = 0.5 * (log_var.exp() + mean_z**2 - 1.0 - log_var).sum(dim=1)
        return -self.log_likelihood(x, z, y), kl

    def kl_weight(self) -> float:
        """KL weight of the current epoch (linear warm-up)."""
        warmup = self.hparams.kl_warmup_epochs
        return 1.0 if warmup <= 0 else min(1.0, (self.current_epoch + 1) / warmup)

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None, stage: str) -> torch.Tensor:
        reconstruction, kl = self.elbo_terms(x, y)
        per_cell = reconstruction + (self.kl_weight() if stage == "train" else 1.0) * kl
        self.epoch_means.add(stage, loss=per_cell, reconstruction=reconstruction, kl=kl)
        return per_cell

    def extra_logged(self) -> dict[str, float]:
        return {"kl_weight": self.kl_weight()}
