"""VCF/BCF genotypes: streamed into an int8 matrix, and synthetic genotypes written back.

Reading uses cyvcf2 (htslib) and never holds a text copy of the file: each worker walks its
part of the file once, keeps the biallelic SNPs that pass the filters and appends their
genotype rows to a temporary file; the main process then reads those rows into one
preallocated int8 matrix. Peak memory is that matrix plus one block of rows per worker.
Writing uses pysam (htslib): bgzipped VCF with a tabix index.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from omicsgen import contract
from omicsgen.errors import InputError
from omicsgen.io import is_gzip
from omicsgen.regions import Region, parse_region

log = logging.getLogger(__name__)

ENCODINGS = ("dosage", "haplotype")
MISSING_POLICIES = ("drop_site", "mode", "mean", "sample_af")
MISSING = -1  # int8 code of a missing genotype before the missing-genotype policy is applied
BLOCK_SITES = 4096  # records decoded together; bounds a worker's memory
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_BASES = frozenset("ACGT")


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


@dataclass
class ScanResult:
    """What one worker kept: rows in a temporary file, their site annotations and drop counts."""

    rows_path: str
    n_rows: int = 0
    sites: dict[str, list] = field(default_factory=lambda: {k: [] for k in ("chrom", "pos", "id", "ref", "alt")})
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanTask:
    """One worker's share: a file, a region (or the whole file) and the filters."""

    path: str
    region: Region | None
    regions_filter: tuple[Region, ...]  # applied record by record when the file has no index
    samples: tuple[str, ...]
    encoding: str
    min_maf: float
    min_call_rate: float
    drop_missing: bool
    rows_path: str


class SortCheck:
    """Raises :class:`InputError` at the first record out of position order.

    A VCF must be sorted (records of a contig together, positions non-decreasing within it)
    for an index, region queries and the LD metrics, which pair neighbouring sites; an
    unsorted file is stopped while it is read, with the ``bcftools sort`` command that fixes it.
    """

    def __init__(self, path: str):
        self.path = path
        self.chrom: str | None = None
        self.pos = 0
        self.done: set[str] = set()

    def check(self, chrom: str, pos: int) -> None:
        """Check the next record's contig and 1-based position (bp)."""
        if chrom != self.chrom:
            if chrom in self.done:
                self._fail(f"record {chrom}:{pos} returns to contig {chrom!r} after {self.chrom}:{self.pos}")
            if self.chrom is not None:
                self.done.add(self.chrom)
            self.chrom = chrom
        elif pos < self.pos:
            self._fail(f"record {chrom}:{pos} comes after {chrom}:{self.pos}")
        self.pos = pos

    def _fail(self, what: str) -> None:
        raise InputError(
            f"{self.path}: not sorted by position: {what}; sort it into a new file: "
            f"bcftools sort -Oz -o sorted.vcf.gz {self.path} && bcftools index sorted.vcf.gz"
        )


def _in_regions(chrom: str, pos: int, regions: tuple[Region, ...]) -> bool:
    return any(r.chrom == chrom and r.start <= pos and (r.end is None or pos <= r.end) for r in regions)


def _scan(task: ScanTask) -> ScanResult:
    """Walk one region (or the whole file) and append kept genotype rows to ``task.rows_path``."""
    from cyvcf2 import VCF

    vcf = VCF(task.path, samples=list(task.samples), lazy=True)
    result = ScanResult(task.rows_path)
    dropped = {"not_biallelic_snp": 0, "low_call_rate": 0, "low_maf": 0, "missing_genotype": 0}
    records = vcf(str(task.region)) if task.region is not None else vcf
    n = len(task.samples)
    block = np.empty((BLOCK_SITES, n, 3), dtype=np.int16)
    pending: list[tuple] = []
    with open(task.rows_path, "wb") as out:

        def flush() -> None:
            k = len(pending)
            if k:
                _keep_block(task, block[:k], pending, result, dropped, out)
                pending.clear()

        order = SortCheck(task.path)
        for rec in records:
            pos = rec.POS
            order.check(rec.CHROM, pos)
            if task.region is not None and (
                pos < task.region.start or (task.region.end is not None and pos > task.region.end)
            ):
                continue  # starts outside this worker's interval (overlapping indel or next worker's site)
            if task.regions_filter and not _in_regions(rec.CHROM, pos, task.regions_filter):
                continue
            alt = rec.ALT
            ref = rec.REF
            if len(alt) != 1 or len(ref) != 1 or len(alt[0]) != 1 or ref not in _BASES or alt[0] not in _BASES:
                dropped["not_biallelic_snp"] += 1
                continue
            genotype = rec.genotype
            if genotype is None:
                raise InputError(f"{task.path}: record {rec.CHROM}:{pos} has no GT field; every record needs genotypes")
            calls = genotype.array()
            if calls.shape[1] != 3:
                raise InputError(
                    f"{task.path}: record {rec.CHROM}:{pos} has ploidy {calls.shape[1] - 1}; omicsgen models diploid "
                    "genotypes: restrict 'regions' to autosomes or convert haploid calls"
                )
            block[len(pending)] = calls
            pending.append((rec.CHROM, pos, rec.ID or ".", ref, alt[0]))
            if len(pending) == BLOCK_SITES:
                flush()
        flush()
    vcf.close()
    result.dropped = dropped
    return result


