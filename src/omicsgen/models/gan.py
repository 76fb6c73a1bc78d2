"""Wasserstein GAN with gradient penalty (WGAN-GP; Gulrajani et al. 2017), conditional on labels.

Manual optimisation with two optimisers, as Lightning's own GAN example. The GAN plays in one
of two spaces (``space``):

- ``"latent"`` (the default): in the code space of a trained autoencoder (the run's AE). The
  critic compares the AE's codes of real observations with the generator's codes, and a
  generated code is decoded by the AE's decoder and drawn from its observation model (NB
  counts, binomial dosages, Bernoulli alleles). This is the LatentGAN of Prykhodko et al.
  (J. Cheminform. 2019): the GAN gets a low-dimensional, dense target, and the observation
  model is the AE's, fitted by likelihood. The AE is frozen (eval mode) while the GAN trains.
- ``"data"``: on the data themselves. The critic compares real and generated data on one
  continuous scale: counts as library-size-normalised ``log1p`` (counts per 10,000), which the
  generator emits through a ReLU so that it can produce the exact zeros of sparse counts (as
  cscGAN; Marouf et al. 2020); genotypes as allele counts drawn from the alt-allele
  probabilities the generator emits (as the artificial-genome GAN of Yelmen et al. 2021), with
  a straight-through gradient; continuous values as they are.
"""

from __future__ import annotations

import torch

from omicsgen.models.ae import AE
from omicsgen.models.base import TrainingPlan
from omicsgen.models.modules import Critic, Decoder

SPACES = ("latent", "data")


