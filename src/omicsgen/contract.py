"""The data contract every stage shares: keys of a model-ready AnnData and accessors for them.

A model-ready AnnData (``preprocessed.h5ad``) carries:

- ``X``: ``(n_obs, n_vars)`` values as ``encoding`` says: ``"counts"`` (float32 counts: CSR from
  ``.h5ad``, dense from BAM),
  ``"log1p"`` (log-normalised expression), ``"dosage"`` (int8 alt-allele counts 0/1/2 of a
  diploid sample), ``"haplotype"`` (int8 alleles 0/1, two rows per sample);
- ``obs["split"]``: ``"train"``, ``"val"`` or ``"test"``; the label column named by
  ``label_key`` (categorical), when there is one;
- ``uns["omicsgen"]``: ``modality`` (``"scrna"`` for ``.h5ad``, ``"vcf"``, ``"bam"``), ``encoding``,
  ``likelihood`` (a name in :data:`omicsgen.models.likelihoods.LIKELIHOODS`), ``label_key``
  (or None), ``provenance``, and per modality more (``input_values`` for ``.h5ad``; ``phasing``,
  the summary of :func:`omicsgen.genotypes.phasing.phase_vcf`, for a VCF phased by the workflow);
- in a latent output also ``obs["reconstruction_mse"]`` and ``uns["omicsgen"]["latent_key"]``;
  in a synthetic one ``obs["synthetic"]`` and ``uns["omicsgen"]["synthetic_method"]``.

Stages read these through the accessors below. The module imports numpy and anndata only, so
a job that only evaluates or writes files does not pay for torch or scanpy.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

UNLABELLED = "all"  # the one group of an unlabelled dataset
GENOTYPE_ENCODINGS = ("dosage", "haplotype")  # encodings whose X holds allele counts
SPLITS = ("train", "val", "test")
RECONSTRUCTION_MSE = "reconstruction_mse"  # obs column of a latent output: each cell's MSE, log1p-normalised scale


ENCODINGS = ("counts", "log1p", *GENOTYPE_ENCODINGS)


def set_model_ready(
    adata: ad.AnnData, split, *, modality: str, encoding: str, likelihood: str, label_key: str | None, **extra
) -> None:
    """Write the contract's keys on a preprocessed AnnData: ``obs["split"]`` and ``uns["omicsgen"]``.

    Every preprocessor ends with this call (provenance is added by the workflow step).

    Parameters
    ----------
    adata
        The model-ready AnnData, changed in place.
    split
        ``(n_obs,)`` values in :data:`SPLITS` (:func:`omicsgen.preprocess.split.stratified_split`).
    modality, encoding, likelihood, label_key
        As the module docstring says; ``label_key`` None (or empty) for unlabelled data.
    **extra
        More ``uns["omicsgen"]`` entries of the modality (e.g. ``input_values``).

    Raises
    ------
    ValueError
        Unknown encoding, or a split value outside :data:`SPLITS`.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {ENCODINGS}")
    unknown = sorted(set(map(str, split)) - set(SPLITS))
    if unknown:
        raise ValueError(f"split values {unknown} are not among {SPLITS}")
    adata.obs["split"] = pd.Categorical(split, categories=list(SPLITS))
    adata.uns["omicsgen"] = {
        "modality": modality,
        "encoding": encoding,
        "likelihood": likelihood,
        "label_key": label_key or "",
        **extra,
    }


def info(adata: ad.AnnData) -> dict:
    """``uns["omicsgen"]``: what the preprocessing step recorded about the data."""
    return adata.uns["omicsgen"]


def encoding(adata: ad.AnnData) -> str:
    """What ``X`` holds: ``"counts"``, ``"log1p"``, ``"dosage"`` or ``"haplotype"``."""
    return info(adata)["encoding"]


def is_genotype(adata: ad.AnnData) -> bool:
    """True when ``X`` holds allele counts (dosages or haplotypes)."""
    return encoding(adata) in GENOTYPE_ENCODINGS


def is_cell_counts(adata: ad.AnnData) -> bool:
    """True for single-cell count matrices (modality ``"scrna"``, encoding ``"counts"``), where a 0 is a
    cell in which a gene has no count and every model generates counts (the fraction of zeros per
    gene is theirs to match)."""
    return info(adata)["modality"] == "scrna" and encoding(adata) == "counts"


def alleles_per_row(adata: ad.AnnData) -> int:
    """Alleles one row of genotypes carries: 1 for a haplotype, 2 for a diploid dosage (the
    ``ploidy`` of allele frequencies and of the binomial likelihood).

    Raises
    ------
    ValueError
        ``X`` does not hold genotypes.
    """
    if not is_genotype(adata):
        raise ValueError(f"encoding {encoding(adata)!r} holds no genotypes")
    return 1 if encoding(adata) == "haplotype" else 2


def rows_per_sample(adata: ad.AnnData) -> int:
    """Rows of ``X`` per sample: 2 for haplotypes (a diploid sample's two), else 1."""
    return 2 if encoding(adata) == "haplotype" else 1


def split_of(adata: ad.AnnData) -> np.ndarray:
    """str ``(n_obs,)`` split of each observation (:data:`SPLITS`)."""
    return adata.obs["split"].astype(str).to_numpy()


def obs_labels(adata: ad.AnnData) -> np.ndarray:
    """str ``(n_obs,)`` label of each observation; :data:`UNLABELLED` for all when the dataset has none."""
    key = info(adata)["label_key"]
    return adata.obs[key].astype(str).to_numpy() if key else np.full(adata.n_obs, UNLABELLED)


def label_categories(adata: ad.AnnData) -> list[str]:
    """The label categories a conditional model is given, in code order; empty when unlabelled."""
    key = info(adata)["label_key"]
    return [str(c) for c in adata.obs[key].cat.categories] if key else []


def label_codes(adata: ad.AnnData, categories: list[str]) -> np.ndarray:
    """int64 ``(n_obs,)`` codes of each observation's label in ``categories`` (zeros when there are none).

    Raises
    ------
    ValueError
        A label of ``adata`` is not among ``categories`` (the model was trained on other labels).
    """
    if not categories:
        return np.zeros(adata.n_obs, dtype=np.int64)
    labels = obs_labels(adata)
    unknown = sorted(set(labels) - set(categories))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's labels {categories}; retrain on these data")
    code = {label: i for i, label in enumerate(categories)}
    return np.array([code[label] for label in labels], dtype=np.int64)
