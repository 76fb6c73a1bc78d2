"""VCF Zarr (``.vcz``, written by bio2zarr's ``vcf2zarr``; Czech et al. 2025) read chunk by chunk.

The store's arrays follow the VCF Zarr specification (v0.4+): ``sample_id``, ``contig_id``,
``contig_length``, ``variant_contig``, ``variant_position``, ``variant_allele``, ``variant_id``,
``call_genotype`` ``(variants, samples, ploidy)`` int8 (``-1`` missing, ``-2`` fill) and
``call_genotype_phased``. Site annotations are read whole (a few bytes per site); genotypes one
variant chunk at a time, only for chunks holding a selected site, into the block layout every
genotype reader shares (:mod:`omicsgen.genotypes.blocks`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from omicsgen.errors import InputError
from omicsgen.genotypes.blocks import (
    BLOCK_SITES,
    ScanResult,
    SiteFilter,
    SortCheck,
    check_options,
    is_biallelic_snp,
    keep_block,
    read_single_pass,
    region_mask,
)
from omicsgen.regions import parse_region

REQUIRED = (
    "sample_id",
    "contig_id",
    "variant_contig",
    "variant_position",
    "variant_allele",
    "call_genotype",
)


def open_store(path: str | os.PathLike):
    """Open a VCF Zarr store read-only and check it holds the arrays omicsgen reads.

    Raises
    ------
    InputError
        Not a Zarr store, or an array of :data:`REQUIRED` absent (a sites-only store has no
        ``call_genotype``).
    """
    import zarr

    path = Path(path)
    if not path.is_dir():
        raise InputError(
            f"{path}: a VCF Zarr store is a directory; convert a VCF with 'vcf2zarr convert in.vcf.gz {path}'"
        )
    try:
        root = zarr.open_group(str(path), mode="r")
    except Exception as err:  # zarr raises several types for a folder that is not a store
        raise InputError(f"{path}: not a readable Zarr store ({err}); remake it with 'vcf2zarr convert'") from err
    absent = [name for name in REQUIRED if name not in root]
    if absent:
        raise InputError(
            f"{path}: not a VCF Zarr store with genotypes (no {', '.join(absent)}); omicsgen needs called "
            "genotypes (call_genotype); convert the VCF with 'vcf2zarr convert'"
        )
    return root


def read_samples(path: str | os.PathLike) -> list[str]:
    """Sample IDs of a VCF Zarr store, in store order.

    Raises
    ------
    InputError
        See :func:`open_store`; a sample ID that occurs twice.
    """
    ids = [str(s) for s in open_store(path)["sample_id"][:]]
    seen: set[str] = set()
    duplicates = [s for s in ids if s in seen or seen.add(s)]
    if duplicates:
        raise InputError(f"{path}: duplicate sample IDs {duplicates[:5]}; rename them in the VCF and convert again")
    return ids


def read_vcz(
    path: str | os.PathLike,
    *,
    samples: list[str] | None = None,
    regions: list[str] | None = None,
    encoding: str = "dosage",
    min_maf: float = 0.01,
    min_call_rate: float = 0.9,
    missing: str = "sample_af",
    seed: int = 0,
    tmp_dir: str | os.PathLike | None = None,
):
    """Read biallelic SNP genotypes of a VCF Zarr store into an AnnData (obs = samples or haplotypes).

    Parameters
    ----------
    path
        The ``.vcz`` directory.
    samples, regions, encoding, min_maf, min_call_rate, missing, seed, tmp_dir
        As :func:`omicsgen.genotypes.vcf.read_vcf`.

    Returns
    -------
    anndata.AnnData
        As :func:`omicsgen.genotypes.vcf.read_vcf`, ``uns["vcf"]["format"]`` ``"vcz"``.

    Raises
    ------
    InputError
        See :func:`open_store`; sites out of position order, absent samples, non-diploid
        calls, a region naming an absent contig or holding no site, unphased calls with
        ``encoding="haplotype"``, or no site left after the filters.
    """
    check_options(path, encoding, missing)
    return read_single_pass(
        path,
        _scan,
        str(path),
        in_file=read_samples(path),
        n_variants=open_store(path)["variant_position"].shape[0],
        file_format="vcz",
        samples=samples,
        regions=regions,
        encoding=encoding,
        min_maf=min_maf,
        min_call_rate=min_call_rate,
        missing=missing,
        seed=seed,
        tmp_dir=tmp_dir,
    )


def _scan(store: str, filt: SiteFilter, regions: tuple[str, ...], in_file: tuple[str, ...], rows_path: str):
    """Read the store's site arrays, check them, then decode the selected biallelic SNPs into ``rows_path``."""
    path, encoding, order = filt.path, filt.encoding, list(filt.samples)
    root = open_store(store)
    contig_ids = [str(c) for c in root["contig_id"][:]]
    lengths = root["contig_length"][:] if "contig_length" in root else np.zeros(len(contig_ids), dtype=int)
    contigs = dict(zip(contig_ids, (int(x) for x in lengths)))
    chrom = np.asarray(contig_ids, dtype=object)[root["variant_contig"][:]]
    pos = root["variant_position"][:].astype(np.int64)
    alleles = np.asarray(root["variant_allele"][:], dtype=object)  # "" pads the allele slots
    ids = np.asarray(root["variant_id"][:], dtype=object) if "variant_id" in root else np.full(len(pos), ".", object)
    if "variant_id_mask" in root:
        ids[root["variant_id_mask"][:]] = "."
    check = SortCheck(path, "sort the VCF (bcftools sort) and convert it again with 'vcf2zarr convert'")
    for c, p in zip(chrom, pos):
        check.check(c, p)
    parsed = [parse_region(r, contigs, path) for r in regions]
    for region in parsed:
        if not region_mask(chrom, pos, [region]).any():
            raise InputError(f"{path}: region {region} holds no site; check 'regions' against the store's contigs")
    n_alleles = (alleles != "").sum(axis=1)
    snp = (n_alleles == 2) & np.array([is_biallelic_snp(a[0], a[1]) for a in alleles[:, :2]], dtype=bool)
    selected = region_mask(chrom, pos, parsed)
    genotype = root["call_genotype"]
    if genotype.shape[2] != 2:
        raise InputError(
            f"{path}: ploidy {genotype.shape[2]}; omicsgen models diploid genotypes: restrict 'regions' to "
            "autosomes or convert haploid calls"
        )
    phased_array = root["call_genotype_phased"] if "call_genotype_phased" in root else None
    phased = encoding == "haplotype" and phased_array is not None
    index = {s: i for i, s in enumerate(in_file)}
    columns = np.array([index[s] for s in order]) if order != list(in_file) else slice(None)
    chunk = genotype.chunks[0]
    result = ScanResult(rows_path)
    result.dropped["not_biallelic_snp"] = int((selected & ~snp).sum())
    keep = selected & snp
    with open(rows_path, "wb") as out:
        for start in range(0, len(pos), chunk):  # one variant chunk decoded at a time ...
            stop = min(start + chunk, len(pos))
            kept = np.flatnonzero(keep[start:stop])
            if not len(kept):
                continue
            gt_chunk = genotype[start:stop]  # (chunk, all samples, 2) int8
            phased_chunk = phased_array[start:stop] if phased else None
            for first in range(0, len(kept), BLOCK_SITES):  # ... in blocks of sites, as the other readers
                rows = kept[first : first + BLOCK_SITES]
                gt = gt_chunk[rows][:, columns]
                if (gt < -1).any():
                    site = start + rows[int(np.argwhere(gt < -1)[0][0])]
                    raise InputError(
                        f"{path}: record {chrom[site]}:{pos[site]} has a haploid call; "
                        "omicsgen models diploid genotypes: restrict 'regions' to autosomes"
                    )
                calls = np.zeros((*gt.shape[:2], 3), dtype=np.int8)
                calls[..., :2] = gt
                if phased:
                    calls[..., 2] = phased_chunk[rows][:, columns]
                at = start + rows
                sites = list(zip(chrom[at], pos[at].tolist(), ids[at], alleles[at, 0], alleles[at, 1]))
                keep_block(filt, calls, sites, result, out)
    return result, contigs