def _keep_block(task: ScanTask, calls: np.ndarray, sites: list[tuple], result: ScanResult, dropped: dict, out) -> None:
    """Filter a block of decoded records ``(k, n_samples, 3)`` and append the kept rows."""
    first, second = calls[:, :, 0].astype(np.int8), calls[:, :, 1].astype(np.int8)
    missing = (first < 0) | (second < 0)  # (k, n)
    dosage = first + second
    dosage[missing] = 0
    called = calls.shape[1] - missing.sum(axis=1)
    call_rate = called / calls.shape[1]
    af = np.divide(dosage.sum(axis=1, dtype=np.int64), 2 * called, out=np.zeros(len(sites)), where=called > 0)
    maf = np.minimum(af, 1 - af)
    drop_missing = missing.any(axis=1) if task.drop_missing else np.zeros(len(sites), dtype=bool)
    low_call = ~drop_missing & (call_rate < task.min_call_rate)
    low_maf = ~drop_missing & ~low_call & ((maf < task.min_maf) | (called == 0))
    keep = ~(drop_missing | low_call | low_maf)
    dropped["missing_genotype"] += int(drop_missing.sum())
    dropped["low_call_rate"] += int(low_call.sum())
    dropped["low_maf"] += int(low_maf.sum())
    if not keep.any():
        return
    kept = np.flatnonzero(keep)
    if task.encoding == "haplotype":
        phased = calls[kept, :, 2].astype(bool) | missing[kept]
        if not phased.all():
            site, sample = np.argwhere(~phased)[0]
            chrom, pos = sites[kept[site]][:2]
            raise InputError(
                f"{task.path}: record {chrom}:{pos}, sample {task.samples[sample]!r} has an unphased genotype "
                "but encoding 'haplotype' needs phased data; phase the file (Eagle, SHAPEIT, Beagle) or set "
                "encoding: dosage"
            )
        rows = np.stack([first[kept], second[kept]], axis=2).reshape(len(kept), -1)  # s0h1, s0h2, s1h1, ...
        rows[rows < 0] = MISSING
    else:
        rows = dosage[kept]
        rows[missing[kept]] = MISSING
    out.write(np.ascontiguousarray(rows, dtype=np.int8).tobytes())
    result.n_rows += len(kept)
    for i in kept:
        for key, value in zip(("chrom", "pos", "id", "ref", "alt"), sites[i]):
            result.sites[key].append(value)


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
        ``obs``: ``sample`` (and ``haplotype`` 1/2). ``uns["vcf"]`` holds the contigs, the
        counts of sites dropped per reason and of genotypes imputed.

    Raises
    ------
    InputError
        Unreadable or truncated file, no GT, records out of position order, duplicate or
        absent samples, a region naming a contig absent from the header or holding no
        record, unphased data with ``encoding="haplotype"``, non-diploid calls, or no site
        left after the filters.
    """
    import anndata as ad

    if encoding not in ENCODINGS:
        raise InputError(f"{path}: encoding {encoding!r} is not one of {ENCODINGS}")
    if missing not in MISSING_POLICIES:
        raise InputError(f"{path}: missing-genotype policy {missing!r} is not one of {MISSING_POLICIES}")
    header = read_header(path)
    if samples is None:
        samples = header.samples
    else:
        absent = [s for s in samples if s not in set(header.samples)]
        if absent:
            raise InputError(
                f"{path}: {len(absent)} requested samples are not in the file (first: {', '.join(absent[:5])}); "
                "fix the sample sheet or list the file's samples with 'bcftools query -l'"
            )
    # cyvcf2 returns samples in file order; keep that order, then reorder the rows at the end
    order = [s for s in header.samples if s in set(samples)]
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

    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="omicsgen-vcf-") as tmp:
        tasks = [
            ScanTask(
                str(path),
                part,
                region_filter,
                tuple(order),
                encoding,
                min_maf,
                min_call_rate,
                missing == "drop_site",
                os.path.join(tmp, f"part{i}.int8"),
            )
            for i, part in enumerate(parts)
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
        dropped = {k: sum(r.dropped[k] for r in results) for k in results[0].dropped}
        n_sites = sum(r.n_rows for r in results)
        n_obs = len(order) * (2 if encoding == "haplotype" else 1)
        if n_sites == 0:
            raise InputError(
                f"{path}: no site left after the filters (dropped: {dropped}); relax min_maf/min_call_rate, "
                "widen 'regions' or check that the file holds biallelic SNPs"
            )
        # site annotations first, so their temporary strings are gone before the matrix is allocated
        var = _site_table(results)
        if not var.index.is_unique:
            log.warning(
                "%s: %d duplicate sites (same chrom, pos, ref, alt) kept with suffixed names",
                path,
                int(var.index.duplicated().sum()),
            )
        # F-ordered (n_obs, n_sites): each site's genotypes are contiguous, as the workers wrote them
        X = np.empty((n_obs, n_sites), dtype=np.int8, order="F")
        site_major = X.T  # C-contiguous view (n_sites, n_obs)
        offset = 0
        for result in results:
            if result.n_rows == 0:
                continue
            with open(result.rows_path, "rb") as handle:
                handle.readinto(memoryview(site_major[offset : offset + result.n_rows]).cast("B"))
            offset += result.n_rows
            os.remove(result.rows_path)

    n_imputed, var["af"], var["call_rate"] = impute_missing(X, missing, encoding, seed)

    if encoding == "haplotype":
        obs = pd.DataFrame({"sample": np.repeat(order, 2), "haplotype": np.tile([1, 2], len(order))})
        obs.index = [f"{s}_h{h}" for s, h in zip(obs["sample"], obs["haplotype"])]
    else:
        obs = pd.DataFrame({"sample": order}, index=order)
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.var_names_make_unique()
    wanted = list(samples)
    if wanted != order:
        rank = {s: i for i, s in enumerate(wanted)}
        adata = adata[np.argsort([rank[s] for s in adata.obs["sample"]], kind="stable")].copy()
    adata.uns["vcf"] = {
        "contigs": {k: int(v) for k, v in header.contigs.items()},
        "sites_dropped": dropped,
        "genotypes_imputed": int(n_imputed),
        "missing_policy": missing,
    }
    log.info(
        "%s: %d %s x %d sites kept; dropped %s; %d genotypes imputed (%s)",
        path,
        adata.n_obs,
        "haplotypes" if encoding == "haplotype" else "samples",
        adata.n_vars,
        dropped,
        n_imputed,
        missing,
    )
    return adata


def _site_table(results: list[ScanResult]) -> pd.DataFrame:
    """``var`` of the kept sites, in file order, indexed ``chrom:pos:ref:alt``; empties the workers' lists."""
    columns = {}
    for key in ("chrom", "pos", "id", "ref", "alt"):
        columns[key] = list(itertools.chain.from_iterable(r.sites[key] for r in results))
        for r in results:
            r.sites[key] = []
    var = pd.DataFrame(columns)
    var["chrom"] = var["chrom"].astype(str).astype("category")
    var["pos"] = var["pos"].astype(np.int64)
    var.index = pd.Index(
        [f"{c}:{p}:{r}:{a}" for c, p, r, a in zip(columns["chrom"], columns["pos"], columns["ref"], columns["alt"])]
    )
    return var


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
        return any(_in_regions(rec.CHROM, rec.POS, (region,)) for rec in records)
    finally:
        vcf.close()


