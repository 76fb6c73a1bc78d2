"""VCF/BCF genotypes: streamed into an int8 matrix, and synthetic genotypes written back.

Reading uses cyvcf2 (htslib) and never holds a text copy of the file: each worker walks its
part of the file once, keeps the biallelic SNPs that pass the filters and appends their
genotype rows to a temporary file; the main process then reads those rows into one
preallocated int8 matrix. Peak memory is that matrix plus one block of rows per worker.
Writing uses pysam (htslib): bgzipped VCF with a tabix index.
"""

from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omicsgen import contract
from omicsgen.errors import InputError
from omicsgen.genotypes.blocks import (
    BLOCK_SITES,
    ScanResult,
    SiteFilter,
    SortCheck,
    assemble,
    check_options,
    in_regions,
    is_biallelic_snp,
    keep_block,
    sample_order,
)
from omicsgen.io import is_gzip
from omicsgen.regions import Region, parse_region

log = logging.getLogger(__name__)

_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def check_bgzf(path: str | os.PathLike) -> None:
    """Raise :class:`InputError` when a BGZF file (``.vcf.gz``, ``.bcf``) lacks its end-of-file block.

    htslib only warns about a missing EOF marker and may then stop reading early; a
    truncated download would silently lose records.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head[:2] != b"\x1f\x8b" or head[3:4] != b"\x04":  # plain text or plain gzip: no EOF block
            return
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - len(_BGZF_EOF)))
        if handle.read() != _BGZF_EOF:
            raise InputError(
                f"{path}: truncated BGZF file (no end-of-file block); the copy is incomplete: "
                "download it again or recompress it with 'bgzip' / 'bcftools view -Ob'"
            )


def has_index(path: str | os.PathLike) -> bool:
    """True when a usable tabix (``.tbi``) or CSI (``.csi``) index sits next to ``path``.

    An index older than the file (htslib warns "The index file is older than the data
    file") may point at the wrong blocks, so region queries would miss records: it is
    ignored with a warning, and the file is streamed instead.
    """
    for ext in (".tbi", ".csi"):
        index = Path(f"{path}{ext}")
        if not index.exists():
            continue
        if index.stat().st_mtime < Path(path).stat().st_mtime:
            log.warning(
                "%s: its index %s is older than the file, so it may not match; reading without it "
                "(streamed). Re-index for fast region queries: bcftools index -f %s",
                path,
                index,
                path,
            )
            return False
        return True
    return False


@dataclass
class Header:
    """What the VCF header says: samples and contigs (name -> length in bp, 0 when unknown)."""

    samples: list[str]
    contigs: dict[str, int]


def read_header(path: str | os.PathLike) -> Header:
    """Open a VCF/BCF and check its header: readable, GT defined, samples present and unique.

    Raises
    ------
    InputError
        Missing or unreadable file, truncated BGZF, no ``##FORMAT=<ID=GT`` line, no
        samples, or a sample ID that occurs twice.
    """
    from cyvcf2 import VCF

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the dataset's 'path' in the config")
    check_bgzf(path)
    duplicates = _duplicate_samples(path)
    if duplicates:
        raise InputError(
            f"{path}: duplicate sample IDs in the header: {', '.join(duplicates[:5])}; "
            "rename them (bcftools reheader -s) so every sample is unique"
        )
    try:
        vcf = VCF(str(path), lazy=True)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable VCF/BCF ({err}); check it with 'bcftools view -h'") from err
    try:
        if "##FORMAT=<ID=GT," not in vcf.raw_header:
            raise InputError(
                f"{path}: no GT (genotype) FORMAT field in the header; omicsgen needs called genotypes "
                "(sites-only VCFs and likelihood-only files cannot be used)"
            )
        if not vcf.samples:
            raise InputError(f"{path}: the file has no samples (a sites-only VCF); genotypes are needed")
        contigs = dict(zip(vcf.seqnames, getattr(vcf, "seqlens", [0] * len(vcf.seqnames))))
        return Header(samples=list(vcf.samples), contigs=contigs)
    finally:
        vcf.close()


def _duplicate_samples(path: Path) -> list[str]:
    """Sample IDs that occur more than once in the ``#CHROM`` line (htslib refuses such files)."""
    import pysam

    if path.suffix == ".bcf":
        return []  # htslib cannot write a BCF with duplicate samples
    opener = pysam.BGZFile if is_gzip(path) else open
    with opener(str(path), "rb") as handle:
        for raw in handle:
            line = raw.decode() if isinstance(raw, bytes) else raw
            if line.startswith("#CHROM"):
                names = line.rstrip("\n").split("\t")[9:]
                seen, dups = set(), []
                for name in names:
                    if name in seen and name not in dups:
                        dups.append(name)
                    seen.add(name)
                return dups
            if not line.startswith("#"):
                break
    return []


@dataclass(frozen=True)
class ScanTask:
    """One worker's share: a region (or the whole file), the filters and the worker's row file."""

    filt: SiteFilter
    region: Region | None
    regions_filter: tuple[Region, ...]  # applied record by record when the file has no index
    rows_path: str


def _scan(task: ScanTask) -> ScanResult:
    """Walk one region (or the whole file) and append kept genotype rows to ``task.rows_path``."""
    from cyvcf2 import VCF

    path = task.filt.path
    vcf = VCF(path, samples=list(task.filt.samples), lazy=True)
    result = ScanResult(task.rows_path)
    records = vcf(str(task.region)) if task.region is not None else vcf
    n = len(task.filt.samples)
    block = np.empty((BLOCK_SITES, n, 3), dtype=np.int8)
    pending: list[tuple] = []
    with open(task.rows_path, "wb") as out:

        def flush() -> None:
            k = len(pending)
            if k:
                keep_block(task.filt, block[:k], pending, result, out)
                pending.clear()

        order = SortCheck(path)
        for rec in records:
            pos = rec.POS
            order.check(rec.CHROM, pos)
            if task.region is not None and (
                pos < task.region.start or (task.region.end is not None and pos > task.region.end)
            ):
                continue  # starts outside this worker's interval (overlapping indel or next worker's site)
            if task.regions_filter and not in_regions(rec.CHROM, pos, task.regions_filter):
                continue
            alt = rec.ALT
            ref = rec.REF
            if len(alt) != 1 or not is_biallelic_snp(ref, alt[0]):
                result.dropped["not_biallelic_snp"] += 1
                continue
            genotype = rec.genotype
            if genotype is None:
                raise InputError(f"{path}: record {rec.CHROM}:{pos} has no GT field; every record needs genotypes")
            calls = genotype.array()
            if calls.shape[1] != 3:
                raise InputError(
                    f"{path}: record {rec.CHROM}:{pos} has ploidy {calls.shape[1] - 1}; omicsgen models diploid "
                    "genotypes: restrict 'regions' to autosomes or convert haploid calls"
                )
            block[len(pending)] = calls
            pending.append((rec.CHROM, pos, rec.ID or ".", ref, alt[0]))
            if len(pending) == BLOCK_SITES:
                flush()
        flush()
    vcf.close()
    return result


def _first_pos(vcf, chrom: str, start: int, end: int) -> int | None:
    """Position of the first record starting in ``chrom:start-end`` (an index query), or None."""
    for rec in vcf(f"{chrom}:{start}-{end}"):
        if rec.POS >= start:
            return rec.POS if rec.POS <= end else None
    return None


def _data_extent(vcf, region: Region, length: int) -> tuple[int, int] | None:
    """First and (within 1 kb) last record position of a region, by binary search of index queries."""
    end = region.end or length or 2**29 - 1  # 2^29: the largest position a tabix index holds
    first = _first_pos(vcf, region.chrom, region.start, end)
    if first is None:
        return None
    lo, hi = first, end  # a record starts at lo; none starts after hi
    while hi - lo > 1000:
        mid = (lo + hi) // 2
        if _first_pos(vcf, region.chrom, mid, hi) is None:
            hi = mid - 1
        else:
            lo = mid
    return first, hi


def _split_regions(path: str, regions: list[Region], contigs: dict[str, int], n_parts: int) -> list[Region]:
    """Cut regions into about ``n_parts`` intervals of equal length (bp) over the span holding records."""
    from cyvcf2 import VCF

    vcf = VCF(path, lazy=True, samples=[])
    try:
        spans = [(r.chrom, *ext) for r in regions if (ext := _data_extent(vcf, r, contigs.get(r.chrom, 0)))]
    finally:
        vcf.close()
    total = sum(end - start + 1 for _, start, end in spans)
    parts: list[Region] = []
    for chrom, start, end in spans:
        n = max(1, round(n_parts * (end - start + 1) / total))
        edges = np.linspace(start, end + 1, n + 1).astype(int)
        parts.extend(Region(chrom, int(a), int(b) - 1) for a, b in zip(edges[:-1], edges[1:]) if b > a)
    return parts or [regions[0]]


def read_vcf(
    path: str | os.PathLike,
    *,
    samples: list[str] | None = None,
    regions: list[str] | None = None,
    encoding: str = "dosage",
    min_maf: float = 0.01,
    min_call_rate: float = 0.9,
    missing: str = "sample_af",
    seed: int = 0,
    threads: int = 1,
    tmp_dir: str | os.PathLike | None = None,
):
    """Read biallelic SNP genotypes of a VCF/BCF into an AnnData (obs = samples or haplotypes).

    Records are streamed with cyvcf2 (htslib). Kept: biallelic SNPs (one REF and one ALT base
    among A, C, G, T) with call rate ``>= min_call_rate`` and minor-allele frequency
    ``>= min_maf`` among the kept samples (plink's ``--geno``/``--maf`` filters). Missing
    genotypes are then filled by the named ``missing`` policy.

    Parameters
    ----------
    path
        ``.vcf``, ``.vcf.gz`` (BGZF) or ``.bcf``, indexed or not.
    samples
        Sample IDs to keep, in the order wanted; ``None`` for all. Every ID must be in the file.
    regions
        ``"chrom"`` or ``"chrom:start-end"`` strings (1-based, inclusive, bp); ``None`` for
        the whole file. With a ``.tbi``/``.csi`` index the regions are queried; without one the
        file is streamed and records outside them are skipped.
    encoding
        ``"dosage"``: alt-allele count 0/1/2 per sample. ``"haplotype"``: two rows per sample
        (``<sample>_h1``, ``<sample>_h2``), allele 0/1 each; needs phased genotypes.
    min_maf, min_call_rate
        Site filters (fractions).
    missing
        Missing-genotype policy: ``"drop_site"`` (drop every site with a missing call),
        ``"mode"`` (the site's most frequent dosage/allele), ``"mean"`` (the mean dosage
        ``2 * AF`` rounded to an integer; for haplotypes the rounded AF), ``"sample_af"``
        (draws from Binomial(2, AF), or Bernoulli(AF) per haplotype, as popvae; Battey
        et al. 2021). AF is counted over called alleles before imputation.
    seed
        Seed of the ``sample_af`` draws (site order, independent of ``threads``).
    threads
        Worker processes; more than one splits the regions (or the contigs) by position and
        needs an index.
    tmp_dir
        Folder of the workers' temporary row files (default: the system's).

    Returns
    -------
    anndata.AnnData
        ``X`` int8 ``(n_samples or 2 * n_samples, n_sites)``; ``var``: ``chrom``, ``pos``
        (1-based, bp), ``id``, ``ref``, ``alt``, ``af`` (alt-allele frequency), ``call_rate``;
        ``obs``: ``sample`` (and ``haplotype`` 1/2). ``uns["vcf"]`` holds the encoding, the
        contigs, the counts of sites dropped per reason, of genotypes imputed and of heterozygous calls.

    Raises
    ------
    InputError
        Unreadable or truncated file, no GT, records out of position order, duplicate or
        absent samples, a region naming a contig absent from the header or holding no
        record, unphased data with ``encoding="haplotype"``, non-diploid calls, or no site
        left after the filters.
    """
    check_options(path, encoding, missing)
    header = read_header(path)
    # cyvcf2 returns samples in file order; keep that order, then reorder the rows at the end
    order, samples = sample_order(path, header.samples, samples)
    parsed = [parse_region(r, header.contigs, str(path)) for r in regions or []]
    indexed = has_index(path)
    if threads > 1 and not indexed:
        log.info("%s: no index, reading with one process (index it with 'bcftools index' for parallel reading)", path)
        threads = 1
    if indexed and parsed:
        parts = _split_regions(str(path), parsed, header.contigs, threads) if threads > 1 else parsed
        region_filter: tuple[Region, ...] = ()
    elif threads > 1:
        parts = _split_regions(str(path), [Region(c) for c in header.contigs], header.contigs, threads)
        region_filter = ()
    else:
        parts, region_filter = [None], tuple(parsed)

    filt = SiteFilter(str(path), tuple(order), encoding, min_maf, min_call_rate, missing, seed)
    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="omicsgen-vcf-") as tmp:
        tasks = [
            ScanTask(filt, part, region_filter, os.path.join(tmp, f"part{i}.int8")) for i, part in enumerate(parts)
        ]
        if len(tasks) == 1:
            results = [_scan(tasks[0])]
        else:
            with ProcessPoolExecutor(max_workers=threads) as pool:
                results = list(pool.map(_scan, tasks))
        for region in parsed:
            if not any(_region_has_records(r, region) for r in results) and not _any_record_in(path, region, indexed):
                raise InputError(
                    f"{path}: region {region} holds no record; check 'regions' against 'bcftools index -s'"
                )
        return assemble(filt, results, samples=samples, contigs=header.contigs, file_format="vcf")


