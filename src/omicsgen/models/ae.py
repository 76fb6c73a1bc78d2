"""Deterministic autoencoder training plan with the data's likelihood (GenoCAE-style; Ausmees & Nettelblad 2022)."""

from __future__ import annotations

import numpy as np
import torch

from omicsgen.io import dense
from omicsgen.models.base import LikelihoodPlan
from omicsgen.models.modules import Decoder, Encoder


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
    ):
        super().__init__(n_input, likelihood, list(labels))
        self.save_hyperparameters()
        self.encoder = Encoder(n_input, n_latent, n_hidden, n_layers, dropout)
        self.decoder = Decoder(
            n_latent, n_input, self.decoder_output, n_hidden, n_layers, dropout, n_labels=self.n_labels
        )

    latent_sampler = "Gaussian per label (mean and full covariance of the label's training codes)"

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Codes ``(batch, n_latent)`` of ``x`` ``(batch, n_input)`` (and None: no variance)."""
        return self.encoder(self.encoder_input(x)), None

    def sample_latent(self, x_label, n: int, rng: np.random.Generator) -> torch.Tensor:
        """Draws from a Gaussian fitted to the label's training codes (:attr:`latent_sampler`)."""
        codes = self.encode(torch.from_numpy(dense(x_label)))[0].numpy().astype(np.float64)
        covariance = np.cov(codes, rowvar=False) if codes.shape[0] > 1 else np.zeros((codes.shape[1], codes.shape[1]))
        draws = rng.multivariate_normal(codes.mean(axis=0), np.atleast_2d(covariance), size=n, method="eigh")
        return torch.from_numpy(draws.astype(np.float32))

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None, stage: str) -> torch.Tensor:
        z, _ = self.encode(x)
        reconstruction = -self.log_likelihood(x, z, y)
        self.epoch_means.add(stage, loss=reconstruction)
        return reconstruction
