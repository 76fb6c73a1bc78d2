"""BAM/CRAM alignments: checked opening, read filters, binned read depth and pileup channels (pysam).

Coordinates are 0-based half-open internally and in ``var``/``obs`` tables (as BED);
region strings given by users are 1-based inclusive (as samtools).
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from omicsgen.errors import InputError
from omicsgen.io import is_gzip
from omicsgen.regions import Region, parse_region

log = logging.getLogger(__name__)

# SAM flag bits (SAM specification, section 1.4)
FLAGS = {"unmapped": 0x4, "secondary": 0x100, "qcfail": 0x200, "duplicate": 0x400, "supplementary": 0x800}
DEFAULT_EXCLUDE = ("unmapped", "secondary", "qcfail", "duplicate", "supplementary")
PILEUP_CHANNELS = ("A", "C", "G", "T", "del", "ref_A", "ref_C", "ref_G", "ref_T")


@dataclass(frozen=True)
class ReadFilter:
    """Which reads count: minimum MAPQ, flags excluded (a bit mask), proper pairs only or not."""

    min_mapq: int = 20
    exclude_flags: int = sum(FLAGS[f] for f in DEFAULT_EXCLUDE)
    proper_pairs: bool = False

    @classmethod
    def from_names(cls, min_mapq: int, exclude: list[str] | tuple[str, ...], proper_pairs: bool) -> ReadFilter:
        """Build from flag names (:data:`FLAGS`); raises ``InputError`` on an unknown name."""
        unknown = [f for f in exclude if f not in FLAGS]
        if unknown:
            raise InputError(f"unknown read flag {unknown[0]!r}; use some of {sorted(FLAGS)}")
        return cls(min_mapq, sum(FLAGS[f] for f in set(exclude)), proper_pairs)

    def keep(self, read) -> bool:
        """True when a ``pysam.AlignedSegment`` passes the filter."""
        if read.flag & self.exclude_flags or read.mapping_quality < self.min_mapq:
            return False
        return not self.proper_pairs or read.is_proper_pair


@contextmanager
def open_alignments(path: str | os.PathLike, reference: str | os.PathLike | None = None):
    """Open a coordinate-sorted, indexed BAM/CRAM with pysam, checking it first.

    A BAM/CRAM without an index (``.bai``/``.csi``/``.crai``) is indexed into a temporary
    folder for this run (run ``samtools index`` once to skip that).

    Raises
    ------
    InputError
        Missing file, not BAM/CRAM/SAM, CRAM without a reference, a header that says the file
        is not coordinate-sorted, unsorted records found while indexing, or no alignment.
    """
    import pysam

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: alignment file not found; check the dataset's path or sample sheet")
    if path.suffix == ".cram" and reference is None:
        raise InputError(f"{path}: CRAM needs its reference FASTA to decode reads; set the dataset's 'reference'")
    if reference is not None and not Path(reference).exists():
        raise InputError(f"{reference}: reference FASTA not found; check the dataset's 'reference'")
    try:
        probe = pysam.AlignmentFile(str(path), reference_filename=str(reference) if reference else None)
    except (ValueError, OSError) as err:
        raise InputError(f"{path}: not a readable BAM/CRAM ({err}); check it with 'samtools quickcheck'") from err
    order = probe.header.to_dict().get("HD", {}).get("SO")
    is_sam = not (probe.is_bam or probe.is_cram)
    probe.close()
    if order not in (None, "coordinate"):
        raise InputError(f"{path}: not coordinate-sorted (@HD SO:{order}); sort it: samtools sort -o sorted.bam {path}")
    if is_sam:
        raise InputError(
            f"{path}: SAM text (whatever its name) cannot be indexed; convert it into a new file: "
            f"samtools sort -o {path.stem}.sorted.bam {path}"
        )
    with tempfile.TemporaryDirectory(prefix="omicsgen-bam-") as tmp:
        index = _index_of(path)
        if index is None:
            index = os.path.join(tmp, path.name + (".crai" if path.suffix == ".cram" else ".bai"))
            log.info("%s: no index; indexing into a temporary folder (samtools index %s avoids this)", path, path)
            try:
                pysam.index(str(path), index)
            except pysam.utils.SamtoolsError as err:
                log.error("samtools index %s: %s", path, str(err).strip())
                raise InputError(
                    f"{path}: cannot be indexed: its records are not sorted by coordinate (or the file is damaged); "
                    f"sort it: samtools sort -o sorted.bam {path}"
                ) from None
        handle = pysam.AlignmentFile(
            str(path), index_filename=str(index), reference_filename=str(reference) if reference else None
        )
        try:
            if handle.mapped + handle.unmapped == 0 and not any(True for _ in handle.fetch(until_eof=True)):
                raise InputError(f"{path}: no alignment in the file; check that the right file was given")
            yield handle
        finally:
            handle.close()


@contextmanager
def indexed_fasta(reference: str | os.PathLike | None):
    """The FASTA path to hand htslib, with a ``.fai`` index that is never written next to the user's file.

    htslib indexes a FASTA without ``.fai`` by writing one beside it; user inputs must stay
    untouched, so such a FASTA is linked into a temporary folder and indexed there (as
    ``samtools faidx``) for the duration of the ``with`` block. A FASTA with its ``.fai`` (and,
    when bgzipped, ``.gzi``) is used as it is.

    Yields
    ------
    str or None
        Path of the FASTA (or of its link), or None when ``reference`` is None.

    Raises
    ------
    InputError
        Missing FASTA, or one that cannot be indexed (not FASTA, or gzip instead of bgzip).
    """
    import pysam

    if reference is None:
        yield None
        return
    reference = Path(reference)
    if not reference.exists():
        raise InputError(f"{reference}: reference FASTA not found; check the dataset's 'reference'")
    indexes = [Path(f"{reference}.fai")] + ([Path(f"{reference}.gzi")] if is_gzip(reference) else [])
    if all(index.exists() for index in indexes):
        yield str(reference)
        return
    with tempfile.TemporaryDirectory(prefix="omicsgen-fasta-") as tmp:
        link = Path(tmp) / reference.name
        link.symlink_to(reference.resolve())
        try:
            pysam.faidx(str(link))
        except pysam.utils.SamtoolsError as err:
            raise InputError(
                f"{reference}: cannot index the reference FASTA ({str(err).strip()[:200]}); check that it is FASTA, "
                "plain or bgzipped (bgzip, not gzip)"
            ) from None
        log.info(
            "%s: no .fai index; indexed into a temporary folder (samtools faidx %s avoids this)", reference, reference
        )
        yield str(link)


def _index_of(path: Path) -> Path | None:
    for candidate in (f"{path}.bai", f"{path}.csi", f"{path}.crai", path.with_suffix(".bai")):
        if Path(candidate).exists():
            return Path(candidate)
    return None


def contig_lengths(handle) -> dict[str, int]:
    """Contig name -> length (bp) from the BAM/CRAM header."""
    return dict(zip(handle.references, handle.lengths))


def check_reference(
    handle, reference: str | os.PathLike, regions: list[Region], source: str, shown: str | os.PathLike | None = None
) -> None:
    """Raise ``InputError`` when a region's contig is missing from the FASTA or has another length there.

    A different length means the reads were aligned to another assembly (or the FASTA is
    truncated), so reference bases would be misplaced. ``shown`` is the FASTA's name in
    messages (the user's path, where ``reference`` is its link from :func:`indexed_fasta`).
    """
    import pysam

    lengths = contig_lengths(handle)
    with pysam.FastaFile(str(reference)) as fasta:
        fasta_lengths = dict(zip(fasta.references, fasta.lengths))
    reference = shown or reference
    for region in regions:
        if region.chrom not in fasta_lengths:
            raise InputError(
                f"{source}: contig {region.chrom!r} of the alignments is not in {reference} "
                f"(contigs: {', '.join(list(fasta_lengths)[:5])}); use the FASTA the reads were aligned to"
            )
        if fasta_lengths[region.chrom] != lengths[region.chrom]:
            raise InputError(
                f"{source}: contig {region.chrom!r} is {lengths[region.chrom]} bp in the alignments but "
                f"{fasta_lengths[region.chrom]} bp in {reference}; use the FASTA the reads were aligned to"
            )


def parse_regions(texts: list[str] | None, lengths: dict[str, int], source: str) -> list[Region]:
    """Regions (``chrom`` or ``chrom:start-end``, 1-based inclusive) checked against the contigs.

    ``None`` gives every contig. Raises ``InputError`` for an unknown contig or a region
    outside its contig.
    """
    if not texts:
        return [Region(c, 1, n) for c, n in lengths.items()]
    regions = []
    for text in texts:
        region = parse_region(text, lengths, source)
        end = lengths[region.chrom] if region.end is None else region.end
        if end > lengths[region.chrom]:
            raise InputError(
                f"{source}: region {text!r} ends at {end}, beyond contig {region.chrom!r} "
                f"({lengths[region.chrom]} bp); fix 'regions'"
            )
        regions.append(Region(region.chrom, region.start, end))
    return regions


def read_bed(path: str | os.PathLike, lengths: dict[str, int]) -> pd.DataFrame:
    """Bins from a BED file (0-based half-open ``chrom start end``; more columns ignored).

    Raises ``InputError`` for a contig absent from the alignments, a bin beyond its contig, or
    ``start >= end``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: BED file not found; check the dataset's 'bed'")
    bed = pd.read_csv(
        path,
        sep="\t",
        header=None,
        comment="#",
        usecols=[0, 1, 2],
        names=["chrom", "start", "end"],
        dtype={"chrom": str, "start": np.int64, "end": np.int64},
    )
    for line, row in enumerate(bed.itertuples(index=False), start=1):
        if row.chrom not in lengths:
            raise InputError(
                f"{path}: line {line}: contig {row.chrom!r} is not in the alignments' header "
                f"({', '.join(list(lengths)[:5])}, ...); check the naming ('chrM' vs 'MT')"
            )
        if row.start >= row.end or row.end > lengths[row.chrom]:
            raise InputError(
                f"{path}: line {line}: bin {row.chrom}:{row.start}-{row.end} is empty or beyond the contig "
                f"({lengths[row.chrom]} bp)"
            )
    return bed


def tile_bins(regions: list[Region], bin_size: int) -> pd.DataFrame:
    """Consecutive bins of ``bin_size`` bp over each region (the last one shorter); 0-based half-open."""
    rows = []
    for region in regions:
        starts = np.arange(region.start - 1, region.end, bin_size)
        rows.append(
            pd.DataFrame({"chrom": region.chrom, "start": starts, "end": np.minimum(starts + bin_size, region.end)})
        )
    return pd.concat(rows, ignore_index=True)


def _aligned_sum(starts: np.ndarray, ends: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Aligned bases before each position ``x`` of blocks ``[starts, ends)``: sum of ``clip(x - s, 0, e - s)``."""
    s, e = np.sort(starts), np.sort(ends)
    ps, pe = np.r_[0, np.cumsum(s)], np.r_[0, np.cumsum(e)]
    ks, ke = np.searchsorted(s, x, side="left"), np.searchsorted(e, x, side="left")
    return (ks * x - ps[ks]) - (ke * x - pe[ke])


def binned_depth(
    handle, bins: pd.DataFrame, group_of, read_filter: ReadFilter
) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    """Read counts and summed depth per bin and group of reads.

    Parameters
    ----------
    handle
        Open, indexed ``pysam.AlignmentFile``.
    bins
        ``chrom``, ``start``, ``end`` (0-based half-open), with a default ``RangeIndex``.
    group_of
        ``read -> group name``, or ``None`` when the read has no group (then it is counted as
        unassigned, not dropped silently).
    read_filter
        Which reads count.

    Returns
    -------
    groups : list of str
        Group names in order of first appearance (the output rows).
    counts : numpy.ndarray
        int64 ``(n_groups, n_bins)``: reads whose alignment start (leftmost aligned base, 0-based)
        lies in the bin, as ``samtools view -c`` restricted to reads starting in the bin.
    depth_sum : numpy.ndarray
        int64 ``(n_groups, n_bins)``: aligned bases in the bin, deletions and skips not
        counted, as ``samtools bedcov -j``.
    n_unassigned : int
        Reads that passed the filter but had no group.
    """
    per_chrom: dict[str, dict[str, tuple[list, list, list]]] = {}
    order: dict[str, int] = {}
    n_unassigned = 0
    for chrom, chrom_bins in bins.groupby("chrom", sort=False):
        lo, hi = int(chrom_bins["start"].min()), int(chrom_bins["end"].max())
        lists = per_chrom.setdefault(chrom, {})
        for read in handle.fetch(chrom, lo, hi):
            if not read_filter.keep(read):
                continue
            group = group_of(read)
            if group is None:
                n_unassigned += 1
                continue
            order.setdefault(group, len(order))
            read_starts, block_starts, block_ends = lists.setdefault(group, ([], [], []))
            read_starts.append(read.reference_start)
            for s, e in read.get_blocks():
                block_starts.append(s)
                block_ends.append(e)
    groups = list(order)
    counts = np.zeros((len(groups), len(bins)), dtype=np.int64)
    depth = np.zeros_like(counts)
    for chrom, chrom_bins in bins.groupby("chrom", sort=False):
        columns = chrom_bins.index.to_numpy()
        a, b = chrom_bins["start"].to_numpy(), chrom_bins["end"].to_numpy()
        for group, (read_starts, block_starts, block_ends) in per_chrom[chrom].items():
            g = order[group]
            starts = np.sort(np.asarray(read_starts, dtype=np.int64))
            counts[g, columns] = np.searchsorted(starts, b, side="left") - np.searchsorted(starts, a, side="left")
            s, e = np.asarray(block_starts, dtype=np.int64), np.asarray(block_ends, dtype=np.int64)
            depth[g, columns] = _aligned_sum(s, e, b) - _aligned_sum(s, e, a)
    return groups, counts, depth, n_unassigned


def pileup_counts(
    handle, region: Region, reference: str | os.PathLike, read_filter: ReadFilter, min_baseq: int
) -> np.ndarray:
    """Per-position channel counts over a region: A, C, G, T, deletions, and the reference base one-hot.

    A, C, G, T are counted by ``pysam.AlignmentFile.count_coverage`` (bases with quality
    ``>= min_baseq`` of reads that pass ``read_filter``); deletions from the reads' CIGAR
    ``D`` operations; the reference base from the FASTA (``N`` and other codes: all zero).

    Returns
    -------
    numpy.ndarray
        int32 ``(region length, 9)`` in :data:`PILEUP_CHANNELS` order.
    """
    import pysam

    start, end = region.start - 1, region.end
    acgt = handle.count_coverage(region.chrom, start, end, quality_threshold=min_baseq, read_callback=read_filter.keep)
    deletions = np.zeros(end - start + 1, dtype=np.int64)
    for read in handle.fetch(region.chrom, start, end):
        if not read_filter.keep(read):
            continue
        position = read.reference_start
        for op, length in read.cigartuples:
            if op == 2:  # D
                a, b = max(position, start), min(position + length, end)
                if a < b:
                    deletions[a - start] += 1
                    deletions[b - start] -= 1
            if op in (0, 2, 3, 7, 8):  # M, D, N, =, X consume the reference
                position += length
    with pysam.FastaFile(str(reference)) as fasta:
        sequence = np.frombuffer(fasta.fetch(region.chrom, start, end).upper().encode(), dtype="S1")
    out = np.zeros((end - start, len(PILEUP_CHANNELS)), dtype=np.int32)
    out[:, :4] = np.stack([np.asarray(channel) for channel in acgt], axis=1)
    out[:, 4] = np.cumsum(deletions)[:-1]
    for k, base in enumerate(b"ACGT"):
        out[:, 5 + k] = sequence == bytes([base])
    return out