def _region_has_records(result: ScanResult, region: Region) -> bool:
    return any(
        c == region.chrom and region.start <= p and (region.end is None or p <= region.end)
        for c, p in zip(result.sites["chrom"], result.sites["pos"])
    )


def _any_record_in(path, region: Region, indexed: bool) -> bool:
    """Whether any record (kept or not) starts in ``region``; used only to word the error."""
    from cyvcf2 import VCF

    vcf = VCF(str(path), lazy=True, samples=[])
    try:
        records = vcf(str(region)) if indexed else vcf
        return any(in_regions(rec.CHROM, rec.POS, (region,)) for rec in records)
    finally:
        vcf.close()


def write_vcf(adata, path: str | os.PathLike, *, source: str = "omicsgen") -> None:
    """Write synthetic genotypes as a bgzipped, tabix-indexed VCF (pysam/htslib).

    Parameters
    ----------
    adata
        Synthetic AnnData: ``X`` ``(n_obs, n_sites)`` dosages 0/1/2 (unphased ``0/1`` calls)
        or, with ``uns["omicsgen"]["encoding"] == "haplotype"``, alleles 0/1 whose
        consecutive row pairs form one phased sample (``0|1``); ``var`` with ``chrom``,
        ``pos``, ``id``, ``ref``, ``alt``; ``uns["vcf"]["contigs"]`` (name -> length, bp).
        Sample names are taken from ``obs_names`` (dosage) or ``obs["sample"]`` (haplotype).
    path
        Output ``.vcf.gz``; the ``.tbi`` index is written next to it. Written atomically.
    source
        Value of the ``##source`` header line.

    Raises
    ------
    ValueError
        Values outside the encoding's range or an odd number of haplotypes.
    """
    import pysam

    X = np.asarray(adata.X)
    haplotype = contract.rows_per_sample(adata) == 2
    top = 1 if haplotype else 2
    if X.size and (X.min() < 0 or X.max() > top):
        raise ValueError(f"genotype values must lie in 0..{top}; got {X.min()}..{X.max()}")
    if haplotype:
        if X.shape[0] % 2:
            raise ValueError("haplotype rows must come in pairs (two per sample)")
        names = list(dict.fromkeys(adata.obs["sample"].astype(str)))
        genotypes = [("0|0", "0|1"), ("1|0", "1|1")]
    else:
        names = list(adata.obs_names.astype(str))
        genotypes = ["0/0", "0/1", "1/1"]
    header = pysam.VariantHeader()
    header.add_line(f"##source={source}")
    for name, length in adata.uns["vcf"]["contigs"].items():
        header.contigs.add(name, length=int(length) or None)
    header.formats.add("GT", 1, "String", "Genotype")
    for name in names:
        header.add_sample(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.vcf.gz")
    var = adata.var
    try:
        with pysam.BGZFile(str(tmp), "wb") as out:
            out.write(str(header).encode())
            table = np.array(genotypes, dtype=object)
            for j in range(X.shape[1]):
                column = X[:, j].astype(int)
                calls = table[column[0::2], column[1::2]] if haplotype else table[column]
                site = "\t".join(str(var[key].iat[j]) for key in ("chrom", "pos", "id", "ref", "alt"))
                fixed = f"{site}\t.\tPASS\t.\tGT\t"
                out.write((fixed + "\t".join(calls) + "\n").encode())
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
        os.replace(tmp, path)
        os.replace(f"{tmp}.tbi", f"{path}.tbi")
    finally:
        for leftover in (tmp, Path(f"{tmp}.tbi")):
            if leftover.exists():
                leftover.unlink()
