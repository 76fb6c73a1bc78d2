"""Generative models: ``torch.nn`` building blocks, likelihoods and Lightning training plans (AE, VAE, WGAN-GP).

Which families exist, and what each produces, is :data:`omicsgen.registry.MODELS`.
"""

from omicsgen.models.ae import AE
from omicsgen.models.gan import GAN
from omicsgen.models.vae import VAE

__all__ = ["AE", "GAN", "VAE"]
