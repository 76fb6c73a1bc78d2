"""What every genotype reader shares: the site filters, the row files and the int8 matrix they fill.

A reader (VCF/BCF, PLINK, VCF Zarr) decodes blocks of sites into one array layout, the one
cyvcf2 returns, as int8: ``(k_sites, n_samples, 3)`` holding the two alleles (``-1`` missing) and a
phased flag. :func:`keep_block` filters a block (biallelic SNPs were chosen by the reader; call
rate, minor-allele frequency, missing genotypes here), encodes the kept rows as int8 and appends
them to a temporary file; :func:`assemble` reads the row files into one preallocated matrix,
applies the missing-genotype policy and builds the AnnData. Peak memory is the int8 matrix plus
one block per reader, whatever the input format.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omicsgen.errors import InputError, UnphasedError
from omicsgen.genotypes import sample_lister
from omicsgen.regions import Region

log = logging.getLogger(__name__)

ENCODINGS = ("dosage", "haplotype")
MISSING_POLICIES = ("drop_site", "mode", "mean", "sample_af")
MISSING = -1  # int8 code of a missing genotype before the missing-genotype policy is applied
BLOCK_SITES = 4096  # sites decoded together; bounds a reader's memory
BASES = frozenset("ACGT")
SITE_KEYS = ("chrom", "pos", "id", "ref", "alt")
DROP_REASONS = ("not_biallelic_snp", "low_call_rate", "low_maf", "missing_genotype")


ISOLATE_BYTES = 1 << 26  # int8 matrices above 64 MiB are decoded by a worker process (see in_worker)


def in_worker(function, *args, matrix_bytes: int):
    """Run ``function(*args)`` in a child process when the matrix will be large, else here; return its result.

    In the worker, the memory a reader's temporaries leave behind (the variant table, decoded
    blocks, the allocator's freed arenas) goes back to the system before the int8 matrix is
    allocated, so the parent then holds the matrix, the kept sites' annotations and nothing
    else (peak <= 1.3x the matrix, ``benchmarks/vcf_throughput.py``). Below
    :data:`ISOLATE_BYTES` the worker's start-up would cost more than the memory it saves.
    Errors (an :class:`InputError` included) are raised again in the parent.

    Parameters
    ----------
    function, args
        A module-level function and picklable arguments.
    matrix_bytes
        Upper bound of the matrix's size (kept samples x candidate sites x rows per sample).
    """
    if matrix_bytes <= ISOLATE_BYTES:
        return function(*args)
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def read_single_pass(
    path,
    scan,
    source,
    *,
    in_file: list[str],
    n_variants: int,
    file_format: str,
    samples: list[str] | None,
    regions: list[str] | None,
    encoding: str,
    min_maf: float,
    min_call_rate: float,
    missing: str,
    seed: int,
    tmp_dir,
):
    """The read of the PLINK and VCF Zarr readers: one ``scan`` over the file, then :func:`assemble`.

    Parameters
    ----------
    path
        The input as the user named it (in errors and ``uns``).
    scan
        Module-level ``scan(source, filt, regions, in_file, rows_path) -> (ScanResult, contigs)``,
        run by :func:`in_worker`.
    source
        What ``scan`` opens (the fileset's paths, the store's path).
    in_file
        The file's sample IDs, in file order.
    n_variants
        Variants in the file (bounds the matrix's size).
    file_format
        ``"bed"``, ``"pgen"`` or ``"vcz"``.
    samples, regions, encoding, min_maf, min_call_rate, missing, seed, tmp_dir
        See :func:`omicsgen.genotypes.vcf.read_vcf`; errors are those of ``scan`` and :func:`assemble`.
    """
    order, samples = sample_order(path, in_file, samples)
    filt = SiteFilter(str(path), tuple(order), encoding, min_maf, min_call_rate, missing, seed)
    size = len(order) * n_variants * (2 if encoding == "haplotype" else 1)
    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix=f"omicsgen-{file_format}-") as tmp:
        task = (source, filt, tuple(regions or ()), tuple(in_file), os.path.join(tmp, "rows.int8"))
        result, contigs = in_worker(scan, *task, matrix_bytes=size)
        return assemble(filt, [result], samples=samples, contigs=contigs, file_format=file_format)


def is_biallelic_snp(ref: str, alt: str) -> bool:
    """True for one REF and one ALT base among A, C, G, T (``alt`` holds one allele, no comma)."""
    return len(ref) == 1 and len(alt) == 1 and ref in BASES and alt in BASES


def check_options(path, encoding: str, missing: str) -> None:
    """Raise :class:`InputError` for an unknown ``encoding`` or missing-genotype policy."""
    if encoding not in ENCODINGS:
        raise InputError(f"{path}: encoding {encoding!r} is not one of {ENCODINGS}")
    if missing not in MISSING_POLICIES:
        raise InputError(f"{path}: missing-genotype policy {missing!r} is not one of {MISSING_POLICIES}")


def sample_order(path, in_file: list[str], samples: list[str] | None) -> tuple[list[str], list[str]]:
    """The requested samples in file order, and in the order wanted.

    Parameters
    ----------
    path
        Input named in errors.
    in_file
        The file's sample IDs, in file order.
    samples
        IDs wanted, in the order wanted; ``None`` for all.

    Raises
    ------
    InputError
        A requested sample absent from the file.
    """
    if samples is None:
        return list(in_file), list(in_file)
    present = set(in_file)
    absent = [s for s in samples if s not in present]
    if absent:
        raise InputError(
            f"{path}: {len(absent)} requested samples are not in the file (first: {', '.join(absent[:5])}); "
            f"fix the sample sheet or list the file's samples with '{sample_lister(path)}'"
        )
    wanted = set(samples)
    return [s for s in in_file if s in wanted], list(samples)


@dataclass(frozen=True)
class SiteFilter:
    """The filters and encoding of one read: plink's ``--geno``/``--maf`` and the missing-genotype policy."""

    path: str
    samples: tuple[str, ...]  # the kept samples, in the order of the decoded blocks' columns
    encoding: str
    min_maf: float
    min_call_rate: float
    missing: str  # the missing-genotype policy
    seed: int  # of the "sample_af" draws

    @property
    def drop_missing(self) -> bool:
        """Whether a missing call drops its site (the ``"drop_site"`` policy)."""
        return self.missing == "drop_site"


@dataclass
class ScanResult:
    """What one reader kept: rows in a temporary file, their site annotations and drop counts."""

    rows_path: str
    n_rows: int = 0
    sites: dict[str, list] = field(default_factory=lambda: {k: [] for k in SITE_KEYS})
    n_heterozygous: int = 0  # heterozygous calls at the kept sites
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))