class GAN(TrainingPlan):
    """WGAN-GP: generator ``G(z, y)`` and critic ``D(x, y)``, conditioned on one-hot labels.

    Critic loss per step: ``mean D(G(z)) - mean D(x) + gp_weight * mean (||grad D(x_hat)|| - 1)^2``
    with ``x_hat`` drawn uniformly between real and generated samples; generator loss
    ``-mean D(G(z))``, one generator step every ``n_critic`` critic steps; Adam with
    betas (0.5, 0.9) for both. Logged per epoch: ``train_critic_loss``, ``train_wasserstein``
    (the critic's estimate, mean D(x) - mean D(G(z))), ``train_gradient_penalty``,
    ``train_generator_loss`` and, on the validation cells, ``val_wasserstein``. There is no
    validation likelihood: training runs its budget of generator steps
    (:func:`omicsgen.budget.generator_step_budget`) and keeps the last state. The
    generator starts at the mean training sample (:meth:`prepare`).

    Parameters
    ----------
    n_input
        Number of features.
    likelihood
        The data's kind (see :class:`~omicsgen.models.base.TrainingPlan`). With ``space="data"``:
        ``"nb"`` counts (generator: ReLU ``log1p`` counts per 10,000, rescaled to a library size
        and rounded), ``"binomial"``/``"bernoulli"`` genotypes (sigmoid allele probability;
        observations drawn binomially), ``"gaussian"`` (linear output, used as is); the
        :class:`~omicsgen.models.likelihoods.Likelihood` object says each. With
        ``space="latent"`` the autoencoder's observation model is used.
    labels
        Label categories of the conditional generator and critic; empty for none.
    n_noise
        Dimensions of the generator's N(0, I) input.
    n_hidden, n_layers
        Width and depth of both networks.
    lr
        Adam learning rate of both optimisers.
    n_critic
        Critic steps per generator step.
    gp_weight
        Weight of the gradient penalty (10 in the paper).
    space
        ``"latent"``: the GAN generates the codes of ``autoencoder``; ``"data"``: the data.
    autoencoder
        With ``space="latent"``: the hyperparameters of the trained
        :class:`~omicsgen.models.ae.AE` (its ``hparams``) whose code space the GAN plays in.
        The AE is rebuilt from them as the submodule ``autoencoder``; its weights come with
        the checkpoint (:func:`omicsgen.train.train_model` copies them in before training).

    Raises
    ------
    ValueError
        Unknown likelihood or space; ``space="latent"`` without an autoencoder, or one
        trained on other features or labels.
    """

    def __init__(
        self,
        n_input: int,
        likelihood: str = "nb",
        labels: list[str] = (),
        n_noise: int = 32,
        n_hidden: int = 256,
        n_layers: int = 2,
        lr: float = 2e-4,
        n_critic: int = 5,
        gp_weight: float = 10.0,
        space: str = "latent",
        autoencoder: dict | None = None,
    ):
        super().__init__(likelihood, list(labels))
        self.save_hyperparameters()
        self.automatic_optimization = False
        if space not in SPACES:
            raise ValueError(f"GAN space {space!r} is not one of {SPACES}")
        self.autoencoder = None
        if space == "latent":
            self.autoencoder = _frozen_autoencoder(autoencoder, n_input, likelihood, self.labels)
            n_output, activation = self.autoencoder.hparams.n_latent, "linear"
        else:
            n_output, activation = n_input, self.likelihood.generator_activation
        self.generator = Decoder(n_noise, n_output, activation, n_hidden, n_layers, 0.0, n_labels=self.n_labels)
        self.critic = Critic(n_output, n_hidden, n_layers, n_labels=self.n_labels)
        self.latent_sampler = (
            "z ~ N(0, I) -> generator -> code of the AE -> AE decoder and observation model (latent GAN)"
            if space == "latent"
            else "z ~ N(0, I) -> generator (data space)"
        )

    latent_sampler = "z ~ N(0, I) -> generator"  # each model states its space (__init__)
    curves = (("train_critic_loss", "train_generator_loss", "val_wasserstein"), "WGAN-GP loss / Wasserstein estimate")

    def train(self, mode: bool = True) -> GAN:
        """Set training mode, keeping the frozen autoencoder in eval mode (no dropout in its codes)."""
        super().train(mode)
        if self.autoencoder is not None:
            self.autoencoder.eval()
        return self

    def noise(self, n: int) -> torch.Tensor:
        """Generator input ``(n, n_noise)`` from N(0, I), torch's global generator."""
        return torch.randn(n, self.hparams.n_noise, device=self.device)

    def sample_latent(self, label: int, n: int, rng) -> torch.Tensor:
        """Generator inputs from N(0, I) (the label enters through the generator's conditioning)."""
        return self.noise(n)

    def real_view(self, x: torch.Tensor) -> torch.Tensor:
        """Real data ``(batch, n_input)`` on the critic's scale: the AE's codes ``(batch, n_latent)`` in
        latent space, else :meth:`Likelihood.critic_view <omicsgen.models.likelihoods.Likelihood.critic_view>`."""
        if self.autoencoder is not None:
            with torch.no_grad():
                return self.autoencoder.codes(x)
        return self.likelihood.critic_view(x)

    def generated_view(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Generated data on the critic's scale (as :meth:`real_view`), differentiable in the generator."""
        out = self.generator(z, y)
        return out if self.autoencoder is not None else self.likelihood.generated_view(out)

    def decode(
        self, z: torch.Tensor, y: torch.Tensor | None = None, library: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Generated values on the data's scale ``(batch, n_input)``.

        Latent space: the AE's decoded mean of the generated code (:meth:`TrainingPlan.decode
        <omicsgen.models.base.TrainingPlan.decode>`). Data space: counts are ``expm1`` of the
        generated log1p counts per 10,000, rescaled so that each row sums to ``library``
        ``(batch, 1)`` total counts; genotypes expected allele counts; otherwise the output.

        Raises
        ------
        ValueError
            No library size for counts; no labels for a conditional model.
        """
        out = self.generator(z, y)
        if self.autoencoder is not None:
            return self.autoencoder.decode(out, self.autoencoder.conditioning(y), library)
        return self.likelihood.generated_mean(out, library)

    def sample_observation(self, mean: torch.Tensor) -> torch.Tensor:
        """Observations from generated values: latent space, the AE's observation model; data space,
        counts rounded, allele counts drawn binomially, else as they are."""
        if self.autoencoder is not None:
            return self.autoencoder.sample_observation(mean)
        return self.likelihood.sample_generated(mean)

    def prepare(self, batches) -> None:
        """Start the generator at the mean training sample: its output bias is set to the per-feature mean
        of the training data on the critic's scale (the mean code in latent space; allele-frequency
        logits for genotypes in data space)."""
        total, n = 0.0, 0
        for x, _ in batches:
            total = total + self.real_view(x).sum(dim=0)
            n += x.shape[0]
        mean = total / n
        bias = mean if self.autoencoder is not None else self.likelihood.generator_bias(mean)
        with torch.no_grad():
            self.generator.out.bias.copy_(bias)

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Per-sample ``(||grad_x D(x_hat)||_2 - 1)^2`` ``(batch,)`` at random interpolates ``x_hat``."""
        alpha = torch.rand(real.shape[0], 1, device=real.device)
        mixed = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mixed, y).sum(), mixed, create_graph=True)
        return (grad.norm(2, dim=1) - 1.0) ** 2

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        y = self.conditioning(y)
        generator_opt, critic_opt = self.optimizers()
        real = self.real_view(x)
        fake = self.generated_view(self.noise(x.shape[0]), y).detach()
        critic_real, critic_fake = self.critic(real, y), self.critic(fake, y)
        penalty = self.gradient_penalty(real, fake, y)
        per_cell = critic_fake - critic_real + self.hparams.gp_weight * penalty
        critic_opt.zero_grad()
        self.manual_backward(per_cell.mean())
        critic_opt.step()
        self.epoch_means.add(
            "train", critic_loss=per_cell, wasserstein=critic_real - critic_fake, gradient_penalty=penalty
        )

        step = self.current_epoch * self.trainer.num_training_batches + batch_idx
        if step % self.hparams.n_critic == self.hparams.n_critic - 1:
            generated = self.generated_view(self.noise(x.shape[0]), y)
            generator_loss = -self.critic(generated, y)
            generator_opt.zero_grad()
            self.manual_backward(generator_loss.mean())
            generator_opt.step()
            self.epoch_means.add("generator", generator_loss=generator_loss)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        y = self.conditioning(y)
        fake = self.generated_view(self.noise(x.shape[0]), y)
        self.epoch_means.add("val", wasserstein=self.critic(self.real_view(x), y) - self.critic(fake, y))

    def extra_logged(self) -> dict[str, float]:
        return {f"train_{name}": float(v) for name, v in self.epoch_means.means("generator").items()}

    def configure_optimizers(self):
        betas = (0.5, 0.9)
        return (
            torch.optim.Adam(self.generator.parameters(), lr=self.hparams.lr, betas=betas),
            torch.optim.Adam(self.critic.parameters(), lr=self.hparams.lr, betas=betas),
        )


def _frozen_autoencoder(hparams: dict | None, n_input: int, likelihood: str, labels: list[str]) -> AE:
    """The AE of a latent GAN rebuilt from its ``hparams``, its parameters frozen.

    Raises
    ------
    ValueError
        No hyperparameters, or an AE of other features, likelihood or labels.
    """
    if not hparams:
        raise ValueError("a GAN with space='latent' needs the trained autoencoder (train the 'ae' model first)")
    autoencoder = AE(**dict(hparams))
    seen = (autoencoder.hparams.n_input, autoencoder.hparams.likelihood, list(autoencoder.hparams.labels))
    if seen != (n_input, likelihood, labels):
        raise ValueError(
            f"the autoencoder was trained on (n_input, likelihood, labels) = {seen}, "
            f"not on this data's {(n_input, likelihood, labels)}: retrain it on the same preprocessed data"
        )
    autoencoder.requires_grad_(False)
    return autoencoder.eval()
