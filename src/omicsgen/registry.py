"""The models the workflow knows: trained families and baselines, with what each produces.

Imports nothing heavy, so that the Snakefile can read it (its sets of encoders and generators
come from here) without loading torch. The trained families' behaviour lives in their
training plans (:mod:`omicsgen.models`); :func:`training_plan` imports one on demand.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One model the workflow can run.

    Attributes
    ----------
    plan
        ``"module:Class"`` of its Lightning training plan (a
        :class:`~omicsgen.models.base.TrainingPlan`), or the class itself; None for a baseline
        computed without training.
    encoder
        Writes ``latent.h5ad`` (an encoder of real cells: AE, VAE, PCA).
    generator
        Writes ``synthetic.h5ad``.
    modalities
        The dataset modalities (config ``modality``) it runs on; None for every one.
    """

    plan: str | type | None
    encoder: bool
    generator: bool
    modalities: tuple[str, ...] | None = None

    @property
    def trained(self) -> bool:
        """Trained with Lightning (has a checkpoint, history and ``training.json``)."""
        return self.plan is not None


MODELS: dict[str, ModelSpec] = {
    "ae": ModelSpec("omicsgen.models.ae:AE", encoder=True, generator=True),
    "vae": ModelSpec("omicsgen.models.vae:VAE", encoder=True, generator=True),
    "gan": ModelSpec("omicsgen.models.gan:GAN", encoder=False, generator=True),
    # genotypes only: it follows the order of the sites along the chromosome
    "ar": ModelSpec("omicsgen.models.ar:Autoregressive", encoder=False, generator=True, modalities=("vcf",)),
    "hmm": ModelSpec("omicsgen.models.hmm:HaplotypeClusterHMM", encoder=False, generator=True, modalities=("vcf",)),
    "pca": ModelSpec(None, encoder=True, generator=False),
    "marginals": ModelSpec(None, encoder=False, generator=True),
}

# Evaluation controls, rows of metrics.tsv beside the models (omicsgen.evaluate.sampling):
# held-out real samples, and training samples returned as synthetic ones.
CONTROLS = ("real", "copy")


def names(*, trained: bool | None = None, encoder: bool | None = None, generator: bool | None = None) -> list[str]:
    """Names in :data:`MODELS` order with the given properties (None: either)."""
    wanted = {"trained": trained, "encoder": encoder, "generator": generator}
    return [
        name
        for name, spec in MODELS.items()
        if all(value is None or getattr(spec, key) == value for key, value in wanted.items())
    ]


def runs_on(name: str, modality: str) -> bool:
    """Whether the model ``name`` of :data:`MODELS` runs on datasets of ``modality``."""
    modalities = MODELS[name].modalities
    return modalities is None or modality in modalities


def training_plan(name: str) -> type:
    """The training plan class of the trained family ``name``.

    Raises
    ------
    KeyError
        ``name`` is not a trained family in :data:`MODELS`.
    """
    spec = MODELS.get(name)
    if spec is None or not spec.trained:
        raise KeyError(f"{name!r} is not a trained model family; known: {names(trained=True)}")
    if not isinstance(spec.plan, str):
        return spec.plan
    module, cls = spec.plan.split(":")
    return getattr(importlib.import_module(module), cls)