def impute_missing(X: np.ndarray, policy: str, encoding: str, seed: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Fill ``MISSING`` entries of an int8 genotype matrix in place, site by site.

    Parameters
    ----------
    X
        int8 ``(n_obs, n_sites)``, values 0/1/2 (dosage) or 0/1 (haplotype) and ``-1``.
    policy
        See :func:`read_vcf` (``"drop_site"`` leaves nothing to fill).
    encoding
        ``"dosage"`` or ``"haplotype"``: the number of alleles per entry (2 or 1).
    seed
        Seed of the ``sample_af`` draws; sites are visited in order in blocks.

    Returns
    -------
    n_imputed : int
        Entries filled.
    af, call_rate : numpy.ndarray
        float64 ``(n_sites,)`` alt-allele frequency over called alleles and fraction of
        called entries, both before imputation.
    """
    ploidy = 2 if encoding == "dosage" else 1
    rng = np.random.default_rng(seed)
    n_sites = X.shape[1]
    af = np.zeros(n_sites)
    call_rate = np.zeros(n_sites)
    n_imputed = 0
    for start in range(0, n_sites, BLOCK_SITES):
        block = X[:, start : start + BLOCK_SITES]  # a view: edits go to X
        miss = block == MISSING
        called = (~miss).sum(axis=0)
        total = np.where(miss, 0, block).sum(axis=0, dtype=np.int64)
        p = np.divide(total, ploidy * called, out=np.zeros(block.shape[1]), where=called > 0)
        af[start : start + block.shape[1]] = p
        call_rate[start : start + block.shape[1]] = called / X.shape[0]
        if not miss.any():
            continue
        rows, cols = np.nonzero(miss)
        if policy == "sample_af":
            fill = rng.binomial(ploidy, p[cols])
        elif policy == "mean":
            fill = np.rint(ploidy * p[cols])
        elif policy == "mode":
            counts = np.stack([((block == v) & ~miss).sum(axis=0) for v in range(ploidy + 1)])
            fill = counts.argmax(axis=0)[cols]
        else:
            raise ValueError(f"missing genotypes left under policy {policy!r}")
        block[rows, cols] = fill.astype(np.int8)
        n_imputed += len(rows)
    return n_imputed, af, call_rate


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
