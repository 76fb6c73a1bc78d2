"""Pure ``torch.nn`` networks shared by the model families (the scvi-tools split)."""

from __future__ import annotations

import torch
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


class Decoder(nn.Module):
    """Decoder from latent ``z`` to the parameters of the per-feature likelihood.

    Parameters
    ----------
    n_latent
        Latent dimensions.
    n_output
        Output features (genes).
    likelihood
        ``"nb"``: outputs per-gene proportions (softmax over genes) that are scaled by the
        cell's library size to give negative-binomial means, as scVI's decoder;
        ``"gaussian"``: outputs per-gene means; ``"binomial"``/``"bernoulli"``: outputs
        per-site logits of the alt-allele probability.
    n_hidden, n_layers, dropout
        See :func:`mlp`.
    """

    def __init__(self, n_latent: int, n_output: int, likelihood: str, n_hidden: int, n_layers: int, dropout: float):
        super().__init__()
        self.likelihood = likelihood
        self.body = mlp(n_latent, n_hidden, n_layers, dropout)
        self.out = nn.Linear(n_hidden, n_output)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map ``z`` ``(batch, n_latent)`` to ``(batch, n_output)``: proportions (nb), means or logits."""
        h = self.out(self.body(z))
        return torch.softmax(h, dim=-1) if self.likelihood == "nb" else h
