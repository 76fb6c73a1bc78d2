"""Deterministic autoencoder training plan with the data's likelihood (GenoCAE-style; Ausmees & Nettelblad 2022)."""

from __future__ import annotations

import torch

from omicsgen.models.base import LikelihoodPlan
from omicsgen.models.modules import Encoder


class AE(LikelihoodPlan):
    """Autoencoder trained on the negative log-likelihood of ``x`` given its code ``z = f(x)``.

    Same likelihoods as the VAE (negative binomial on counts, Gaussian, binomial on
    dosages, Bernoulli on haplotypes) instead of MSE, no KL term. With labels the decoder
    also gets the one-hot label (the encoder sees ``x`` only). It has no prior to sample:
    :func:`omicsgen.synthesize.synthesize` draws its codes from a Gaussian fitted to the
    training codes of each label.

    Parameters
    ----------
    n_input
        Number of features.
    likelihood
        See :class:`~omicsgen.models.base.TrainingPlan`.
    labels
        Label categories of the conditional decoder; empty for none.
    n_latent, n_hidden, n_layers, dropout
        Code dimensions and the encoder/decoder network shape.
    lr, weight_decay, lr_plateau_patience
        Adam learning rate, L2 weight decay, and epochs of validation plateau before the
        learning rate is halved (0: constant).

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
        lr_plateau_patience: int = 10,
        conditional_decoder: bool = False,
    ):
        super().__init__(n_input, likelihood, list(labels), n_latent)
        self.save_hyperparameters()
        self.encoder = Encoder(n_input, n_latent, n_hidden, n_layers, dropout)
        self.decoder = self.build_decoder(n_latent, n_input, n_hidden, n_layers, dropout, conditional_decoder)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Codes ``(batch, n_latent)`` of ``x`` ``(batch, n_input)`` (and None: no variance)."""
        return self.encoder(self.encoder_input(x)), None

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``(batch, n_latent)``: what the latent prior is fitted to."""
        return self.encode(x)[0]

    posterior_draw = codes  # the training loss scores the code itself

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None, stage: str) -> torch.Tensor:
        z, _ = self.encode(x)
        reconstruction = -self.log_likelihood(x, z, y)
        self.epoch_means.add(stage, loss=reconstruction)
        return reconstruction