class SortCheck:
    """Raises :class:`InputError` at the first site out of position order.

    A genotype file must be sorted (sites of a contig together, positions non-decreasing within
    it) for an index, region queries and the LD metrics, which pair neighbouring sites; an
    unsorted file is stopped while it is read, with the command that fixes it.
    """

    def __init__(self, path: str, fix: str | None = None):
        self.path = path
        self.fix = fix or (
            f"bcftools sort -Oz -o sorted.vcf.gz {path} && bcftools index sorted.vcf.gz"  # VCF/BCF
        )
        self.chrom: str | None = None
        self.pos = 0
        self.done: set[str] = set()

    def check(self, chrom: str, pos: int) -> None:
        """Check the next site's contig and 1-based position (bp)."""
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
        raise InputError(f"{self.path}: not sorted by position: {what}; sort it into a new file: {self.fix}")


def in_regions(chrom: str, pos: int, regions: tuple[Region, ...]) -> bool:
    """Whether a site (contig, 1-based position in bp) lies in any of ``regions``."""
    return any(r.chrom == chrom and r.start <= pos and (r.end is None or pos <= r.end) for r in regions)


def region_mask(chrom: np.ndarray, pos: np.ndarray, regions: list[Region]) -> np.ndarray:
    """bool ``(n_sites,)``: sites in any region (all sites when ``regions`` is empty)."""
    if not regions:
        return np.ones(len(pos), dtype=bool)
    mask = np.zeros(len(pos), dtype=bool)
    for r in regions:
        mask |= (chrom == r.chrom) & (pos >= r.start) & (pos <= (r.end if r.end is not None else np.inf))
    return mask


def calls_from_dosage(dosage: np.ndarray) -> np.ndarray:
    """Unphased dosages int ``(k, n)`` (0/1/2, negative = missing) -> the block layout ``(k, n, 3)``."""
    calls = np.zeros((*dosage.shape, 3), dtype=np.int8)
    calls[..., 0] = dosage >= 1
    calls[..., 1] = dosage == 2
    calls[dosage < 0, :2] = -1
    return calls


