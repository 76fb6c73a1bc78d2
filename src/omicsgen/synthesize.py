"""Synthetic cells from a trained model, conditioned on labels, and the marginals baseline.

Every synthetic AnnData has the real data's ``var``, the label column, and
``obs["synthetic"] = True``; observations are named ``synthetic_<i>`` so they cannot be
mistaken for real ones. Genotypes stay int8 allele counts; synthetic haplotypes come in
pairs of the same label (``synthetic_<k>_h1``, ``_h2``) that form one synthetic sample
``synthetic_<k>`` (``obs["sample"]``), as the VCF writer needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from omicsgen.io import dense
from omicsgen.preprocess import GENOTYPE_ENCODINGS

if TYPE_CHECKING:  # torch is imported only by the functions that need it
    from omicsgen.models import VAE

UNLABELLED = "all"


def training_groups(adata: ad.AnnData) -> dict[str, np.ndarray]:
    """Indices of the training cells of each label (one group ``"all"`` when unlabelled)."""
    train = adata.obs["split"].to_numpy() == "train"
    key = adata.uns["omicsgen"]["label_key"]
    labels = adata.obs[key].astype(str).to_numpy() if key else np.full(adata.n_obs, UNLABELLED)
    return {label: np.flatnonzero(train & (labels == label)) for label in sorted(set(labels[train]))}


def rows_per_label(adata: ad.AnnData, n_per_label: int) -> int:
    """Synthetic rows per label: ``n_per_label`` samples, two rows each for haplotypes."""
    return 2 * n_per_label if adata.uns["omicsgen"]["encoding"] == "haplotype" else n_per_label


def _synthetic_anndata(adata: ad.AnnData, X: np.ndarray, labels: list[str], method: str) -> ad.AnnData:
    key = adata.uns["omicsgen"]["label_key"]
    encoding = adata.uns["omicsgen"]["encoding"]
    if encoding == "haplotype":
        samples = [f"synthetic_{i // 2}" for i in range(len(labels))]
        obs = pd.DataFrame({"sample": samples}, index=[f"{s}_h{i % 2 + 1}" for i, s in enumerate(samples)])
    else:
        obs = pd.DataFrame(index=[f"synthetic_{i}" for i in range(len(labels))])
    if key:
        obs[key] = pd.Categorical(labels, categories=adata.obs[key].cat.categories)
    obs["synthetic"] = True
    if encoding in GENOTYPE_ENCODINGS:
        matrix = np.rint(X).astype(np.int8)
    else:
        matrix = sp.csr_matrix(X.astype(np.float32))
    out = ad.AnnData(X=matrix, obs=obs, var=adata.var.copy())
    out.uns["omicsgen"] = {**adata.uns["omicsgen"], "synthetic_method": method}
    if "vcf" in adata.uns:
        out.uns["vcf"] = {"contigs": dict(adata.uns["vcf"]["contigs"])}
    if "bam" in adata.uns:
        out.uns["bam"] = dict(adata.uns["bam"])
    return out


def synthesize_vae(adata: ad.AnnData, model: VAE, n_per_label: int, seed: int) -> ad.AnnData:
    """Sample ``n_per_label`` new cells per label from a trained VAE.

    Conditioning uses the aggregate posterior of each label: for a synthetic cell of label
    ``l`` a training cell ``i`` of that label is drawn uniformly, ``z ~ q(z | x_i)``, a library
    size is drawn from a log-normal fitted to the label's training library sizes (scVI's
    library prior), and ``x ~ p(x | z, library)``. The decoder itself is not given the
    label, so the latent keeps the label structure that :mod:`omicsgen.evaluate` scores.

    Parameters
    ----------
    adata
        Model-ready AnnData the model was trained on.
    model
        Trained VAE (eval mode).
    n_per_label
        Cells (samples) per label, in total when the data are unlabelled.
    seed
        Seeds numpy's choice of cells and torch's draws (inside ``torch.random.fork_rng``).

    Returns
    -------
    anndata.AnnData
        ``(n_labels * n_per_label, n_features)``: float32 CSR counts for the ``nb``
        likelihood, values on the input scale for ``gaussian``, int8 allele counts for
        genotypes (twice the rows for haplotypes; no library size is involved).
    """
    import torch

    rng = np.random.default_rng(seed)
    n_rows = rows_per_label(adata, n_per_label)
    blocks, labels = [], []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for label, idx in training_groups(adata).items():
            picks = rng.choice(idx, size=n_rows, replace=True)
            x = torch.from_numpy(dense(adata.X[picks]))
            mean_z, log_var = model.encode(x)
            z = mean_z + torch.exp(0.5 * log_var) * torch.randn_like(mean_z)
            library = None
            if model.hparams.likelihood == "nb":
                log_library = np.log(dense(adata.X[idx]).sum(axis=1))
                draws = np.exp(rng.normal(log_library.mean(), log_library.std(), size=(n_rows, 1)))
                library = torch.from_numpy(draws.astype(np.float32))
            mean = model.decode(z, library)
            blocks.append(model.sample_observation(mean).numpy())
            labels += [label] * n_rows
    return _synthetic_anndata(adata, np.concatenate(blocks), labels, "vae aggregate posterior per label")


def synthesize_marginals(adata: ad.AnnData, n_per_label: int, seed: int) -> ad.AnnData:
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
    n_per_label
        Cells per label (in total when unlabelled).
    seed
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    anndata.AnnData
        ``(n_labels * n_per_label, n_features)``, float32 CSR (int8 for genotypes, twice the
        rows for haplotypes).
    """
    rng = np.random.default_rng(seed)
    n_rows = rows_per_label(adata, n_per_label)
    blocks, labels = [], []
    for label, idx in training_groups(adata).items():
        values = dense(adata.X[idx])
        rows = rng.integers(0, values.shape[0], size=(n_rows, values.shape[1]))
        blocks.append(np.take_along_axis(values, rows, axis=0))
        labels += [label] * n_rows
    return _synthetic_anndata(adata, np.concatenate(blocks), labels, "independent marginals per label")
