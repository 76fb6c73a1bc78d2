"""Pure ``torch.nn`` networks shared by the model families (the scvi-tools split)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mlp(n_in: int, n_hidden: int, n_layers: int, dropout: float) -> nn.Sequential:
    """Fully connected stack: ``n_layers`` x (Linear, LayerNorm, ReLU, Dropout).

    Parameters
    ----------
    n_in
        Input features.
    n_hidden
        Width of every hidden layer; also the output width.
    n_layers
        Number of hidden layers (>= 1).
    dropout
        Dropout probability after each layer.
    """
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [
            nn.Linear(n_in if i == 0 else n_hidden, n_hidden),
            nn.LayerNorm(n_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
        ]
    return nn.Sequential(*layers)


def with_label(x: torch.Tensor, y: torch.Tensor | None, n_labels: int) -> torch.Tensor:
    """Concatenate the one-hot label to ``x`` (conditional VAE/GAN; Sohn et al. 2015, Mirza & Osindero 2014).

    Parameters
    ----------
    x
        ``(batch, n)`` float32.
    y
        ``(batch,)`` int64 label codes in ``0..n_labels-1``; ignored when ``n_labels`` is 0.
    n_labels
        Number of label categories; 0 for an unconditional model.

    Returns
    -------
    torch.Tensor
        ``(batch, n + n_labels)`` float32.

    Raises
    ------
    ValueError
        A conditional model (``n_labels > 0``) was given no labels.
    """
    if n_labels == 0:
        return x
    if y is None:
        raise ValueError(f"the model is conditioned on {n_labels} labels; pass the label codes")
    return torch.cat([x, F.one_hot(y.long(), n_labels).to(x.dtype)], dim=1)


class GaussianEncoder(nn.Module):
    """Encoder ``q(z | x)``: a diagonal Gaussian over the latent (Kingma & Welling 2014).

    Parameters
    ----------
    n_input
        Input features (genes).
    n_latent
        Latent dimensions.
    n_hidden, n_layers, dropout
        See :func:`mlp`.
    """

    def __init__(self, n_input: int, n_latent: int, n_hidden: int, n_layers: int, dropout: float):
        super().__init__()
        self.body = mlp(n_input, n_hidden, n_layers, dropout)
        self.mean = nn.Linear(n_hidden, n_latent)
        self.log_var = nn.Linear(n_hidden, n_latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map ``x`` ``(batch, n_input)`` float32 to mean and log-variance ``(batch, n_latent)``."""
        h = self.body(x)
        return self.mean(h), self.log_var(h).clamp(-10.0, 10.0)


class Encoder(nn.Module):
    """Deterministic encoder ``z = f(x)`` of the autoencoder.

    Parameters
    ----------
    n_input
        Input features.
    n_latent
        Latent dimensions.
    n_hidden, n_layers, dropout
        See :func:`mlp`.
    """

    def __init__(self, n_input: int, n_latent: int, n_hidden: int, n_layers: int, dropout: float):
        super().__init__()
        self.body = mlp(n_input, n_hidden, n_layers, dropout)
        self.out = nn.Linear(n_hidden, n_latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``(batch, n_input)`` float32 to ``z`` ``(batch, n_latent)``."""
        return self.out(self.body(x))


OUTPUT_ACTIVATIONS = ("softmax", "relu", "linear")


class Decoder(nn.Module):
    """Decoder (or GAN generator) from latent ``z`` and label to the parameters of the data.

    Parameters
    ----------
    n_latent
        Latent (or noise) dimensions.
    n_output
        Output features (genes, sites, pileup positions x channels).
    output
        Output activation: ``"softmax"`` gives per-feature proportions of the library (the
        negative-binomial decoder of scVI); ``"relu"`` non-negative values with exact zeros
        (the GAN's log1p-normalised counts, as cscGAN); ``"linear"`` means or logits.
    n_hidden, n_layers, dropout
        See :func:`mlp`.
    n_labels
        Label categories whose one-hot code is concatenated to ``z`` (:func:`with_label`);
        0 for an unconditional decoder.

    Raises
    ------
    ValueError
        Unknown output activation.
    """

    def __init__(
        self, n_latent: int, n_output: int, output: str, n_hidden: int, n_layers: int, dropout: float, n_labels: int = 0
    ):
        super().__init__()
        if output not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"output activation {output!r} is not one of {OUTPUT_ACTIVATIONS}")
        self.output = output
        self.n_labels = n_labels
        self.body = mlp(n_latent + n_labels, n_hidden, n_layers, dropout)
        self.out = nn.Linear(n_hidden, n_output)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``z`` ``(batch, n_latent)`` and labels ``(batch,)`` to ``(batch, n_output)`` (activation applied)."""
        h = self.out(self.body(with_label(z, y, self.n_labels)))
        if self.output == "softmax":
            return torch.softmax(h, dim=-1)
        return torch.relu(h) if self.output == "relu" else h


class Critic(nn.Module):
    """WGAN critic: a real-valued score of ``x`` and its label (Gulrajani et al. 2017).

    Conditioned on the label by projection (Miyato & Koyama 2018): ``D(x, y) = w . phi(x) +
    e_y . phi(x)`` with a learnt embedding ``e_y`` per label, the conditional-critic form that
    replaced input concatenation in cGANs. No batch normalisation (the gradient penalty is per
    sample); layer normalisation instead, as the WGAN-GP paper recommends; no dropout.

    Parameters
    ----------
    n_input
        Features of the (transformed) data the critic sees.
    n_hidden, n_layers
        See :func:`mlp`.
    n_labels
        Label categories; 0 for an unconditional critic.
    """

    def __init__(self, n_input: int, n_hidden: int, n_layers: int, n_labels: int = 0):
        super().__init__()
        self.n_labels = n_labels
        self.body = mlp(n_input, n_hidden, n_layers, 0.0)
        self.out = nn.Linear(n_hidden, 1)
        self.label_embedding = nn.Embedding(n_labels, n_hidden) if n_labels else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``(batch,)`` of ``x`` ``(batch, n_input)`` with label codes ``(batch,)``.

        Raises
        ------
        ValueError
            A conditional critic was given no labels.
        """
        h = self.body(x)
        score = self.out(h).squeeze(1)
        if self.label_embedding is None:
            return score
        if y is None:
            raise ValueError(f"the critic is conditioned on {self.n_labels} labels; pass the label codes")
        return score + (self.label_embedding(y.long()) * h).sum(dim=1)
