"""Synthetic cells from a trained model, conditioned on labels, and the marginals baseline.

Every synthetic AnnData has the real data's ``var``, the label column, and
``obs["synthetic"] = True``; observations are named ``synthetic-<i>`` so they cannot be
mistaken for real ones (a hyphen, not an underscore: plink 1.9 splits VCF sample IDs at ``_``
into family and individual IDs and rejects an individual ID of ``0``). Genotypes stay int8
allele counts; synthetic haplotypes come in pairs of the same label (``synthetic-<k>_h1``,
``_h2``) that form one synthetic sample ``synthetic-<k>`` (``obs["sample"]``), as the VCF writer
needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from omicsgen import contract
from omicsgen.contract import obs_labels
from omicsgen.io import dense

if TYPE_CHECKING:  # torch is imported only by the functions that need it
    from omicsgen.models.base import TrainingPlan


def training_groups(adata: ad.AnnData) -> dict[str, np.ndarray]:
    """Indices of the training cells of each label (one group ``"all"`` when unlabelled)."""
    train = contract.split_of(adata) == "train"
    labels = obs_labels(adata)
    return {label: np.flatnonzero(train & (labels == label)) for label in sorted(set(labels[train]))}


def rows_per_label(adata: ad.AnnData, n_per_label: int) -> int:
    """Synthetic rows per label: ``n_per_label`` samples, two rows each for haplotypes."""
    return contract.rows_per_sample(adata) * n_per_label


def synthetic_anndata(adata: ad.AnnData, X: np.ndarray, labels: list[str], method: str) -> ad.AnnData:
    """Synthetic observations in the data contract of ``adata``: its ``var``, the label column, names
    ``synthetic-<i>``, ``obs["synthetic"] = True`` and ``uns["omicsgen"]["synthetic_method"]``.

    Parameters
    ----------
    adata
        The model-ready AnnData the generator was trained on.
    X
        ``(n, n_vars)`` values on the data's scale (counts, or allele counts, rounded to int8).
    labels
        ``n`` label names (``"all"`` when unlabelled).
    method
        What generated them, as the provenance states it.
    """
    key = contract.info(adata)["label_key"]
    if contract.rows_per_sample(adata) == 2:  # haplotypes: two rows form one sample
        samples = [f"synthetic-{i // 2}" for i in range(len(labels))]
        obs = pd.DataFrame({"sample": samples}, index=[f"{s}_h{i % 2 + 1}" for i, s in enumerate(samples)])
    else:
        obs = pd.DataFrame(index=[f"synthetic-{i}" for i in range(len(labels))])
    if key:
        obs[key] = pd.Categorical(labels, categories=adata.obs[key].cat.categories)
    obs["synthetic"] = True
    if contract.is_genotype(adata):
        matrix = np.rint(X).astype(np.int8)
    else:
        matrix = sp.csr_matrix(X.astype(np.float32))
    out = ad.AnnData(X=matrix, obs=obs, var=adata.var.copy())
    out.uns["omicsgen"] = {**adata.uns["omicsgen"], "synthetic_method": method}
    if "vcf" in adata.uns:
        out.uns["vcf"] = {"contigs": dict(adata.uns["vcf"]["contigs"]), "format": adata.uns["vcf"].get("format", "vcf")}
    if "bam" in adata.uns:
        out.uns["bam"] = dict(adata.uns["bam"])
    return out


def synthetic_counts(adata: ad.AnnData, n_per_label: int, per_label: str = "fixed") -> dict[str, int]:
    """Synthetic samples to draw per label (:func:`training_groups` order).

    Parameters
    ----------
    adata
        Model-ready AnnData with ``obs["split"]``.
    n_per_label
        The target count N.
    per_label
        ``"fixed"``: N samples of every label (N in total when unlabelled); ``"top_up"``:
        each label topped up to N samples counting its training samples, so rare labels get
        ``N - n_train`` and labels with at least N training samples get none (the
        augmentation setting of ACTIVA and the GARAGE docs). Haplotype data count samples,
        two haplotypes each.

    Raises
    ------
    ValueError
        Unknown ``per_label``, or ``"top_up"`` leaves nothing to draw.

    Returns
    -------
    dict
        Label -> samples (>= 0).
    """
    groups = training_groups(adata)
    if per_label == "fixed":
        return {label: n_per_label for label in groups}
    if per_label != "top_up":
        raise ValueError(f"synthesize.per_label {per_label!r} is not 'fixed' or 'top_up'")
    per_sample = contract.rows_per_sample(adata)
    counts = {label: max(0, n_per_label - len(idx) // per_sample) for label, idx in groups.items()}
    if not any(counts.values()):
        raise ValueError(
            f"nothing to top up: every label has at least {n_per_label} training samples; "
            "raise synthesize.n_per_label or set synthesize.per_label: fixed"
        )
    return counts


def synthesize(
    adata: ad.AnnData, model: TrainingPlan, family: str, n_per_label: int, seed: int, per_label: str = "fixed"
) -> ad.AnnData:
    """Sample synthetic cells (samples, windows) per label from a trained model (AE, VAE, GAN, autoregressive).

    For a synthetic cell of label ``l``: where the likelihood needs a library size (counts), one
    from a log-normal fitted to the label's training library sizes (scVI's library prior); then
    the family's ``generate``: by default a latent ``z`` from its ``sample_latent``
    (:attr:`~omicsgen.models.base.TrainingPlan.latent_sampler` says how) and ``x ~ p(x | z, l,
    library)`` with the model's observation model (the latent GAN: its AE's; the data-space GAN:
    its counts rounded, binomial alleles); the autoregressive model draws sites in order, without a latent. A
    conditional model's decoder or generator is given the label ``l``; an unconditional one
    (unlabelled data) draws ``n_per_label`` cells in total.

    Parameters
    ----------
    adata
        Model-ready AnnData the model was trained on.
    model
        Trained model (eval mode).
    family
        The model's name, as the provenance of the synthetic data states it.
    n_per_label, per_label
        Samples per label (:func:`synthetic_counts`).
    seed
        Seeds numpy's draws (cells, codes, library sizes) and torch's (inside
        ``torch.random.fork_rng``).

    Returns
    -------
    anndata.AnnData
        float32 CSR counts for the ``nb`` likelihood, values on the input scale for
        ``gaussian``, int8 allele counts for genotypes (twice the rows for haplotypes).
    """
    import torch

    rng = np.random.default_rng(seed)
    groups = training_groups(adata)
    blocks, labels = [], []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for label, n_samples in synthetic_counts(adata, n_per_label, per_label).items():
            n_rows = rows_per_label(adata, n_samples)
            if n_rows == 0:
                continue
            idx = groups[label]
            code = model.labels.index(label) if model.n_labels else 0
            y = model.conditioning(torch.full((n_rows,), code))
            library = None
            if model.likelihood.needs_library:
                log_library = np.log(np.asarray(adata.X[idx].sum(axis=1)).ravel())  # no dense copy
                draws = np.exp(rng.normal(log_library.mean(), log_library.std(), size=(n_rows, 1)))
                library = torch.from_numpy(draws.astype(np.float32))
            blocks.append(model.generate(code, n_rows, y, library, rng).numpy())
            labels += [label] * n_rows
    return synthetic_anndata(adata, np.concatenate(blocks), labels, f"{family}: {model.latent_sampler}")


def synthesize_marginals(adata: ad.AnnData, n_per_label: int, seed: int, per_label: str = "fixed") -> ad.AnnData:
    """Independent-marginals baseline: every gene drawn on its own from its label's training values.

    For each synthetic cell of label ``l`` and each gene, the value of a uniformly drawn
    training cell of label ``l`` is taken, independently across genes. Per-gene
    distributions match the training data; gene-gene structure is lost (the
    independent-marginals baseline of synthcity and Yelmen et al. 2021). On genotypes this
    draws every site independently from its training genotype (or allele) frequencies, so
    allele frequencies are kept and LD is lost.

    Parameters
    ----------
    adata
        Model-ready AnnData.
    n_per_label, per_label
        Samples per label (:func:`synthetic_counts`).
    seed
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    anndata.AnnData
        ``(n_labels * n_per_label, n_features)``, float32 CSR (int8 for genotypes, twice the
        rows for haplotypes).
    """
    rng = np.random.default_rng(seed)
    groups = training_groups(adata)
    blocks, labels = [], []
    for label, n_samples in synthetic_counts(adata, n_per_label, per_label).items():
        n_rows = rows_per_label(adata, n_samples)
        if n_rows == 0:
            continue
        values = dense(adata.X[groups[label]])
        rows = rng.integers(0, values.shape[0], size=(n_rows, values.shape[1]))
        blocks.append(np.take_along_axis(values, rows, axis=0))
        labels += [label] * n_rows
    return synthetic_anndata(adata, np.concatenate(blocks), labels, "marginals: independent marginals per label")