def keep_block(filt: SiteFilter, calls: np.ndarray, sites: list[tuple], result: ScanResult, out) -> None:
    """Filter a block of decoded sites and append the kept int8 rows to ``out``.

    Parameters
    ----------
    filt
        Filters and encoding.
    calls
        int8 ``(k, n_samples, 3)``: allele 1, allele 2 (0 REF, 1 ALT, ``-1`` missing) and the
        phased flag, of biallelic SNPs.
    sites
        ``k`` tuples ``(chrom, pos, id, ref, alt)``.
    result
        Receives the kept sites and the drop counts.
    out
        Binary file the kept rows (int8, one row of ``n_samples`` or ``2 * n_samples`` values
        per site) are appended to.

    Raises
    ------
    UnphasedError
        An unphased heterozygous call with ``encoding="haplotype"``.
    """
    dropped = result.dropped
    first, second = calls[:, :, 0].astype(np.int8), calls[:, :, 1].astype(np.int8)
    missing = (first < 0) | (second < 0)  # (k, n)
    dosage = first + second
    dosage[missing] = 0
    called = calls.shape[1] - missing.sum(axis=1)
    call_rate = called / calls.shape[1]
    af = np.divide(dosage.sum(axis=1, dtype=np.int64), 2 * called, out=np.zeros(len(sites)), where=called > 0)
    maf = np.minimum(af, 1 - af)
    drop_missing = missing.any(axis=1) if filt.drop_missing else np.zeros(len(sites), dtype=bool)
    low_call = ~drop_missing & (call_rate < filt.min_call_rate)
    low_maf = ~drop_missing & ~low_call & ((maf < filt.min_maf) | (called == 0))
    keep = ~(drop_missing | low_call | low_maf)
    dropped["missing_genotype"] += int(drop_missing.sum())
    dropped["low_call_rate"] += int(low_call.sum())
    dropped["low_maf"] += int(low_maf.sum())
    if not keep.any():
        return
    kept = np.flatnonzero(keep)
    result.n_heterozygous += int(((first[kept] != second[kept]) & ~missing[kept]).sum())
    if filt.encoding == "haplotype":
        phased = calls[kept, :, 2].astype(bool) | missing[kept] | (first[kept] == second[kept])
        if not phased.all():
            site, sample = np.argwhere(~phased)[0]
            chrom, pos = sites[kept[site]][:2]
            raise UnphasedError(
                f"{filt.path}: record {chrom}:{pos}, sample {filt.samples[sample]!r} has an unphased genotype "
                "but encoding 'haplotype' needs phased data; set phase: beagle (a VCF/BCF), phase the file yourself "
                "(Beagle, SHAPEIT, Eagle) or set encoding: dosage"
            )
        rows = np.stack([first[kept], second[kept]], axis=2).reshape(len(kept), -1)  # s0h1, s0h2, s1h1, ...
        rows[rows < 0] = MISSING
    else:
        rows = dosage[kept]
        rows[missing[kept]] = MISSING
    out.write(np.ascontiguousarray(rows, dtype=np.int8).tobytes())
    result.n_rows += len(kept)
    for i in kept:
        for key, value in zip(SITE_KEYS, sites[i]):
            result.sites[key].append(value)


def assemble(
    filt: SiteFilter,
    results: list[ScanResult],
    *,
    samples: list[str],
    contigs: dict[str, int],
    file_format: str,
):
    """Read the readers' row files into one int8 matrix, impute missing calls and build the AnnData.

    Parameters
    ----------
    filt
        The read's filters: its ``path`` (named in errors and logs), ``samples`` (the order of
        the rows' columns), ``encoding``, ``missing`` policy and ``seed``.
    results
        The readers' results, in site order; their row files are deleted once read.
    samples
        Sample IDs in the order wanted.
    contigs
        Contig name -> length (bp, 0 when unknown), kept in ``uns["vcf"]`` for writing back.
    file_format
        ``"vcf"``, ``"bed"``, ``"pgen"`` or ``"vcz"``, kept in ``uns["vcf"]["format"]``.

    Returns
    -------
    anndata.AnnData
        See :func:`omicsgen.genotypes.read_genotypes`.

    Raises
    ------
    InputError
        No site left after the filters.
    """
    import anndata as ad

    path, order, encoding, missing = filt.path, list(filt.samples), filt.encoding, filt.missing
    dropped = {k: sum(r.dropped[k] for r in results) for k in DROP_REASONS}
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
    # F-ordered (n_obs, n_sites): each site's genotypes are contiguous, as the readers wrote them
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

    n_imputed, var["af"], var["call_rate"] = impute_missing(X, missing, encoding, filt.seed)

    if encoding == "haplotype":
        obs = pd.DataFrame({"sample": np.repeat(order, 2), "haplotype": np.tile([1, 2], len(order))})
        obs.index = [f"{s}_h{h}" for s, h in zip(obs["sample"], obs["haplotype"])]
    else:
        obs = pd.DataFrame({"sample": order}, index=order)
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.var_names_make_unique()
    if list(samples) != list(order):
        rank = {s: i for i, s in enumerate(samples)}
        adata = adata[np.argsort([rank[s] for s in adata.obs["sample"]], kind="stable")].copy()
    adata.uns["vcf"] = {
        "format": file_format,
        "encoding": encoding,
        "contigs": {k: int(v) for k, v in contigs.items()},
        "sites_dropped": dropped,
        "genotypes_imputed": int(n_imputed),
        "heterozygous_calls": sum(r.n_heterozygous for r in results),
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
    """``var`` of the kept sites, in file order, indexed ``chrom:pos:ref:alt``; empties the readers' lists."""
    columns = {}
    for key in SITE_KEYS:
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


def impute_missing(X: np.ndarray, policy: str, encoding: str, seed: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Fill ``MISSING`` entries of an int8 genotype matrix in place, site by site.

    Parameters
    ----------
    X
        int8 ``(n_obs, n_sites)``, values 0/1/2 (dosage) or 0/1 (haplotype) and ``-1``.
    policy
        See :func:`omicsgen.genotypes.read_genotypes` (``"drop_site"`` leaves nothing to fill).
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
