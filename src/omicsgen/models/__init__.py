"""Generative models: ``torch.nn`` building blocks and Lightning training plans."""

from omicsgen.models.likelihoods import LIKELIHOOD_NAMES
from omicsgen.models.vae import VAE

__all__ = ["LIKELIHOOD_NAMES", "VAE"]
