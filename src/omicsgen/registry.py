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
    minutes_per_gib, mb_per_10k_sites
        For a family whose cost grows with the genotypes rather than the input file: wall minutes
        of its default training budget on 2 CPU threads per GiB of genotypes (rows x sites, one
        byte each), and peak memory per 10,000 sites beside the matrix
        (:func:`training_resources`); None: the train rule's file-size rules.
    """

    plan: str | type | None
    encoder: bool
    generator: bool
    modalities: tuple[str, ...] | None = None
    minutes_per_gib: float | None = None
    mb_per_10k_sites: float | None = None

    @property
    def trained(self) -> bool:
        """Trained with Lightning (has a checkpoint, history and ``training.json``)."""
        return self.plan is not None


def _site_ordered(plan: str, mb_per_10k_sites: float) -> ModelSpec:
    """A generator of genotypes only, which follows the order of the sites along the chromosome and
    asks the cluster by the genotypes' shape (:func:`training_resources`)."""
    return ModelSpec(
        plan,
        encoder=False,
        generator=True,
        modalities=("vcf",),
        minutes_per_gib=3000,
        mb_per_10k_sites=mb_per_10k_sites,
    )


MODELS: dict[str, ModelSpec] = {
    "ae": ModelSpec("omicsgen.models.ae:AE", encoder=True, generator=True),
    "vae": ModelSpec("omicsgen.models.vae:VAE", encoder=True, generator=True),
    "gan": ModelSpec("omicsgen.models.gan:GAN", encoder=False, generator=True),
    # Costs from benchmarks/genotype_scale.py on 2 CPU threads, 1,998 genomes: ar 400 epochs of
    # 80.6 s at 100k sites (2,890 min per GiB), 485 MB per 10k sites on haplotypes; hmm 40 EM
    # iterations of 365.5 s at 50k sites (2,620 min per GiB) and 719.0 s at 100k (2,576), 367 MB
    # per 10k sites at 10k
    "ar": _site_ordered("omicsgen.models.ar:Autoregressive", mb_per_10k_sites=500),
    "hmm": _site_ordered("omicsgen.models.hmm:HaplotypeClusterHMM", mb_per_10k_sites=400),
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


def training_resources(
    name: str, n_obs: int, n_vars: int, threads: int = 2, params: dict | None = None
) -> tuple[int, int] | None:
    """Memory (MB) and run time (minutes) to ask a cluster for when training ``name`` on
    ``n_obs x n_vars`` genotypes (rows: genomes, or haplotypes on phased data); None for a model
    without measured costs per genotype.

    Memory: 2,000 MB (Python, torch, the data loader) + ``mb_per_10k_sites x n_vars / 10**4`` +
    the int8 matrix. Time: 60 + ``minutes_per_gib x n_obs x n_vars / 2**30``, measured as wall
    minutes on 2 threads of the default budget, times ``2 / threads`` and times the config's
    budget over the default one (``hmm``: ``max_epochs / 40 x (n_clusters / 16)**2``; ``ar``:
    an integer ``max_epochs / 400``); at most 24 h. ``ar`` with ``phase: hmm`` trains on
    ``2 x phase_draws`` haplotypes per genome of unphased data: its matrix and time are counted
    that many times (the workflow passes ``phase: none`` for data it does not phase); its LD
    check (``select: ld``) costs at most about 0.2 s per epoch at any size, inside the 60 minutes.
    Other settings (a longer ``ar.context``, a larger ``hmm.batch_size``) are not scaled: ask
    with ``--set-resources``. The cost of the
    families that loop over the sites grows with the genotypes, which a compressed input file
    understates (eur_1kg's ``preprocessed.h5ad`` is 4.3x smaller than its matrix).

    Raises
    ------
    KeyError
        ``name`` is not in :data:`MODELS`.
    """
    spec = MODELS[name]
    if spec.minutes_per_gib is None:
        return None
    params = params or {}
    budget = 2 / max(1, threads)
    if name == "hmm":
        budget *= params.get("max_epochs", 40) / 40 * (params.get("n_clusters", 16) / 16) ** 2
    genotypes = n_obs * n_vars
    if name == "ar":
        budget *= params["max_epochs"] / 400 if isinstance(params.get("max_epochs"), int) else 1
        genotypes *= 2 * params.get("phase_draws", 4) if params.get("phase", "none") == "hmm" else 1
    mem_mb = 2000 + spec.mb_per_10k_sites * n_vars / 10**4 + genotypes / 2**20
    return int(mem_mb), int(min(60 + budget * spec.minutes_per_gib * genotypes / 2**30, 1440))


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
