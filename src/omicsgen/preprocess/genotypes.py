"""Genotypes (VCF/BCF, PLINK, VCF Zarr) to model-ready AnnData: sample sheet, filters, encoding, split.

Output (data contract, :mod:`omicsgen.contract`): obs = samples (or haplotypes), var = biallelic SNPs
(``chrom``, ``pos``, ``id``, ``ref``, ``alt``, ``af``), ``X`` int8 dosage 0/1/2 (or allele
0/1 per haplotype), the label column from the sample sheet, ``obs["split"]`` and
``uns["omicsgen"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from omicsgen.contract import set_model_ready
from omicsgen.errors import InputError
from omicsgen.genotypes import read_genotypes, read_samples, sample_lister
from omicsgen.preprocess.split import stratified_split

LIKELIHOOD_OF_ENCODING = {"dosage": "binomial", "haplotype": "bernoulli"}


def read_sample_sheet(path: str | os.PathLike, label_key: str | None) -> pd.DataFrame:
    """Read a sample sheet: TSV with a header, a ``sample`` column and any annotation columns.

    Parameters
    ----------
    path
        Tab-separated file; one row per sample to analyse.
    label_key
        Column holding the labels (population), or ``None``.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample ID (str), the sheet's other columns as str.

    Raises
    ------
    InputError
        Missing file, no ``sample`` column, a sample listed twice, ``label_key`` absent or
        empty for some sample.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: sample sheet not found; check the dataset's 'sample_sheet' in the config")
    sheet = pd.read_csv(path, sep="\t", dtype=str, comment=None)
    if "sample" not in sheet.columns:
        raise InputError(
            f"{path}: no 'sample' column (columns: {list(sheet.columns)}); the sheet is a TSV with a header"
        )
    duplicated = sheet["sample"][sheet["sample"].duplicated()].tolist()
    if duplicated:
        raise InputError(f"{path}: sample {duplicated[0]!r} is listed more than once; keep one row per sample")
    if label_key is not None:
        if label_key not in sheet.columns:
            raise InputError(
                f"{path}: label column {label_key!r} not in the sample sheet (columns: {list(sheet.columns)}); "
                "set the dataset's 'label' to one of them, or null"
            )
        empty = sheet["sample"][sheet[label_key].isna()].tolist()
        if empty:
            raise InputError(f"{path}: no {label_key!r} for sample {empty[0]!r} ({len(empty)} in all); fill it in")
    return sheet.set_index("sample")


def prepare_genotypes(
    path: str | os.PathLike,
    *,
    sample_sheet: str | os.PathLike | None = None,
    label_key: str | None = None,
    regions: list[str] | None = None,
    encoding: str = "auto",
    min_maf: float = 0.01,
    min_call_rate: float = 0.9,
    missing: str = "sample_af",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    threads: int = 1,
):
    """Read a genotype input (VCF/BCF, PLINK ``.bed``/``.pgen``, VCF Zarr) into the model-ready AnnData.

    The sample sheet's samples (all the file's samples when there is none) are read with
    :func:`omicsgen.genotypes.read_genotypes` (biallelic SNPs, MAF and call-rate filters, the
    missing-genotype policy), labels are joined from the sheet, and a label-stratified split
    is drawn over samples: both haplotypes of a sample share its split, so held-out samples
    stay unseen.

    Parameters
    ----------
    path
        ``.vcf``, ``.vcf.gz``, ``.bcf``, ``.bed`` (with ``.bim``, ``.fam``), ``.pgen`` (with
        ``.pvar``, ``.psam``) or a ``.vcz`` store; samples are matched by ID (IID for PLINK).
    sample_sheet
        TSV (see :func:`read_sample_sheet`); its samples are the ones analysed.
    label_key
        Sample-sheet column with labels (population), or ``None`` for unlabelled data.
    regions, min_maf, min_call_rate, missing, threads
        See :func:`omicsgen.genotypes.vcf.read_vcf`.
    encoding
        ``"dosage"``, ``"haplotype"`` or ``"auto"`` (haplotypes when the input is phased, see
        :func:`omicsgen.genotypes.read_genotypes`); the one read is ``uns["omicsgen"]["encoding"]``.
    val_fraction, test_fraction
        Fractions of samples per label for validation and test.
    seed
        Seed of the split and of the ``sample_af`` imputation.

    Returns
    -------
    anndata.AnnData
        ``X`` int8 ``(n_obs, n_sites)``; ``uns["omicsgen"]``: modality ``"vcf"``, encoding,
        likelihood (``"binomial"`` for dosage, ``"bernoulli"`` for haplotypes), label key.

    Raises
    ------
    InputError
        A label without a sample sheet, and everything :func:`read_sample_sheet` and
        :func:`~omicsgen.genotypes.read_genotypes` raise.
    """
    sheet = read_sample_sheet(sample_sheet, label_key) if sample_sheet else None
    if label_key is not None and sheet is None:
        raise InputError(f"{path}: label {label_key!r} needs a sample_sheet (TSV: sample, {label_key}) to read it from")
    samples = None
    if sheet is not None:
        in_file = set(read_samples(path))
        samples = list(sheet.index)
        absent = [s for s in samples if s not in in_file]
        if absent:
            raise InputError(
                f"{sample_sheet}: {len(absent)} samples are not in {path} (first: {', '.join(absent[:5])}); "
                f"fix the sheet; '{sample_lister(path)}' lists the file's samples"
            )
    adata = read_genotypes(
        path,
        samples=samples,
        regions=regions,
        encoding=encoding,
        min_maf=min_maf,
        min_call_rate=min_call_rate,
        missing=missing,
        seed=seed,
        threads=threads,
    )
    if sheet is not None:
        for column in sheet.columns:
            adata.obs[column] = pd.Categorical(sheet.loc[adata.obs["sample"], column].to_numpy())
    samples_in_order = list(dict.fromkeys(adata.obs["sample"]))
    group = sheet.loc[samples_in_order, label_key].to_numpy() if label_key else np.zeros(len(samples_in_order))
    per_sample = dict(zip(samples_in_order, stratified_split(group, val_fraction, test_fraction, seed)))
    set_model_ready(
        adata,
        [per_sample[s] for s in adata.obs["sample"]],
        modality="vcf",
        encoding=adata.uns["vcf"]["encoding"],
        likelihood=LIKELIHOOD_OF_ENCODING[adata.uns["vcf"]["encoding"]],
        label_key=label_key,
    )
    return adata
