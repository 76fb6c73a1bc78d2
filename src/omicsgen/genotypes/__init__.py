"""Genotype inputs: VCF/BCF, PLINK 1 ``.bed``, PLINK 2 ``.pgen`` and VCF Zarr, into one int8 matrix.

:func:`read_genotypes` picks the reader from the path (:func:`genotype_format`); every reader
applies the same filters and missing-genotype policies (:mod:`omicsgen.genotypes.blocks`) and
returns the same AnnData, so one cohort gives the same matrix from any of its formats.
``encoding="auto"`` reads phased inputs as haplotypes and the others as dosages
(:func:`read_genotypes`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from omicsgen.errors import InputError, UnphasedError

log = logging.getLogger(__name__)

AUTO_ENCODING = "auto"  # haplotypes where the input is phased, else dosages

FORMATS = ("vcf", "bed", "pgen", "vcz")
SAMPLE_LISTERS = {
    "vcf": "bcftools query -l {path}",
    "bed": "cut -d' ' -f2 {stem}.fam",
    "pgen": "cut -f1 {stem}.psam",
    "vcz": "vcztools query -l {path}",
}


def genotype_format(path: str | os.PathLike) -> str:
    """The format of a genotype input, from its name: ``"vcf"`` (``.vcf``, ``.vcf.gz``, ``.bcf``),
    ``"bed"``, ``"pgen"`` or ``"vcz"`` (a directory ending ``.vcz`` or ``.zarr``)."""
    name = str(path).rstrip("/")
    if name.endswith((".vcz", ".zarr")):
        return "vcz"
    if name.endswith(".bed"):
        return "bed"
    if name.endswith(".pgen"):
        return "pgen"
    return "vcf"


def read_samples(path: str | os.PathLike) -> list[str]:
    """The sample IDs of a genotype input, in file order (IIDs for PLINK).

    Raises
    ------
    InputError
        Unreadable input, duplicate sample IDs.
    """
    fmt = genotype_format(path)
    if fmt == "vcf":
        from omicsgen.genotypes.vcf import read_header

        return read_header(path).samples
    if fmt == "vcz":
        from omicsgen.genotypes.vcz import read_samples as vcz_samples

        return vcz_samples(path)
    from omicsgen.genotypes.plink import fileset
    from omicsgen.genotypes.plink import read_samples as plink_samples

    return plink_samples(fileset(path)["samples"])


def sample_lister(path: str | os.PathLike) -> str:
    """A shell command that lists the input's samples, for error messages."""
    return SAMPLE_LISTERS[genotype_format(path)].format(path=path, stem=Path(path).with_suffix(""))


def read_genotypes(path: str | os.PathLike, *, threads: int = 1, **options):
    """Read biallelic SNP genotypes of any supported format into an AnnData.

    Parameters
    ----------
    path
        ``.vcf``/``.vcf.gz``/``.bcf``, ``.bed`` (with ``.bim``/``.fam``), ``.pgen`` (with
        ``.pvar``/``.psam``) or a ``.vcz`` VCF Zarr store.
    threads
        Worker processes for VCF/BCF (:func:`~omicsgen.genotypes.vcf.read_vcf`); the PLINK and
        VCF Zarr readers decode blocks fast enough in one.
    **options
        ``samples``, ``regions``, ``encoding``, ``min_maf``, ``min_call_rate``, ``missing``,
        ``seed``, ``tmp_dir``: see :func:`~omicsgen.genotypes.vcf.read_vcf`. ``encoding`` may
        also be ``"auto"``: ``"haplotype"`` when every heterozygous call at the kept sites is
        phased (``0|1``) and there is at least one, else ``"dosage"`` (a ``.bed`` holds no
        phase; a file of homozygous calls alone, such as inbred lines, has no phase to keep).
        It is decided by reading: the input is read as haplotypes, and read again as dosages
        at the first unphased heterozygous call (an unphased file stops at its first one, so
        the second read is the only full one) or when no heterozygous call was read.

    Returns
    -------
    anndata.AnnData
        int8 ``X`` ``(n_samples or 2 * n_samples, n_sites)``; ``var`` ``chrom``, ``pos``, ``id``,
        ``ref``, ``alt``, ``af``, ``call_rate``; ``uns["vcf"]`` with the ``format`` read (and,
        where ``encoding="auto"`` read dosages, ``unphased``: whether an unphased heterozygous call
        was the reason).

    Raises
    ------
    InputError
        Whatever the format's reader raises for bad input.
    """
    if not Path(path).exists():
        raise InputError(f"{path}: file not found; check the dataset's 'path' in the config")
    if options.get("encoding") != AUTO_ENCODING:
        return _read(path, threads, options)
    unphased = False
    try:
        adata = _read(path, threads, {**options, "encoding": "haplotype"})
        if adata.uns["vcf"]["heterozygous_calls"] > 0:
            log.info("%s: encoding auto: every heterozygous call is phased, read as haplotypes", path)
            return adata
        why = "no heterozygous call, so no phase to keep"
    except UnphasedError as error:
        why = str(error).split(": ", 1)[-1].split(";")[0]
        unphased = True
    log.info("%s: encoding auto: %s; read as dosages", path, why)
    adata = _read(path, threads, {**options, "encoding": "dosage"})
    adata.uns["vcf"]["unphased"] = unphased  # the report suggests phase: beagle
    return adata


def _read(path: str | os.PathLike, threads: int, options: dict):
    """Read with the format's reader, ``options`` (a concrete encoding) as :func:`read_genotypes`."""
    fmt = genotype_format(path)
    if fmt == "vcf":
        from omicsgen.genotypes.vcf import read_vcf

        return read_vcf(path, threads=threads, **options)
    if fmt == "vcz":
        from omicsgen.genotypes.vcz import read_vcz

        return read_vcz(path, **options)
    from omicsgen.genotypes.plink import read_plink

    return read_plink(path, **options)
