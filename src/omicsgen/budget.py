"""Training budgets derived from the data's size, so that cost stays bounded as data grow.

AE and VAE get an epoch budget and stop early on the validation loss; the GAN, which has no
validation likelihood, gets a budget in generator steps. ``"auto"`` (the default) follows
scVI's rule for epochs (scvi-tools, ``scvi.model.base.UnsupervisedTrainingMixin.train``):
``min(400, round(20000 / n_cells * 400))``, i.e. 400 passes over the data up to 20,000
cells and then a constant 8 million cells seen in all. The GAN gets the same number of
passes over the data (in batches of its own size, one critic step each), and the generator
takes one step every ``n_critic`` critic steps, but at least :data:`MIN_GENERATOR_STEPS`.
"""

from __future__ import annotations

import math

AUTO = "auto"
MAX_EPOCHS = 400  # scVI's cap
CELLS_AT_CAP = 20_000  # scVI: the epoch budget falls as 1 / n_cells above this many cells
# a generator needs some steps whatever the data's size: on 130 training cells (pbmc68k subsampled to
# 184) the latent GAN's variance r was 0.456 after 240 steps, 0.685 after 640; at 1,000 steps its
# detection AUROC was higher on pbmc68k, eur_1kg and simulated_ooa3 in two runs each, every difference
# inside the intervals (benchmarks/README.md)
MIN_GENERATOR_STEPS = 600


def epoch_budget(n_train: int, max_epochs: int | str = AUTO) -> int:
    """Epochs to train for on ``n_train`` training observations.

    Parameters
    ----------
    n_train
        Training observations (cells, samples, haplotypes or windows).
    max_epochs
        An integer (used as is) or ``"auto"``: ``min(400, round(20000 / n_train * 400))``,
        at least 1 (scVI's rule).

    Returns
    -------
    int
        Epochs, >= 1.

    Raises
    ------
    ValueError
        ``max_epochs`` is neither a positive integer nor ``"auto"``; ``n_train < 1``.
    """
    if n_train < 1:
        raise ValueError(f"n_train must be positive, got {n_train}")
    if max_epochs == AUTO:
        return max(1, min(MAX_EPOCHS, round(CELLS_AT_CAP / n_train * MAX_EPOCHS)))
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive integer or 'auto', got {max_epochs!r}")
    return max_epochs


def generator_step_budget(n_train: int, batch_size: int, n_critic: int, max_steps: int | str = AUTO) -> int:
    """Generator steps of a GAN trained on ``n_train`` observations.

    Parameters
    ----------
    n_train, batch_size
        Training observations and observations per batch (one critic step per batch).
    n_critic
        Critic steps per generator step.
    max_steps
        An integer (used as is) or ``"auto"``: the critic sees the batches of
        :func:`epoch_budget` epochs, ``ceil(epoch_budget(n_train) * ceil(n_train / batch_size) / n_critic)``
        generator steps, at least :data:`MIN_GENERATOR_STEPS`.

    Returns
    -------
    int
        Generator steps, >= 1.

    Raises
    ------
    ValueError
        ``max_steps`` is neither a positive integer nor ``"auto"``.
    """
    if max_steps == AUTO:
        batches = math.ceil(n_train / batch_size)
        return max(MIN_GENERATOR_STEPS, math.ceil(epoch_budget(n_train) * batches / n_critic))
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer or 'auto', got {max_steps!r}")
    return max_steps


def gan_epochs(n_train: int, batch_size: int, n_critic: int, generator_steps: int) -> int:
    """Whole epochs that hold ``generator_steps`` generator steps (the last one may end early)."""
    return max(1, math.ceil(generator_steps * n_critic / math.ceil(n_train / batch_size)))
