"""Generative models: ``torch.nn`` building blocks and Lightning training plans (AE, VAE, WGAN-GP)."""

from omicsgen.models.ae import AE
from omicsgen.models.gan import GAN
from omicsgen.models.likelihoods import LIKELIHOOD_NAMES
from omicsgen.models.vae import VAE

FAMILIES = {"ae": AE, "vae": VAE, "gan": GAN}  # config name -> training plan

__all__ = ["AE", "FAMILIES", "GAN", "LIKELIHOOD_NAMES", "VAE"]
